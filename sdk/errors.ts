import { z } from "zod";

/**
 * Stable error codes shared by the engine (error bodies), the client (error classes) and the
 * provider (messages). One table: a code never changes its meaning or its HTTP status.
 */
export const ERROR_HTTP_STATUS = {
  /** body, path or header failed validation; details.fields lists every failing field */
  VALIDATION_FAILED: 400,
  /** body is not JSON, or not an object */
  MALFORMED_REQUEST: 400,
  /** missing, wrong or revoked `Authorization: Api-Key …` (or `Bearer …`) */
  UNAUTHORIZED: 401,
  /** a valid key whose scope does not cover this route, model, environment or deployment */
  FORBIDDEN: 403,
  /** unknown path, or the object does not exist (or was deleted) */
  NOT_FOUND: 404,
  /** the path exists but not with this method */
  METHOD_NOT_ALLOWED: 405,
  /** the request contradicts current state: name taken, promotion in progress, production rules */
  CONFLICT: 409,
  /** body larger than the 1 MiB limit */
  PAYLOAD_TOO_LARGE: 413,
  /** unsupported Content-Type for a body */
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** a bug in the engine; the message says what failed */
  INTERNAL: 500,
  /** route exists in the contract but this engine does not implement it yet */
  NOT_IMPLEMENTED: 501,
  /** engine not reachable, starting up or shutting down (also used by the client for network errors) */
  ENGINE_UNAVAILABLE: 503,
  /** the client gave up waiting (request or promotion wait timeout) */
  TIMEOUT: 504,
  /** data plane: the deployment's replica failed before answering, or sent an invalid response */
  BAD_GATEWAY: 502,
  /** data plane: the deployment cannot serve now (failing, no ready replica in time, engine shutting down) */
  UNAVAILABLE: 503,
  /** data plane: the replica did not answer in time */
  GATEWAY_TIMEOUT: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_HTTP_STATUS;
export const ERROR_CODES = Object.keys(ERROR_HTTP_STATUS) as ErrorCode[];

/** One failing input field: dotted path (`rolling_deploy_config.max_surge_percent`, `command[0]`). */
export const FieldError = z.object({
  path: z.string().max(1000),
  /** machine-readable rule: zod issue code or a named rule such as `exactly_one_of_…` */
  rule: z.string().max(200),
  message: z.string().max(2000),
});
export type FieldError = z.infer<typeof FieldError>;

/** `{"error": {"code", "message", "details"}}` — the only error shape the API returns. */
export const ErrorBody = z.object({
  error: z.object({
    code: z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]),
    message: z.string().max(10_000),
    details: z.record(z.string(), z.unknown()),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

export type ErrorDetails = Record<string, unknown>;

/** The error every modelplane layer throws and understands. */
export class ModelplaneError extends Error {
  override readonly name = "ModelplaneError";
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = ERROR_HTTP_STATUS[code];
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }

  static fromBody(body: ErrorBody): ModelplaneError {
    return new ModelplaneError(body.error.code, body.error.message, body.error.details);
  }
}

export function isModelplaneError(value: unknown): value is ModelplaneError {
  return value instanceof ModelplaneError;
}

/** `["rolling_deploy_config", "max_surge_percent"]` → `rolling_deploy_config.max_surge_percent`; indices as `[0]`. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

function ruleOf(issue: z.core.$ZodIssue): string {
  if (issue.code === "custom") {
    const rule = (issue.params as { rule?: unknown } | undefined)?.rule;
    if (typeof rule === "string") return rule;
  }
  if (issue.code === "too_big") return `too_big:${String(issue.maximum)}`;
  if (issue.code === "too_small") return `too_small:${String(issue.minimum)}`;
  if (issue.code === "invalid_format") return `invalid_format:${issue.format}`;
  return issue.code;
}

/**
 * Flatten a ZodError into field errors, one per failing field. Unknown keys become one entry per
 * key, with the key in the path, so the message names the field that is not accepted.
 */
export function zodErrorToFieldErrors(error: z.ZodError, pathPrefix: readonly PropertyKey[] = []): FieldError[] {
  const fields: FieldError[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        fields.push({
          path: formatFieldPath([...pathPrefix, ...issue.path, key]),
          rule: "unrecognized_key",
          message: `unknown field '${key}'`,
        });
      }
      continue;
    }
    if (issue.code === "invalid_key" && issue.issues.length > 0) {
      // a record key that breaks its rule: say which rule, not just "Invalid key in record"
      for (const inner of issue.issues) {
        fields.push({ path: formatFieldPath([...pathPrefix, ...issue.path]), rule: ruleOf(inner), message: `key '${String(issue.path.at(-1))}': ${inner.message}` });
      }
      continue;
    }
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      // report the first alternative's failures: a union of alternatives is rarely helpful to list
      const first = issue.errors[0] ?? [];
      for (const inner of first) {
        fields.push({
          path: formatFieldPath([...pathPrefix, ...issue.path, ...inner.path]),
          rule: ruleOf(inner),
          message: inner.message,
        });
      }
      continue;
    }
    fields.push({ path: formatFieldPath([...pathPrefix, ...issue.path]), rule: ruleOf(issue), message: issue.message });
  }
  return fields;
}

/** `details` of a VALIDATION_FAILED error, as the API sends it and the provider's check() reports it. */
export function zodErrorToDetails(error: z.ZodError, pathPrefix: readonly PropertyKey[] = []): { fields: FieldError[] } {
  return { fields: zodErrorToFieldErrors(error, pathPrefix) };
}

/** One-line summary: `name: too_big… ; command: …` for error messages and provider check failures. */
export function summarizeFieldErrors(fields: readonly FieldError[]): string {
  return fields.map((field) => `${field.path || "(body)"}: ${field.message}`).join("; ");
}

/** Build the VALIDATION_FAILED error for a ZodError; `where` says what was validated ("body", "path"). */
export function validationError(error: z.ZodError, where: string, pathPrefix: readonly PropertyKey[] = []): ModelplaneError {
  const details = zodErrorToDetails(error, pathPrefix);
  return new ModelplaneError("VALIDATION_FAILED", `invalid ${where}: ${summarizeFieldErrors(details.fields)}`, details);
}
