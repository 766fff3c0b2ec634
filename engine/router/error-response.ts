import type { ServerResponse } from "node:http";

/** Stable codes of data-plane errors, in the engine's JSON error shape. */
export type DataPlaneErrorCode = "NOT_FOUND" | "METHOD_NOT_ALLOWED" | "UNAVAILABLE" | "BAD_GATEWAY";

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
  const body = JSON.stringify({ error: { code, message, details: {} } });
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}
