import { STATUS_CODES, type ServerResponse } from "node:http";

/** Stable codes of data-plane errors, in the engine's JSON error shape. */
export type DataPlaneErrorCode = "NOT_FOUND" | "METHOD_NOT_ALLOWED" | "UNAVAILABLE" | "BAD_GATEWAY" | "GATEWAY_TIMEOUT";

function errorBody(code: DataPlaneErrorCode, message: string): string {
  return JSON.stringify({ error: { code, message, details: {} } });
}

/** Writes `{"error": {"code", "message", "details"}}`, unless the client is already gone. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: DataPlaneErrorCode,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = errorBody(code, message);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** The same error as a whole raw HTTP/1.1 response, for the fast path's own sockets. `fields`
 * are extra `name: value\r\n` lines. */
export function rawErrorResponse(status: number, code: DataPlaneErrorCode, message: string, fields: string): Buffer {
  const body = errorBody(code, message);
  return Buffer.from(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${fields}\r\n${body}`,
  );
}
