import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The engine's API key: the explicit option, else MODELPLANE_API_KEY, else `<data-dir>/api-key`,
 * generated on first start (mode 0600). `generated` tells the caller to print it once.
 */
export function resolveApiKey(options: { apiKey?: string; dataDir: string; env?: NodeJS.ProcessEnv }): {
  apiKey: string;
  source: "option" | "environment" | "file" | "generated";
} {
  if (options.apiKey) return { apiKey: options.apiKey, source: "option" };
  const fromEnv = (options.env ?? process.env).MODELPLANE_API_KEY;
  if (fromEnv) return { apiKey: fromEnv, source: "environment" };
  const path = join(options.dataDir, "api-key");
  try {
    const stored = readFileSync(path, "utf8").trim();
    if (stored) return { apiKey: stored, source: "file" };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  // 32 random bytes, URL-safe: fits an HTTP header without escaping
  const apiKey = `mp_${randomBytes(32).toString("base64url")}`;
  writeFileSync(path, `${apiKey}\n`, { mode: 0o600, flag: "wx" });
  return { apiKey, source: "generated" };
}
