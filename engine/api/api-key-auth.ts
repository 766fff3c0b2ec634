import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/**
 * `Authorization: Api-Key KEY`, compared in constant time. Both sides are hashed first so the
 * comparison does not leak the key's length either.
 */
export function createApiKeyCheck(apiKey: string): (headers: IncomingHttpHeaders) => boolean {
  const expected = createHash("sha256").update(apiKey).digest();
  return (headers) => {
    const header = headers.authorization;
    if (typeof header !== "string") return false;
    const match = /^Api-Key\s+(\S+)\s*$/i.exec(header);
    if (!match) return false;
    const given = createHash("sha256").update(match[1]!).digest();
    return timingSafeEqual(given, expected);
  };
}
