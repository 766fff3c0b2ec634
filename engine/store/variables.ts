import type { SqlExecutor } from "./sql.js";

/** A stored variable. `value` of a secret one must never leave the engine except into a replica's env. */
export interface VariableRow {
  environment_id: string;
  name: string;
  value: string;
  secret: boolean;
  created_at: Date;
  updated_at: Date;
}

/**
 * Create or replace a variable. `secret` undefined keeps an existing variable's secret-ness (a
 * new one is plain): a value-only PUT must never turn a secret into a readable variable.
 */
export async function upsertVariable(
  sql: SqlExecutor,
  variable: { environmentId: string; name: string; value: string; secret: boolean | undefined; at: string },
): Promise<{ row: VariableRow; created: boolean }> {
  const [row] = await sql.query<VariableRow & { inserted: boolean }>(
    `INSERT INTO variables (environment_id, name, value, secret, created_at, updated_at)
     VALUES ($1, $2, $3, COALESCE($4::boolean, false), $5, $5)
     ON CONFLICT (environment_id, name) DO UPDATE SET value = EXCLUDED.value,
       secret = COALESCE($4::boolean, variables.secret), updated_at = EXCLUDED.updated_at
     RETURNING *, (xmax = 0) AS inserted`,
    [variable.environmentId, variable.name, variable.value, variable.secret ?? null, variable.at],
  );
  const { inserted, ...stored } = row!;
  return { row: stored, created: inserted };
}

export async function deleteVariable(sql: SqlExecutor, environmentId: string, name: string): Promise<boolean> {
  const rows = await sql.query("DELETE FROM variables WHERE environment_id = $1 AND name = $2 RETURNING name", [
    environmentId,
    name,
  ]);
  return rows.length > 0;
}

export async function listVariables(sql: SqlExecutor, environmentId: string): Promise<VariableRow[]> {
  return sql.query<VariableRow>("SELECT * FROM variables WHERE environment_id = $1 ORDER BY name", [environmentId]);
}
