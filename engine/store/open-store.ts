import { migrate } from "./migrations.js";
import { openPgliteSql } from "./pglite-sql.js";
import { openPostgresSql } from "./postgres-sql.js";
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
    const report = await reencryptSecrets(sql);
    options.log?.(describeKeyring(resolved, report, options.databaseUrl !== undefined));
  } catch (error) {
    await sql.close();
    throw error;
  }
  return sql;
}

function describeKeyring(resolved: ResolvedKeyring, report: ReencryptionReport, shared: boolean): string {
  const where = resolved.source === "option" ? "the key given" : resolved.source === "environment" ? "MODELPLANE_SECRET_KEY" : resolved.path;
  const parts = [`modelplane: secrets encrypted with key ${resolved.keyring.currentKeyId} (${resolved.source === "generated" ? `generated in ${where}` : `from ${where}`})`];
  if (report.fromPlaintext > 0) parts.push(`encrypted ${report.fromPlaintext} secret(s) stored in plain text before`);
  if (report.fromOldKeys > 0) parts.push(`re-encrypted ${report.fromOldKeys} secret(s) from older keys, which are no longer needed`);
  if (shared && (resolved.source === "file" || resolved.source === "generated")) {
    parts.push("every engine sharing this database needs the same key: give each MODELPLANE_SECRET_KEY or --secret-key-file");
  }
  return parts.join("; ");
}
