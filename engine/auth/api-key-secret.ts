import { hash, randomBytes } from "node:crypto";

/** Every key the engine mints starts with this, so a leaked one is recognisable (secret scanners). */
export const API_KEY_PREFIX = "mpk_";

/** A new secret: `mpk_` + 32 random bytes, URL-safe (fits a header without escaping). 256 bits:
 * a plain sha256 is enough to store it, there is nothing to brute-force. */
export function newApiKeySecret(): { key: string; prefix: string; keyHash: string } {
  const key = `${API_KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
  return { key, prefix: key.slice(0, API_KEY_PREFIX.length + 8), keyHash: hashApiKey(key) };
}

/** How a key is stored and looked up: hex sha256 (one-shot `crypto.hash`, ~0.5 µs for a key). */
export function hashApiKey(key: string): string {
  return hash("sha256", key, "hex");
}
