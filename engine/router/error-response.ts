import { STATUS_CODES, type ServerResponse } from "node:http";
import { ERROR_HTTP_STATUS, type ErrorCode } from "../../sdk/errors.js";

/** Data-plane errors use the API's one vocabulary (sdk/errors.ts): the code decides the status. */
export type DataPlaneErrorCode = ErrorCode;

function errorBody(code: DataPlaneErrorCode, message: string): string {
  return JSON.stringify({ error: { code, message, details: {} } });
}

/** Writes `{"error": {"code", "message", "details"}}`, unless the client is already gone. */
export function sendError(
  res: ServerResponse,
  code: DataPlaneErrorCode,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = errorBody(code, message);
  res.writeHead(ERROR_HTTP_STATUS[code], {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** The same error as a whole raw HTTP/1.1 response, for the fast path's own sockets. `fields`
 * are extra `name: value\r\n` lines. */
export function rawErrorResponse(code: DataPlaneErrorCode, message: string, fields: string): Buffer {
  const body = errorBody(code, message);
  const status = ERROR_HTTP_STATUS[code];
  return Buffer.from(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${fields}\r\n${body}`,
  );
}
