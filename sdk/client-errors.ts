/**
 * Typed errors the client throws, one class per error family, all `ModelplaneError`s so callers can
 * switch on `code` or use `instanceof`. Built from the engine's error body (same codes, same
 * messages) or from a transport failure.
 */
import { ModelplaneError, type ErrorBody, type ErrorCode, type ErrorDetails, type FieldError } from "./errors.js";

export class ValidationError extends ModelplaneError {
  /** every failing field with its dotted path and rule */
  get fields(): FieldError[] {
    const fields = (this.details as { fields?: FieldError[] }).fields;
    return Array.isArray(fields) ? fields : [];
  }
}
export class AuthError extends ModelplaneError {}
export class NotFoundError extends ModelplaneError {}
export class ConflictError extends ModelplaneError {}
/** The engine could not be reached, or answered 503 (starting, shutting down). Retried for idempotent calls. */
export class EngineUnavailableError extends ModelplaneError {}
export class TimeoutError extends ModelplaneError {}

const classByCode: Partial<Record<ErrorCode, new (code: ErrorCode, message: string, details?: ErrorDetails, options?: { cause?: unknown }) => ModelplaneError>> = {
  VALIDATION_FAILED: ValidationError,
  MALFORMED_REQUEST: ValidationError,
  PAYLOAD_TOO_LARGE: ValidationError,
  UNSUPPORTED_MEDIA_TYPE: ValidationError,
  UNAUTHORIZED: AuthError,
  FORBIDDEN: AuthError,
  NOT_FOUND: NotFoundError,
  CONFLICT: ConflictError,
  ENGINE_UNAVAILABLE: EngineUnavailableError,
  TIMEOUT: TimeoutError,
};

/** The typed error for an engine error body. */
export function errorFromBody(body: ErrorBody): ModelplaneError {
  const ErrorClass = classByCode[body.error.code] ?? ModelplaneError;
  return new ErrorClass(body.error.code, body.error.message, body.error.details);
}

/** The typed error for a response that is not a modelplane error body (a proxy in between, a crash). */
export function errorFromStatus(status: number, text: string): ModelplaneError {
  const code: ErrorCode =
    status === 400 ? "VALIDATION_FAILED"
    : status === 401 ? "UNAUTHORIZED"
    : status === 403 ? "FORBIDDEN"
    : status === 404 ? "NOT_FOUND"
    : status === 409 ? "CONFLICT"
    : status === 502 || status === 503 ? "ENGINE_UNAVAILABLE"
    : status === 504 ? "TIMEOUT"
    : "INTERNAL";
  const ErrorClass = classByCode[code] ?? ModelplaneError;
  return new ErrorClass(code, `engine answered ${status}: ${text.slice(0, 500)}`, { status });
}
