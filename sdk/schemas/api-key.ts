import { z } from "zod";
import { ALWAYS_CHECK, DnsLabelName, ObjectId, Timestamp } from "./common.js";

/**
 * What a key may do:
 * - `admin`: everything (the management API and every predict route), as the engine's bootstrap key;
 * - `inference`: the four predict routes only, optionally limited to some models and/or some
 *   environments (by name);
 * - `metrics`: `GET /metrics` (the Prometheus export) only; predict and the management API are 403.
 */
export const API_KEY_SCOPES = ["admin", "inference", "metrics"] as const;
export const ApiKeyScope = z.enum(API_KEY_SCOPES);
export type ApiKeyScope = z.infer<typeof ApiKeyScope>;

/** A key's label, unique among live keys so `modelplane keys revoke NAME` names one. */
export const ApiKeyName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "starts with a letter or digit; then letters, digits, '.', '_', '-'");

/** An API key as listed: never its secret, only the first characters to recognise it by. */
export const ApiKey = z.object({
  id: ObjectId,
  name: ApiKeyName,
  scope: ApiKeyScope,
  /** inference keys: the models it may call; null = every model */
  model_ids: z.array(ObjectId).max(100).nullable(),
  /**
   * inference keys: the environments it may call, by name; null = every environment. A key
   * limited to environments cannot call the per-deployment or development endpoints (they serve
   * outside any environment, and a deployment id would otherwise reach past the limit).
   */
  environment_names: z.array(DnsLabelName).max(100).nullable(),
  /** the secret's first characters (`mpk_` + 8), to tell keys apart; not enough to use it */
  prefix: z.string().max(32),
  created_at: Timestamp,
  /** when a request last used it (to within the engine's resync period), null if never */
  last_used_at: Timestamp.nullable(),
});
export type ApiKey = z.infer<typeof ApiKey>;

/** POST /v1/api_keys answers the key with its secret, the only time the secret is shown. */
export const CreatedApiKey = ApiKey.extend({
  /** the secret: send it as `Authorization: Api-Key <key>` (or `Bearer <key>`); stored hashed */
  key: z.string().max(200),
});
export type CreatedApiKey = z.infer<typeof CreatedApiKey>;

/** POST /v1/api_keys */
export const CreateApiKeyBody = z
  .object({
    name: ApiKeyName,
    scope: ApiKeyScope.default("inference"),
    model_ids: z.array(ObjectId).min(1).max(100).optional(),
    environment_names: z.array(DnsLabelName).min(1).max(100).optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    const scope = (body as { scope?: unknown }).scope ?? "inference";
    if (scope === "inference") return;
    for (const field of ["model_ids", "environment_names"] as const) {
      if ((body as Record<string, unknown>)[field] === undefined) continue;
      ctx.addIssue({
        code: "custom",
        path: [field],
        message: `only inference keys can be limited to ${field === "model_ids" ? "models" : "environments"}; a ${String(scope)} key is not`,
        params: { rule: "inference_only" },
      });
    }
  }, ALWAYS_CHECK);
export type CreateApiKeyBody = z.infer<typeof CreateApiKeyBody>;

export const ApiKeyList = z.object({ api_keys: z.array(ApiKey) });
export type ApiKeyList = z.infer<typeof ApiKeyList>;
