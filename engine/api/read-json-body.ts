import type { IncomingMessage } from "node:http";
import { ModelplaneError } from "../../sdk/errors.js";

/** 1 MiB: far above any real body (a deployment with 100 env vars), small enough to refuse floods. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** No body at all: distinct from `null`, which is JSON. */
export const NO_BODY = Symbol("no body");

/** Read and parse a JSON body; 413 past the limit, 400 naming the parse problem. */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
    req.resume(); // drain so the connection can answer
    throw new ModelplaneError("PAYLOAD_TOO_LARGE", `request body of ${declared} bytes exceeds the limit of ${MAX_BODY_BYTES}`);
  }
  // Neither Content-Length nor Transfer-Encoding: no body (RFC 9112 §6.3), as on nearly every GET.
  // Not read through the stream's async iterator, whose objects (~1.4 KB a request) outlived enough
  // young collections under load to be promoted: bench/scale's heap sampling profile.
  if (req.headers["transfer-encoding"] === undefined && (req.headers["content-length"] === undefined || declared === 0)) {
    return NO_BODY;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      req.resume();
      throw new ModelplaneError("PAYLOAD_TOO_LARGE", `request body exceeds the limit of ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return NO_BODY;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ModelplaneError("MALFORMED_REQUEST", `request body is not valid JSON: ${(error as Error).message}`);
  }
}
