import { z } from "zod";

/**
 * Building blocks shared by every API object. Limits are generous but finite: every string the
 * API accepts has a maximum length so one request cannot make the store or a log line huge.
 */

/** Opaque object id minted by the engine (`mdl_…`, `dep_…`). Clients never build them. */
export const ObjectId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, '_' and '-' only");

/** RFC 3339 timestamp in UTC, as the engine writes it (`Date.prototype.toISOString`). */
export const Timestamp = z.string().max(40);

/**
 * DNS-label style name, used for environments and deployments so they can appear in URLs and
 * Kubernetes object names unchanged: lowercase letters, digits and '-', 1–63 characters.
 */
export const DnsLabelName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9-]+$/, "lowercase letters, digits and '-' only, 1-63 characters");

/** Display name of a model or a named promotion settings object. */
export const DisplayName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, "starts with a letter or digit; then letters, digits, ' ', '.', '_', '-'");

/** Text that reaches a process or the database: argv and environment strings end at NUL (execve),
 * and PostgreSQL text cannot hold 0x00, so a NUL is a 400 here rather than a failure later. */
export const withoutNul = <T extends z.ZodString>(schema: T) =>
  schema.refine((value) => !value.includes("\0"), { message: "must not contain NUL (\\u0000) characters", params: { rule: "no_nul" } });

const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/;
/** A path or a name with no control characters at all (C0, DEL): nothing legitimate has them. */
export const withoutControlCharacters = <T extends z.ZodString>(schema: T) =>
  schema.refine((value) => !CONTROL_CHARACTER.test(value), {
    message: "must not contain control characters (U+0000-U+001F, U+007F)",
    params: { rule: "no_control_characters" },
  });

/** Body of every DELETE: the id of what was deleted. */
export const DeletedResponse = z.object({
  id: z.string().max(200),
  deleted: z.literal(true),
});
export type DeletedResponse = z.infer<typeof DeletedResponse>;

/** Body of POSTs that take no input (activate, pause_promotion …): nothing, or `{}`. */
export const EmptyBody = z.object({}).strict();
export type EmptyBody = z.infer<typeof EmptyBody>;

/**
 * Names of environment variables given to replicas (deployment `env`, environment variables):
 * shell-style. PORT, ENVIRONMENT and MODELPLANE_* are set by the engine and cannot be overridden.
 */
export const VariableName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Z_][A-Z0-9_]*$/, "uppercase letters, digits and '_', not starting with a digit")
  .refine((name) => name !== "PORT" && name !== "ENVIRONMENT" && !name.startsWith("MODELPLANE_"), {
    message: "PORT, ENVIRONMENT and MODELPLANE_* are set by the engine",
    params: { rule: "reserved_name" },
  });

/**
 * Parameters for cross-field checks so they run even when another field already failed (the API
 * reports every failing field at once) — but only on an object: a missing or non-object body has
 * nothing to cross-check. The checks guard their fields' types themselves.
 */
export const ALWAYS_CHECK = {
  when: (payload: { value: unknown }) => typeof payload.value === "object" && payload.value !== null,
} as const;
