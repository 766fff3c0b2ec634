import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/**
 * Encryption of secret values at rest: AES-256-GCM under a 32-byte data key, a random 12-byte IV
 * per value, the 16-byte auth tag kept with the ciphertext, and the row's identity (environment
 * id, variable name) as additional authenticated data — a ciphertext copied into another row
 * does not decrypt. Each stored value records the id of the key that encrypted it, so after a
 * rotation the old key still decrypts what it wrote until the engine re-encrypts it (at start).
 */
export interface SecretKeyring {
  /** id of the key new values are encrypted with (the first key) */
  readonly currentKeyId: string;
  readonly keyIds: readonly string[];
  /** base64 of iv ‖ tag ‖ ciphertext, and the key id to store with it */
  encrypt(plaintext: string, context: string): { keyId: string; ciphertext: string };
  /** throws SecretKeyError when the key is not in the ring or the value fails its auth tag */
  decrypt(keyId: string, ciphertext: string, context: string): string;
}

/** The engine cannot decrypt its secrets (or read its keys): it stops at start saying which and why. */
export class SecretKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretKeyError";
  }
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** A key's public id: a hash of the key, never the key. Equal keys have equal ids, so every engine
 * sharing one PostgreSQL with the same key agrees on it. */
export function secretKeyId(key: Buffer): string {
  return `k${createHash("sha256").update("modelplane secret key id\0").update(key).digest("hex").slice(0, 12)}`;
}

/** A new random data key in the text form keyrings are written in. */
export function generateSecretKey(): string {
  return randomBytes(KEY_BYTES).toString("base64");
}

function parseKey(entry: string, position: number, source: string): Buffer {
  const hex = /^[0-9a-fA-F]{64}$/.test(entry) ? Buffer.from(entry, "hex") : undefined;
  const base64 = /^[A-Za-z0-9+/_-]{43}=?$/.test(entry) ? Buffer.from(entry, "base64") : undefined;
  const key = hex ?? base64;
  if (key === undefined || key.length !== KEY_BYTES) {
    throw new SecretKeyError(
      `${source}: key ${position} is not a 32-byte key (base64 of 32 bytes or 64 hex digits; make one with: openssl rand -base64 32)`,
    );
  }
  return key;
}

/**
 * A keyring from its text: keys separated by commas or newlines, the first the current one, the
 * others kept to decrypt what they wrote. `source` names where the text came from, for errors.
 */
export function parseSecretKeyring(text: string, source: string): SecretKeyring {
  const entries = text.split(/[\s,]+/).filter((entry) => entry !== "");
  if (entries.length === 0) throw new SecretKeyError(`${source}: no key`);
  const keys = new Map<string, Buffer>();
  entries.forEach((entry, index) => {
    const key = parseKey(entry, index + 1, source);
    keys.set(secretKeyId(key), key);
  });
  const keyIds = [...keys.keys()];
  const currentKeyId = keyIds[0]!;
  const keyFor = (keyId: string, context: string): Buffer => {
    const key = keys.get(keyId);
    if (key === undefined) {
      throw new SecretKeyError(
        `the secret ${describeContext(context)} is encrypted with key ${keyId}, which is not among this engine's keys (${keyIds.join(", ")} from ${source}); ` +
          "start the engine with the key it was written with (MODELPLANE_SECRET_KEY, --secret-key-file or <data-dir>/secret-key; after a rotation keep the old key after the new one)",
      );
    }
    return key;
  };
  return {
    currentKeyId,
    keyIds,
    encrypt(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", keyFor(currentKeyId, context), iv);
      cipher.setAAD(Buffer.from(context, "utf8"));
      const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
      return { keyId: currentKeyId, ciphertext: Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64") };
    },
    decrypt(keyId, ciphertext, context) {
      const key = keyFor(keyId, context);
      const bytes = Buffer.from(ciphertext, "base64");
      try {
        if (bytes.length < IV_BYTES + TAG_BYTES) throw new Error("too short");
        const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, IV_BYTES));
        decipher.setAAD(Buffer.from(context, "utf8"));
        decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
        return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
      } catch {
        throw new SecretKeyError(
          `the secret ${describeContext(context)} fails its integrity check under key ${keyId}: the stored value was altered or moved from another row`,
        );
      }
    },
  };
}

/** The AAD of a variable's value: which row it belongs to. */
export function variableContext(environmentId: string, name: string): string {
  return `modelplane variable\0${environmentId}\0${name}`;
}

function describeContext(context: string): string {
  const [, environmentId, name] = context.split("\0");
  return name !== undefined ? `${name} of environment ${environmentId}` : "value";
}
