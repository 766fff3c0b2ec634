import type { AutoscalingSettings, HeaderRouting, PromotionSettings, ShadowSettings } from "../../sdk/index.js";
import type { AtCommit, SqlExecutor, SqlTransaction, SqlWrite } from "./sql.js";

export interface EnvironmentRow {
  id: string;
  model_id: string;
  name: string;
  current_deployment_id: string | null;
  previous_deployment_id: string | null;
  autoscaling_settings: AutoscalingSettings;
  inline_promotion_settings: PromotionSettings;
  promotion_settings_id: string | null;
  /** predict needs no API key */
  public: boolean;
  /** null: no shadow (column added by migration 10) */
  shadow: ShadowSettings | null;
  /** the workspace environment this one is of (inherits its variables, secrets, settings, chain rule), or null */
  workspace_environment_id: string | null;
  /** uses the workspace environment's default promotion settings (the model set none of its own) */
  inherit_promotion_settings: boolean;
  /** null: off (column added by migration 10) */
  header_routing: HeaderRouting | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export async function insertEnvironment(
  sql: SqlExecutor,
  environment: {
    id: string;
    modelId: string;
    name: string;
    autoscalingSettings: AutoscalingSettings;
    inlinePromotionSettings: PromotionSettings;
    promotionSettingsId: string | null;
    public?: boolean;
    shadow?: ShadowSettings | null;
    workspaceEnvironmentId?: string | null;
    inheritPromotionSettings?: boolean;
    headerRouting?: HeaderRouting | null;
    at: string;
  },
): Promise<EnvironmentRow> {
  const [row] = await sql.query<EnvironmentRow>(
    `INSERT INTO environments (id, model_id, name, autoscaling_settings, inline_promotion_settings, promotion_settings_id,
       created_at, updated_at, public, shadow, workspace_environment_id, inherit_promotion_settings, header_routing)
     VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7, $7, $8, $9::jsonb, $10, $11, $12::jsonb) RETURNING *`,
    [
      environment.id,
      environment.modelId,
      environment.name,
      JSON.stringify(environment.autoscalingSettings),
      JSON.stringify(environment.inlinePromotionSettings),
      environment.promotionSettingsId,
      environment.at,
      environment.public ?? false,
      environment.shadow ? JSON.stringify(environment.shadow) : null,
      environment.workspaceEnvironmentId ?? null,
      environment.inheritPromotionSettings ?? false,
      environment.headerRouting ? JSON.stringify(environment.headerRouting) : null,
    ],
  );
  return row!;
}

export async function findLiveEnvironment(
  sql: SqlExecutor,
  modelId: string,
  name: string,
  forUpdate = false,
): Promise<EnvironmentRow | undefined> {
  const [row] = await sql.query<EnvironmentRow>(
    `SELECT * FROM environments WHERE model_id = $1 AND name = $2 AND deleted_at IS NULL${forUpdate ? " FOR UPDATE" : ""}`,
    [modelId, name],
  );
  return row;
}

/**
 * Take an environment's row lock in the caller's transaction: the first lock of every transaction
 * that writes both the environment and one of its promotions (an API action, a promotion's end), so
 * they all lock in one order and two engines doing both at once wait instead of deadlocking.
 */
export async function lockEnvironment(tx: SqlTransaction, id: string): Promise<void> {
  const { text, params } = environmentLock(id);
  await tx.query(text, params);
}

/** lockEnvironment as a statement (a decided transaction's `before`). */
export function environmentLock(id: string): SqlWrite {
  return { text: "SELECT 1 FROM environments WHERE id = $1 FOR UPDATE", params: [id] };
}

export async function findEnvironmentById(sql: SqlExecutor, id: string): Promise<EnvironmentRow | undefined> {
  const [row] = await sql.query<EnvironmentRow>("SELECT * FROM environments WHERE id = $1", [id]);
  return row;
}

export async function listLiveEnvironments(sql: SqlExecutor, modelId: string): Promise<EnvironmentRow[]> {
  // production first, then by name: the order a user reads them in
  return sql.query<EnvironmentRow>(
    `SELECT * FROM environments WHERE model_id = $1 AND deleted_at IS NULL
     ORDER BY (name = 'production') DESC, name`,
    [modelId],
  );
}

/** Live environments a deployment currently serves, production first. */
export async function listEnvironmentsServing(sql: SqlExecutor, deploymentId: string): Promise<EnvironmentRow[]> {
  return sql.query<EnvironmentRow>(
    `SELECT * FROM environments WHERE current_deployment_id = $1 AND deleted_at IS NULL
     ORDER BY (name = 'production') DESC, name`,
    [deploymentId],
  );
}

/** Live environments of live models that belong to a workspace environment, by model. */
export async function listEnvironmentsOfWorkspace(sql: SqlExecutor, workspaceEnvironmentId: string): Promise<EnvironmentRow[]> {
  return sql.query<EnvironmentRow>(
    `SELECT e.* FROM environments e JOIN models m ON m.id = e.model_id
     WHERE e.workspace_environment_id = $1 AND e.deleted_at IS NULL AND m.deleted_at IS NULL ORDER BY m.name, e.model_id`,
    [workspaceEnvironmentId],
  );
}

/** A model's environment of a workspace environment. */
export async function findModelEnvironmentOfWorkspace(
  sql: SqlExecutor,
  modelId: string,
  workspaceEnvironmentId: string,
): Promise<EnvironmentRow | undefined> {
  const [row] = await sql.query<EnvironmentRow>(
    "SELECT * FROM environments WHERE model_id = $1 AND workspace_environment_id = $2 AND deleted_at IS NULL",
    [modelId, workspaceEnvironmentId],
  );
  return row;
}

/** (environment name, deployment it serves) of a model's serving environments, production first. */
/** The models with a live environment named `name`. */
export async function listModelIdsWithEnvironment(sql: SqlExecutor, name: string): Promise<Set<string>> {
  const rows = await sql.query<{ model_id: string }>("SELECT model_id FROM environments WHERE name = $1 AND deleted_at IS NULL", [name]);
  return new Set(rows.map((row) => row.model_id));
}

export async function listServingEnvironments(sql: SqlExecutor, modelId: string): Promise<{ name: string; current_deployment_id: string }[]> {
  return sql.query<{ name: string; current_deployment_id: string }>(
    `SELECT name, current_deployment_id FROM environments
     WHERE model_id = $1 AND deleted_at IS NULL AND current_deployment_id IS NOT NULL
     ORDER BY (name = 'production') DESC, name`,
    [modelId],
  );
}

export async function listEnvironmentsUsingSettings(sql: SqlExecutor, settingsId: string): Promise<EnvironmentRow[]> {
  return sql.query<EnvironmentRow>(
    "SELECT * FROM environments WHERE promotion_settings_id = $1 AND deleted_at IS NULL ORDER BY model_id, name",
    [settingsId],
  );
}

export interface EnvironmentChanges {
  autoscalingSettings?: AutoscalingSettings;
  inlinePromotionSettings?: PromotionSettings;
  promotionSettingsId?: string | null;
  /** set by the promotion reconciler when a promotion succeeds */
  currentDeploymentId?: string | null;
  previousDeploymentId?: string | null;
  public?: boolean;
  /** null removes the shadow */
  shadow?: ShadowSettings | null;
  workspaceEnvironmentId?: string | null;
  inheritPromotionSettings?: boolean;
  /** null turns header routing off */
  headerRouting?: HeaderRouting | null;
}

export async function updateEnvironment(
  sql: SqlExecutor,
  id: string,
  changes: EnvironmentChanges,
  at: string,
): Promise<EnvironmentRow> {
  const { text, params } = environmentUpdate(id, changes, at);
  const [row] = await sql.query<EnvironmentRow>(`${text} RETURNING *`, params);
  if (!row) throw new Error(`environment ${id} vanished during update`);
  return row;
}

/** updateEnvironment with the transaction's COMMIT, when nothing reads the row it writes (SqlTransaction.writeAtCommit). */
export function updateEnvironmentAtCommit(tx: AtCommit, id: string, changes: EnvironmentChanges, at: string): void {
  const { text, params } = environmentUpdate(id, changes, at);
  tx.writeAtCommit(text, params);
}

function environmentUpdate(id: string, changes: EnvironmentChanges, at: string): SqlWrite {
  const sets: string[] = ["updated_at = $2"];
  const params: (string | boolean | null)[] = [id, at];
  const set = (column: string, value: string | boolean | null, cast = "") => {
    params.push(value);
    sets.push(`${column} = $${params.length}${cast}`);
  };
  if (changes.autoscalingSettings !== undefined)
    set("autoscaling_settings", JSON.stringify(changes.autoscalingSettings), "::jsonb");
  if (changes.inlinePromotionSettings !== undefined)
    set("inline_promotion_settings", JSON.stringify(changes.inlinePromotionSettings), "::jsonb");
  if (changes.promotionSettingsId !== undefined) set("promotion_settings_id", changes.promotionSettingsId);
  if (changes.currentDeploymentId !== undefined) set("current_deployment_id", changes.currentDeploymentId);
  if (changes.previousDeploymentId !== undefined) set("previous_deployment_id", changes.previousDeploymentId);
  if (changes.public !== undefined) set("public", changes.public);
  if (changes.shadow !== undefined) set("shadow", changes.shadow === null ? null : JSON.stringify(changes.shadow), "::jsonb");
  if (changes.workspaceEnvironmentId !== undefined) set("workspace_environment_id", changes.workspaceEnvironmentId);
  if (changes.inheritPromotionSettings !== undefined) set("inherit_promotion_settings", changes.inheritPromotionSettings);
  if (changes.headerRouting !== undefined) set("header_routing", changes.headerRouting === null ? null : JSON.stringify(changes.headerRouting), "::jsonb");
  return { text: `UPDATE environments SET ${sets.join(", ")} WHERE id = $1`, params };
}

export async function softDeleteEnvironment(sql: SqlExecutor, id: string, at: string): Promise<void> {
  await sql.query("UPDATE environments SET deleted_at = $2, updated_at = $2 WHERE id = $1", [id, at]);
}

/** Live environments whose predict endpoint needs no key, for the data plane's access view. */
export async function listPublicEnvironments(sql: Pick<SqlExecutor, "query">): Promise<{ model_id: string; name: string }[]> {
  return sql.query<{ model_id: string; name: string }>(
    `SELECT e.model_id, e.name FROM environments e JOIN models m ON m.id = e.model_id
     WHERE e.public AND e.deleted_at IS NULL AND m.deleted_at IS NULL`,
  );
}
