import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateSecretKey, parseSecretKeyring, SecretKeyError, type SecretKeyring } from "./secret-keyring.js";

/** `<data-dir>/secret-key`: the keyring when none is given, one key per line, the first current. */
export const SECRET_KEY_FILE = "secret-key";

export interface ResolvedKeyring {
  keyring: SecretKeyring;
  source: "option" | "environment" | "file" | "generated";
  /** the file, for "file" and "generated" */
  path?: string;
}

/**
 * The data keys of the secrets: the given keyring text (serve's --secret-key-file or
 * MODELPLANE_SECRET_KEY, read and removed from the environment by serve), else
 * MODELPLANE_SECRET_KEY, else `<data-dir>/secret-key`, created (0600) with a random key on first
 * start.
 */
export function resolveSecretKeyring(options: { secretKey?: string; dataDir: string; env?: NodeJS.ProcessEnv }): ResolvedKeyring {
  if (options.secretKey !== undefined) return { keyring: parseSecretKeyring(options.secretKey, "the secret key given"), source: "option" };
  const fromEnv = (options.env ?? process.env).MODELPLANE_SECRET_KEY;
  if (fromEnv) return { keyring: parseSecretKeyring(fromEnv, "MODELPLANE_SECRET_KEY"), source: "environment" };
  const path = join(options.dataDir, SECRET_KEY_FILE);
  const stored = readKeyFile(path);
  if (stored !== undefined) return { keyring: parseSecretKeyring(stored, path), source: "file", path };
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, `${generateSecretKey()}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    // another engine starting on the same dir wrote it first (the data-dir lock is taken later)
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return { keyring: parseSecretKeyring(readKeyFile(path) ?? "", path), source: "generated", path };
}

function readKeyFile(path: string): string | undefined {
  try {
    const text = readFileSync(path, "utf8");
    return text.trim() === "" ? undefined : text;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new SecretKeyError(`cannot read the secret key file ${path}: ${(error as Error).message}`);
  }
}

/**
 * Rotate `<data-dir>/secret-key`: a new random key goes first (it encrypts from now on), the old
 * ones stay after it so that what they wrote still decrypts until the engine, at its next start,
 * re-encrypts every secret under the new key. Written to a temporary file and renamed: a crash
 * leaves the old file or the new one, never half of one. Returns the new key's id.
 */
export function rotateSecretKeyFile(dataDir: string): string {
  const path = join(dataDir, SECRET_KEY_FILE);
  const previous = readKeyFile(path) ?? "";
  const next = `${generateSecretKey()}\n${previous.trim() === "" ? "" : `${previous.trim()}\n`}`;
  const keyring = parseSecretKeyring(next, path);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const temporary = `${path}.rotating`;
  writeFileSync(temporary, next, { mode: 0o600 });
  renameSync(temporary, path);
  return keyring.currentKeyId;
}
