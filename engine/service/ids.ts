import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** Prefixes say what an id names when it shows up in a log or a URL. */
export type IdPrefix = "mdl" | "dep" | "env" | "wse" | "pro" | "pst" | "log" | "key";

/** `dep_` + 12 base-36 characters (62 bits): unique without coordination between engines. */
export function newObjectId(prefix: IdPrefix): string {
  const bytes = randomBytes(12);
  let suffix = "";
  for (const byte of bytes) suffix += ALPHABET[byte % ALPHABET.length];
  return `${prefix}_${suffix}`;
}
