import type { PromotionSettings } from "../../sdk/index.js";
import { variableContext } from "./secret-keyring.js";
import type { SqlExecutor } from "./sql.js";
import type { VariableRow } from "./variables.js";

/** Workspace environments and their variables (migration 9). */

export interface WorkspaceEnvironmentRow {
  id: string;
  name: string;
  description: string;
  inline_promotion_settings: PromotionSettings;
  promotion_settings_id: string | null;
  /** name of the live workspace environment a deployment must have passed first */
  requires: string | null;
  min_soak_seconds: number;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

/** Two writers that add environments to every model (a new workspace environment, a new model)
 * take this lock first, so neither misses the other's row. 7071: next to the migrations' 7070. */
export async function lockWorkspaceEnvironments(sql: SqlExecutor): Promise<void> {
  await sql.query("SELECT pg_advisory_xact_lock(7071)");
}

export async function insertWorkspaceEnvironment(
  sql: SqlExecutor,
  environment: {
    id: string;
    name: string;
    description: string;
    inlinePromotionSettings: PromotionSettings;
    promotionSettingsId: string | null;
    requires: string | null;
    minSoakSeconds: number;
    at: string;
  },
): Promise<WorkspaceEnvironmentRow> {
  const [row] = await sql.query<WorkspaceEnvironmentRow>(
    `INSERT INTO workspace_environments (id, name, description, inline_promotion_settings, promotion_settings_id, requires,
       min_soak_seconds, created_at, updated_at)
     VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $8) RETURNING *`,
    [
      environment.id,
      environment.name,
      environment.description,
      JSON.stringify(environment.inlinePromotionSettings),
      environment.promotionSettingsId,
      environment.requires,
      environment.minSoakSeconds,
      environment.at,
    ],
  );
  return row!;
}

export async function findLiveWorkspaceEnvironment(
  sql: SqlExecutor,
  name: string,
  forUpdate = false,
): Promise<WorkspaceEnvironmentRow | undefined> {
  const [row] = await sql.query<WorkspaceEnvironmentRow>(
    `SELECT * FROM workspace_environments WHERE name = $1 AND deleted_at IS NULL${forUpdate ? " FOR UPDATE" : ""}`,
    [name],
  );
  return row;
}

export async function findWorkspaceEnvironmentById(sql: SqlExecutor, id: string): Promise<WorkspaceEnvironmentRow | undefined> {
  const [row] = await sql.query<WorkspaceEnvironmentRow>("SELECT * FROM workspace_environments WHERE id = $1 AND deleted_at IS NULL", [id]);
  return row;
}

export async function listLiveWorkspaceEnvironments(sql: SqlExecutor): Promise<WorkspaceEnvironmentRow[]> {
  return sql.query<WorkspaceEnvironmentRow>("SELECT * FROM workspace_environments WHERE deleted_at IS NULL ORDER BY name");
}

export interface WorkspaceEnvironmentChanges {
  description?: string;
  inlinePromotionSettings?: PromotionSettings;
  promotionSettingsId?: string | null;
  requires?: string | null;
  minSoakSeconds?: number;
}

export async function updateWorkspaceEnvironment(
  sql: SqlExecutor,
  id: string,
  changes: WorkspaceEnvironmentChanges,
  at: string,
): Promise<WorkspaceEnvironmentRow> {
  const sets: string[] = ["updated_at = $2"];
  const params: (string | number | null)[] = [id, at];
  const set = (column: string, value: string | number | null, cast = "") => {
    params.push(value);
    sets.push(`${column} = $${params.length}${cast}`);
  };
  if (changes.description !== undefined) set("description", changes.description);
  if (changes.inlinePromotionSettings !== undefined) set("inline_promotion_settings", JSON.stringify(changes.inlinePromotionSettings), "::jsonb");
  if (changes.promotionSettingsId !== undefined) set("promotion_settings_id", changes.promotionSettingsId);
  if (changes.requires !== undefined) set("requires", changes.requires);
  if (changes.minSoakSeconds !== undefined) set("min_soak_seconds", changes.minSoakSeconds);
  const [row] = await sql.query<WorkspaceEnvironmentRow>(`UPDATE workspace_environments SET ${sets.join(", ")} WHERE id = $1 RETURNING *`, params);
  if (!row) throw new Error(`workspace environment ${id} vanished during update`);
  return row;
}

export async function softDeleteWorkspaceEnvironment(sql: SqlExecutor, id: string, at: string): Promise<void> {
  await sql.query("DELETE FROM workspace_variables WHERE workspace_environment_id = $1", [id]);
  await sql.query("UPDATE workspace_environments SET deleted_at = $2, updated_at = $2 WHERE id = $1", [id, at]);
}

/** Live workspace environments that require `name`. */
export async function listWorkspaceEnvironmentsRequiring(sql: SqlExecutor, name: string): Promise<WorkspaceEnvironmentRow[]> {
  return sql.query<WorkspaceEnvironmentRow>("SELECT * FROM workspace_environments WHERE requires = $1 AND deleted_at IS NULL ORDER BY name", [
    name,
  ]);
}

export async function listWorkspaceEnvironmentsUsingSettings(sql: SqlExecutor, settingsId: string): Promise<WorkspaceEnvironmentRow[]> {
  return sql.query<WorkspaceEnvironmentRow>(
    "SELECT * FROM workspace_environments WHERE promotion_settings_id = $1 AND deleted_at IS NULL ORDER BY name",
    [settingsId],
  );
}

// variables

/** As stored: a secret's `value` is the ciphertext under `key_id`. */
export interface StoredWorkspaceVariableRow {
  workspace_environment_id: string;
  name: string;
  value: string;
  secret: boolean;
  key_id: string | null;
  created_at: Date;
  updated_at: Date;
}

/** A workspace variable as the engine uses it (plain text); shaped as a model variable. */
export type WorkspaceVariableRow = Omit<VariableRow, "environment_id"> & { workspace_environment_id: string };

export async function listWorkspaceVariables(sql: SqlExecutor, workspaceEnvironmentId: string): Promise<WorkspaceVariableRow[]> {
  const rows = await sql.query<StoredWorkspaceVariableRow>(
    "SELECT * FROM workspace_variables WHERE workspace_environment_id = $1 ORDER BY name",
    [workspaceEnvironmentId],
  );
  return rows.map((row) => decryptedWorkspaceVariable(sql, row));
}

/** A workspace environment's variables as an answer shows them: plain values, secrets by name only —
 * never decrypted (a read needs no key, and no secret's plain text is made for it). */
export async function listShownWorkspaceVariables(sql: SqlExecutor, workspaceEnvironmentId: string): Promise<Array<{ name: string; secret: false; value: string } | { name: string; secret: true }>> {
  const rows = await sql.query<{ name: string; secret: boolean; value: string | null }>(
    "SELECT name, secret, CASE WHEN secret THEN NULL ELSE value END AS value FROM workspace_variables WHERE workspace_environment_id = $1 ORDER BY name",
    [workspaceEnvironmentId],
  );
  return rows.map((row) => (row.secret ? { name: row.name, secret: true } : { name: row.name, secret: false, value: row.value ?? "" }));
}

/** A stored workspace variable as the engine uses it; throws SecretKeyError for a secret this engine's keys do not decrypt. */
export function decryptedWorkspaceVariable(sql: Pick<SqlExecutor, "keyring">, { key_id: keyId, ...row }: StoredWorkspaceVariableRow): WorkspaceVariableRow {
  return row.secret && keyId !== null
    ? { ...row, value: sql.keyring.decrypt(keyId, row.value, variableContext(row.workspace_environment_id, row.name)) }
    : row;
}

/** Set a workspace variable (plain or secret, as given); a secret is encrypted before it reaches the database. */
export async function upsertWorkspaceVariable(
  sql: SqlExecutor,
  variable: { workspaceEnvironmentId: string; name: string; value: string; secret: boolean; at: string },
): Promise<void> {
  const stored = variable.secret
    ? sql.keyring.encrypt(variable.value, variableContext(variable.workspaceEnvironmentId, variable.name))
    : { keyId: null, ciphertext: variable.value };
  await sql.query(
    `INSERT INTO workspace_variables (workspace_environment_id, name, value, secret, key_id, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $6)
     ON CONFLICT (workspace_environment_id, name) DO UPDATE SET value = EXCLUDED.value, secret = EXCLUDED.secret,
       key_id = EXCLUDED.key_id, updated_at = EXCLUDED.updated_at`,
    [variable.workspaceEnvironmentId, variable.name, stored.ciphertext, variable.secret, stored.keyId, variable.at],
  );
}

export async function deleteWorkspaceVariable(sql: SqlExecutor, workspaceEnvironmentId: string, name: string): Promise<boolean> {
  const rows = await sql.query("DELETE FROM workspace_variables WHERE workspace_environment_id = $1 AND name = $2 RETURNING name", [
    workspaceEnvironmentId,
    name,
  ]);
  return rows.length > 0;
}
