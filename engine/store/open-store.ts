import { migrate } from "./migrations.js";
import { openPgliteSql } from "./pglite-sql.js";
import { openPostgresSql } from "./postgres-sql.js";
import { agreeOnSharedKey, type SharedKeyVerdict } from "./secret-key-check.js";
import { resolveSecretKeyring, type ResolvedKeyring } from "./secret-key-source.js";
import type { Sql } from "./sql.js";
import { reencryptSecrets, type ReencryptionReport } from "./variables.js";

export interface StoreOptions {
  /** engine data directory: the PGlite database lives in `<dataDir>/pgdata`, the secrets' key in
   * `<dataDir>/secret-key` unless given */
  dataDir: string;
  /** PostgreSQL URL; when set, PGlite is not used */
  databaseUrl?: string;
  /** the secrets' keyring text (secret-keyring.ts); default MODELPLANE_SECRET_KEY, else the data dir's file */
  secretKey?: string;
  /** told where the key came from and what was re-encrypted at start (never a key or a value) */
  log?: (line: string) => void;
}

/**
 * Open the configured database, bring its schema up to date, and re-encrypt every secret not
 * under the current key: plain text written before encryption existed, or values of a key rotated
 * out. A secret no configured key can decrypt stops the start (SecretKeyError) instead of leaving
 * replicas without it.
 */
export async function openStore(options: StoreOptions): Promise<Sql> {
  const resolved = resolveSecretKeyring({ dataDir: options.dataDir, ...(options.secretKey !== undefined ? { secretKey: options.secretKey } : {}) });
  const sql = options.databaseUrl
    ? await openPostgresSql(options.databaseUrl, resolved.keyring)
    : await openPgliteSql(options.dataDir, resolved.keyring);
  try {
    await migrate(sql);
    // Re-encryption first: a secret no key of this engine decrypts is named by its own error.
    const report = await reencryptSecrets(sql);
    // Several engines on PostgreSQL: all of them must write with one key, checked before the first secret exists.
    const shared = options.databaseUrl !== undefined ? await agreeOnSharedKey(sql, whereFrom(resolved)) : undefined;
    options.log?.(describeKeyring(resolved, report, shared));
  } catch (error) {
    await sql.close();
    throw error;
  }
  return sql;
}

function whereFrom(resolved: ResolvedKeyring): string {
  return resolved.source === "option" ? "the key given" : resolved.source === "environment" ? "MODELPLANE_SECRET_KEY" : (resolved.path ?? "the data dir");
}

/** `shared`: the key check's verdict on PostgreSQL (undefined on PGlite, where the key lives beside the database). */
function describeKeyring(resolved: ResolvedKeyring, report: ReencryptionReport, shared: SharedKeyVerdict | undefined): string {
  const where = whereFrom(resolved);
  const parts = [`modelplane: secrets encrypted with key ${resolved.keyring.currentKeyId} (${resolved.source === "generated" ? `generated in ${where}` : `from ${where}`})`];
  if (report.fromPlaintext > 0) parts.push(`encrypted ${report.fromPlaintext} secret(s) stored in plain text before`);
  if (report.fromOldKeys > 0) parts.push(`re-encrypted ${report.fromOldKeys} secret(s) from older keys, which are no longer needed`);
  if (shared?.kind === "rotate") parts.push(`this database's engines now write with it instead of ${shared.from}: restart every other engine with it first`);
  if (shared !== undefined && (resolved.source === "file" || resolved.source === "generated")) {
    parts.push("every engine sharing this database needs the same key: give each MODELPLANE_SECRET_KEY or --secret-key-file");
  }
  return parts.join("; ");
}
