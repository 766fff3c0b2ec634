import { ModelplaneError, type ErrorCode, type ErrorDetails } from "../sdk/errors.js";

/**
 * Engine-side constructors for the shared `ModelplaneError`: messages say what is wrong and what
 * to do about it, because they reach users verbatim (API body, client error, `pulumi up` output).
 */
export { ModelplaneError, isModelplaneError } from "../sdk/errors.js";
export type { ErrorCode, ErrorDetails } from "../sdk/errors.js";

export function notFound(message: string, details: ErrorDetails = {}): ModelplaneError {
  return new ModelplaneError("NOT_FOUND", message, details);
}

export function conflict(message: string, details: ErrorDetails = {}): ModelplaneError {
  return new ModelplaneError("CONFLICT", message, details);
}

export function notImplemented(message: string): ModelplaneError {
  return new ModelplaneError("NOT_IMPLEMENTED", message);
}

/** A rule on one input field that only the engine can check (e.g. after merging a patch). */
export function invalidField(path: string, rule: string, message: string): ModelplaneError {
  return new ModelplaneError("VALIDATION_FAILED", `invalid body: ${path}: ${message}`, {
    fields: [{ path, rule, message }],
  });
}

export function engineError(code: ErrorCode, message: string, details: ErrorDetails = {}): ModelplaneError {
  return new ModelplaneError(code, message, details);
}
