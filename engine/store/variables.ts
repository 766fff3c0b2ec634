import { variableContext } from "./secret-keyring.js";
import type { Sql, SqlExecutor } from "./sql.js";

/**
 * A variable as the engine uses it: `value` is plain text here (decrypted). A secret's value is
 * stored encrypted (secret-keyring.ts, `key_id` names the key) and must never leave the engine
 * except into a replica's env.
 */
export interface VariableRow {
  environment_id: string;
  name: string;
  value: string;
  secret: boolean;
  created_at: Date;
  updated_at: Date;
}

/** As stored: a secret's `value` is the ciphertext under `key_id`. */
export interface StoredVariableRow extends VariableRow {
  key_id: string | null;
}

/** A stored variable as the engine uses it; throws SecretKeyError for a secret this engine's keys do not decrypt. */
export function decryptedVariable(sql: Pick<SqlExecutor, "keyring">, row: StoredVariableRow): VariableRow {
  const { key_id: keyId, ...rest } = row;
  // key_id NULL on a secret: written before encryption, encrypted at the next start (reencryptSecrets)
  if (!row.secret || keyId === null) return rest;
  return { ...rest, value: sql.keyring.decrypt(keyId, row.value, variableContext(row.environment_id, row.name)) };
}

/**
 * Create or replace a variable. `secret` undefined keeps an existing variable's secret-ness (a
 * new one is plain): a value-only PUT must never turn a secret into a readable variable. A
 * secret's value is encrypted before it reaches the database.
 */
export async function upsertVariable(
  sql: SqlExecutor,
  variable: { environmentId: string; name: string; value: string; secret: boolean | undefined; at: string },
): Promise<{ row: VariableRow; created: boolean }> {
  let secret = variable.secret;
  if (secret === undefined) {
    const [existing] = await sql.query<{ secret: boolean }>(
      "SELECT secret FROM variables WHERE environment_id = $1 AND name = $2 FOR UPDATE",
      [variable.environmentId, variable.name],
    );
    secret = existing?.secret ?? false;
  }
  const stored = secret
    ? sql.keyring.encrypt(variable.value, variableContext(variable.environmentId, variable.name))
    : { keyId: null, ciphertext: variable.value };
  const [row] = await sql.query<StoredVariableRow & { inserted: boolean }>(
    `INSERT INTO variables (environment_id, name, value, secret, key_id, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $6)
     ON CONFLICT (environment_id, name) DO UPDATE SET value = EXCLUDED.value, secret = EXCLUDED.secret,
       key_id = EXCLUDED.key_id, updated_at = EXCLUDED.updated_at
     RETURNING *, (xmax = 0) AS inserted`,
    [variable.environmentId, variable.name, stored.ciphertext, secret, stored.keyId, variable.at],
  );
  const { inserted, ...rest } = row!;
  return { row: { ...decryptedVariable(sql, rest), value: variable.value }, created: inserted };
}

export async function deleteVariable(sql: SqlExecutor, environmentId: string, name: string): Promise<boolean> {
  const rows = await sql.query("DELETE FROM variables WHERE environment_id = $1 AND name = $2 RETURNING name", [
    environmentId,
    name,
  ]);
  return rows.length > 0;
}

export async function listVariables(sql: SqlExecutor, environmentId: string): Promise<VariableRow[]> {
  const rows = await sql.query<StoredVariableRow>("SELECT * FROM variables WHERE environment_id = $1 ORDER BY name", [environmentId]);
  return rows.map((row) => decryptedVariable(sql, row));
}

export interface ReencryptionReport {
  /** secrets stored in plain text (before encryption at rest) now encrypted */
  fromPlaintext: number;
  /** secrets under an older key now under the current one */
  fromOldKeys: number;
}

/**
 * Bring every secret under the current key: encrypt plain-text ones (from before encryption at
 * rest), re-encrypt those of older keys (after a rotation). One transaction with the rows locked,
 * so engines starting together on one PostgreSQL do it once. Throws SecretKeyError naming the
 * first secret no configured key decrypts. After plain text was replaced, the table is rewritten
 * (VACUUM FULL) and a CHECKPOINT taken, so the old row versions leave the table's files and the
 * WAL segments holding them become recyclable.
 */
export async function reencryptSecrets(sql: Sql): Promise<ReencryptionReport> {
  const report = await sql.transaction(async (tx) => {
    const rows = await tx.query<StoredVariableRow>(
      "SELECT * FROM variables WHERE secret AND key_id IS DISTINCT FROM $1 ORDER BY environment_id, name FOR UPDATE",
      [tx.keyring.currentKeyId],
    );
    const counts: ReencryptionReport = { fromPlaintext: 0, fromOldKeys: 0 };
    for (const row of rows) {
      const context = variableContext(row.environment_id, row.name);
      const plaintext = decryptedVariable(tx, row).value;
      const stored = tx.keyring.encrypt(plaintext, context);
      await tx.query("UPDATE variables SET value = $3, key_id = $4 WHERE environment_id = $1 AND name = $2", [
        row.environment_id,
        row.name,
        stored.ciphertext,
        stored.keyId,
      ]);
      if (row.key_id === null) counts.fromPlaintext++;
      else counts.fromOldKeys++;
    }
    // Workspace secrets (workspace_variables) are encrypted from their first write: only a key
    // rotation leaves some under an older key.
    const workspaceRows = await tx.query<StoredVariableRow & { workspace_environment_id: string }>(
      `SELECT *, workspace_environment_id AS environment_id FROM workspace_variables
       WHERE secret AND key_id IS DISTINCT FROM $1 ORDER BY workspace_environment_id, name FOR UPDATE`,
      [tx.keyring.currentKeyId],
    );
    for (const row of workspaceRows) {
      const plaintext = decryptedVariable(tx, row).value;
      const stored = tx.keyring.encrypt(plaintext, variableContext(row.workspace_environment_id, row.name));
      await tx.query("UPDATE workspace_variables SET value = $3, key_id = $4 WHERE workspace_environment_id = $1 AND name = $2", [
        row.workspace_environment_id,
        row.name,
        stored.ciphertext,
        stored.keyId,
      ]);
      if (row.key_id === null) counts.fromPlaintext++;
      else counts.fromOldKeys++;
    }
    return counts;
  });
  if (report.fromPlaintext > 0) {
    await sql.exec("VACUUM FULL variables");
    try {
      await sql.exec("CHECKPOINT");
    } catch {
      // PostgreSQL allows it to superusers and pg_checkpoint only: the server's own checkpoint
      // recycles those WAL segments a few minutes later
    }
  }
  return report;
}
