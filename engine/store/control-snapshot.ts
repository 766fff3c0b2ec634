import type { DeploymentRow } from "./deployments.js";
import type { EnvironmentRow } from "./environments.js";
import type { ModelRow } from "./models.js";
import type { PromotionSettingsRow } from "./promotion-settings.js";
import { IN_PROGRESS_SQL } from "./promotions.js";
import type { ReplicaSetRow } from "./replica-sets.js";
import type { Sql } from "./sql.js";
import type { StoredVariableRow } from "./variables.js";
import type { StoredWorkspaceVariableRow, WorkspaceEnvironmentRow } from "./workspace-environments.js";

/**
 * Everything the deployment controller's resync reads, as an informer's LIST: one statement per
 * table instead of ~9 per deployment (at 10,000 deployments on PostgreSQL a resync ran ~90,000
 * statements, seconds of the controller's queue, and API p99 rose to 1.3–3.0 s; bench/scale).
 * Read in one REPEATABLE READ transaction, so every table is seen at one instant: a promotion's
 * terminal write moves an environment's current deployment and ends the promotion together, and
 * two reads either side of it would show the candidate in neither (its sets removed).
 * Secrets stay encrypted here: the controller decrypts per environment, so one it cannot decrypt
 * fails only the sets that need it.
 */
export interface ControlSnapshotRows {
  /** live models */
  models: ModelRow[];
  /** live deployments, oldest first (as listAllLiveDeployments) */
  deployments: DeploymentRow[];
  /** live environments, production first then by name (as listLiveEnvironments) */
  environments: EnvironmentRow[];
  /** the in-progress promotion of each environment that has one (at most one: promotions_one_in_progress) */
  promotionsInProgress: Array<{ environment_id: string; deployment_id: string }>;
  /** every replica_sets row */
  replicaSets: ReplicaSetRow[];
  /** variables of live environments, by environment then name (as listVariables) */
  variables: StoredVariableRow[];
  /** workspace variables, by workspace environment then name (as listWorkspaceVariables) */
  workspaceVariables: StoredWorkspaceVariableRow[];
  /** live workspace environments */
  workspaceEnvironments: WorkspaceEnvironmentRow[];
  /** live named promotion settings */
  promotionSettings: PromotionSettingsRow[];
}

export async function readControlSnapshot(sql: Sql): Promise<ControlSnapshotRows> {
  return sql.transaction(async (tx) => {
    await tx.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    const models = await tx.query<ModelRow>("SELECT * FROM models WHERE deleted_at IS NULL");
    const deployments = await tx.query<DeploymentRow>("SELECT * FROM deployments WHERE deleted_at IS NULL ORDER BY created_at, id");
    const environments = await tx.query<EnvironmentRow>("SELECT * FROM environments WHERE deleted_at IS NULL ORDER BY (name = 'production') DESC, name");
    const promotionsInProgress = await tx.query<{ environment_id: string; deployment_id: string }>(
      `SELECT environment_id, deployment_id FROM promotions WHERE ${IN_PROGRESS_SQL}`,
    );
    const replicaSets = await tx.query<ReplicaSetRow>("SELECT * FROM replica_sets");
    const variables = await tx.query<StoredVariableRow>(
      `SELECT variables.* FROM variables JOIN environments ON environments.id = variables.environment_id
        WHERE environments.deleted_at IS NULL ORDER BY variables.environment_id, variables.name`,
    );
    // (a deleted workspace environment's variables are deleted with it)
    const workspaceVariables = await tx.query<StoredWorkspaceVariableRow>("SELECT * FROM workspace_variables ORDER BY workspace_environment_id, name");
    const workspaceEnvironments = await tx.query<WorkspaceEnvironmentRow>("SELECT * FROM workspace_environments WHERE deleted_at IS NULL");
    const promotionSettings = await tx.query<PromotionSettingsRow>("SELECT * FROM promotion_settings WHERE deleted_at IS NULL");
    return { models, deployments, environments, promotionsInProgress, replicaSets, variables, workspaceVariables, workspaceEnvironments, promotionSettings };
  });
}
