import { arrayLiteral } from "./array-literal.js";
import { DEPLOYMENT_JSON_COLUMNS, type DeploymentRow } from "./deployments.js";
import type { EnvironmentRow } from "./environments.js";
import { decodeJsonRows, type Columns } from "./json-rows.js";
import type { ModelRow } from "./models.js";
import type { PromotionSettingsRow } from "./promotion-settings.js";
import { IN_PROGRESS_SQL } from "./promotions.js";
import type { ReplicaSetRow } from "./replica-sets.js";
import type { Sql, SqlExecutor } from "./sql.js";
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
 * Each row of the snapshot but the models' also carries its version (Versioned): what lets a resync
 * tell the deployments whose inputs did not change since it last converged them from those it must
 * converge (of a model, a sync reads only its name: the name stands for it).
 */
export interface ControlSnapshotRows {
  /** live models */
  models: ModelRow[];
  /** live deployments' rows, oldest first (as listAllLiveDeployments): all of them, or those asked for */
  deployments: Array<Versioned<DeploymentRow>>;
  /** every live deployment, oldest first, when `deployments` may hold only some of them (a resync's
   * snapshot; undefined: `deployments` are all of them) */
  deploymentVersions?: DeploymentVersion[];
  /** live environments, production first then by name (as listLiveEnvironments) */
  environments: Array<Versioned<EnvironmentRow>>;
  /** the in-progress promotion of each environment that has one (at most one: promotions_one_in_progress) */
  promotionsInProgress: Array<{ environment_id: string; deployment_id: string }>;
  /** every replica_sets row */
  replicaSets: Array<Versioned<ReplicaSetRow>>;
  /** variables of live environments, by environment then name (as listVariables) */
  variables: Array<Versioned<StoredVariableRow>>;
  /** workspace variables, by workspace environment then name (as listWorkspaceVariables) */
  workspaceVariables: Array<Versioned<StoredWorkspaceVariableRow>>;
  /** live workspace environments */
  workspaceEnvironments: Array<Versioned<WorkspaceEnvironmentRow>>;
  /** live named promotion settings */
  promotionSettings: Array<Versioned<PromotionSettingsRow>>;
}

/**
 * A row with its version: PostgreSQL's `xmin`, the transaction that wrote this version of the row.
 * Every UPDATE, INSERT or DELETE-and-INSERT of a row writes a new version with the writing
 * transaction's id, and a snapshot sees a transaction's writes all or none, so a row whose version
 * is one a previous snapshot saw on it has not changed since. (The id is 32 bits: a change would go
 * unseen only if written exactly a multiple of 2^32 transactions after the version last seen.)
 * Only the resync's bulk snapshot reads it; a live slice's rows have none.
 */
export type Versioned<Row> = Row & { readonly row_version?: string };

/** A live deployment as a resync first reads it: which it is, its model, the version of its row. */
export interface DeploymentVersion {
  id: string;
  model_id: string;
  row_version: string;
}

/**
 * Which live deployments' rows a snapshot reads, asked once every other table is read (`rows`
 * without them): "all", or the ids (a steady resync: those whose rows changed since it last read them).
 */
export type DeploymentRowsWanted = (rows: ControlSnapshotRows & { deploymentVersions: DeploymentVersion[] }) => Promise<"all" | readonly string[]>;

export async function readControlSnapshot(sql: Sql, wanted: DeploymentRowsWanted): Promise<ControlSnapshotRows & { deploymentVersions: DeploymentVersion[] }> {
  return sql.transaction(async (tx) => {
    await tx.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    const models = await tx.query<ModelRow>("SELECT * FROM models WHERE deleted_at IS NULL");
    // Versions first, rows after for those wanted: parsing every row was the largest part of a
    // steady resync's CPU at 10,000 deployments (42–86 ms against 5–6 ms for the versions).
    const deploymentVersions = await tx.query<DeploymentVersion>("SELECT id, model_id, xmin::text AS row_version FROM deployments WHERE deleted_at IS NULL ORDER BY created_at, id");
    const environments = await tx.query<Versioned<EnvironmentRow>>("SELECT *, xmin::text AS row_version FROM environments WHERE deleted_at IS NULL ORDER BY (name = 'production') DESC, name");
    const promotionsInProgress = await tx.query<{ environment_id: string; deployment_id: string }>(
      `SELECT environment_id, deployment_id FROM promotions WHERE ${IN_PROGRESS_SQL}`,
    );
    const replicaSets = await tx.query<Versioned<ReplicaSetRow>>("SELECT id, deployment_id, environment, role, desired, xmin::text AS row_version FROM replica_sets");
    const variables = await tx.query<Versioned<StoredVariableRow>>(
      `SELECT variables.*, variables.xmin::text AS row_version FROM variables JOIN environments ON environments.id = variables.environment_id
        WHERE environments.deleted_at IS NULL ORDER BY variables.environment_id, variables.name`,
    );
    // (a deleted workspace environment's variables are deleted with it)
    const workspaceVariables = await tx.query<Versioned<StoredWorkspaceVariableRow>>("SELECT *, xmin::text AS row_version FROM workspace_variables ORDER BY workspace_environment_id, name");
    const workspaceEnvironments = await tx.query<Versioned<WorkspaceEnvironmentRow>>("SELECT *, xmin::text AS row_version FROM workspace_environments WHERE deleted_at IS NULL");
    const promotionSettings = await tx.query<Versioned<PromotionSettingsRow>>("SELECT *, xmin::text AS row_version FROM promotion_settings WHERE deleted_at IS NULL");
    const rows = { models, deployments: [], deploymentVersions, environments, promotionsInProgress, replicaSets, variables, workspaceVariables, workspaceEnvironments, promotionSettings };
    const ids = await wanted(rows);
    // (same transaction: the rows are the versions just read)
    const deployments =
      ids === "all"
        ? await tx.query<Versioned<DeploymentRow>>("SELECT *, xmin::text AS row_version FROM deployments WHERE deleted_at IS NULL ORDER BY created_at, id")
        : ids.length === 0
          ? []
          : await tx.query<Versioned<DeploymentRow>>("SELECT *, xmin::text AS row_version FROM deployments WHERE id = ANY($1::text[]) AND deleted_at IS NULL ORDER BY created_at, id", [
              arrayLiteral(ids),
            ]);
    return { ...rows, deployments };
  });
}

/**
 * What the syncs of a few deployments read (a change event: engine/control/store-reads.ts), as the
 * rows of a snapshot restricted to them, in ONE statement: the deployments (live), their models
 * (live), the live environments of their models and any other they serve or are promoted into (a
 * kept set's environment is one of its model's), the in-progress promotions into them, their
 * replica_sets rows, those environments' variables, the workspace environments they are of with
 * their variables, and the named promotion settings either refers to. Read one by one these were
 * ~10 statements a sync (bench/scale: each queued behind every other on PGlite's one session, and
 * 100 promotions starting together held API writes ~2 s); a promotion's end syncs both its
 * deployments from one. Same filters and orders as readControlSnapshot, so a StoreSnapshot of it
 * answers as liveReads did; one statement sees one instant, as the snapshot's transaction does.
 * Nothing but an empty deployments list when none of them is live. (`= ANY(ARRAY(SELECT …))`: an
 * index condition whatever the planner guesses of the ids' count.)
 */
export async function readDeploymentSlice(sql: SqlExecutor, deploymentIds: readonly string[]): Promise<ControlSnapshotRows> {
  const [row] = await sql.query<Record<keyof ControlSnapshotRows, unknown>>(
    `WITH d AS (SELECT * FROM deployments WHERE id = ANY($1::text[]) AND deleted_at IS NULL),
     p AS (SELECT environment_id, deployment_id FROM promotions WHERE deployment_id = ANY(ARRAY(SELECT id FROM d)) AND ${IN_PROGRESS_SQL}),
     -- (a union of ids, not one OR: each arm uses its index)
     e_ids AS (
       SELECT id FROM environments WHERE model_id = ANY(ARRAY(SELECT model_id FROM d)) AND deleted_at IS NULL
       UNION SELECT id FROM environments WHERE current_deployment_id = ANY(ARRAY(SELECT id FROM d)) AND deleted_at IS NULL
       UNION SELECT environment_id FROM p),
     e AS (SELECT * FROM environments WHERE id IN (SELECT id FROM e_ids) AND deleted_at IS NULL),
     w AS (SELECT * FROM workspace_environments WHERE id IN (SELECT workspace_environment_id FROM e) AND deleted_at IS NULL)
     SELECT
       (SELECT jsonb_agg(to_jsonb(d)) FROM d) AS deployments,
       (SELECT jsonb_agg(to_jsonb(m)) FROM models m WHERE m.id = ANY(ARRAY(SELECT model_id FROM d)) AND m.deleted_at IS NULL) AS models,
       (SELECT jsonb_agg(to_jsonb(e) ORDER BY (e.name = 'production') DESC, e.name) FROM e) AS environments,
       (SELECT jsonb_agg(to_jsonb(p)) FROM p) AS "promotionsInProgress",
       (SELECT jsonb_agg(to_jsonb(r) - 'updated_at') FROM replica_sets r WHERE r.deployment_id = ANY(ARRAY(SELECT id FROM d))) AS "replicaSets",
       (SELECT jsonb_agg(to_jsonb(v) ORDER BY v.environment_id, v.name) FROM variables v WHERE v.environment_id IN (SELECT id FROM e)) AS variables,
       (SELECT jsonb_agg(to_jsonb(wv) ORDER BY wv.workspace_environment_id, wv.name) FROM workspace_variables wv
         WHERE wv.workspace_environment_id IN (SELECT workspace_environment_id FROM e)) AS "workspaceVariables",
       (SELECT jsonb_agg(to_jsonb(w)) FROM w) AS "workspaceEnvironments",
       (SELECT jsonb_agg(to_jsonb(s)) FROM promotion_settings s WHERE s.deleted_at IS NULL
         AND s.id IN (SELECT promotion_settings_id FROM e UNION SELECT promotion_settings_id FROM w)) AS "promotionSettings"`,
    [arrayLiteral(deploymentIds)],
  );
  if (row === undefined) throw new Error("the deployment slice read returned no row");
  return {
    models: decodeJsonRows("models", MODEL_COLUMNS, row.models),
    deployments: decodeJsonRows("deployments", DEPLOYMENT_JSON_COLUMNS, row.deployments),
    environments: decodeJsonRows("environments", ENVIRONMENT_COLUMNS, row.environments),
    promotionsInProgress: decodeJsonRows("promotions", PROMOTION_IN_PROGRESS_COLUMNS, row.promotionsInProgress),
    replicaSets: decodeJsonRows("replica_sets", REPLICA_SET_COLUMNS, row.replicaSets),
    variables: decodeJsonRows("variables", VARIABLE_COLUMNS, row.variables),
    workspaceVariables: decodeJsonRows("workspace_variables", WORKSPACE_VARIABLE_COLUMNS, row.workspaceVariables),
    workspaceEnvironments: decodeJsonRows("workspace_environments", WORKSPACE_ENVIRONMENT_COLUMNS, row.workspaceEnvironments),
    promotionSettings: decodeJsonRows("promotion_settings", PROMOTION_SETTINGS_COLUMNS, row.promotionSettings),
  };
}

// The row types' columns as to_jsonb gives them (checked against the types by the compiler).
const MODEL_COLUMNS: Columns<ModelRow> = {
  id: "text",
  name: "text",
  next_deployment_number: "integer",
  created_at: "timestamptz",
  deleted_at: "timestamptz?",
  deployments_count: "integer",
  development_deployment_id: "text?",
};
const ENVIRONMENT_COLUMNS: Columns<EnvironmentRow> = {
  id: "text",
  model_id: "text",
  name: "text",
  current_deployment_id: "text?",
  previous_deployment_id: "text?",
  autoscaling_settings: "jsonb",
  inline_promotion_settings: "jsonb",
  promotion_settings_id: "text?",
  public: "boolean",
  shadow: "jsonb",
  workspace_environment_id: "text?",
  inherit_promotion_settings: "boolean",
  header_routing: "jsonb",
  created_at: "timestamptz",
  updated_at: "timestamptz",
  deleted_at: "timestamptz?",
};
const PROMOTION_IN_PROGRESS_COLUMNS: Columns<ControlSnapshotRows["promotionsInProgress"][number]> = { environment_id: "text", deployment_id: "text" };
const REPLICA_SET_COLUMNS: Columns<ReplicaSetRow> = { id: "text", deployment_id: "text", environment: "text?", role: "text", desired: "integer" };
const VARIABLE_COLUMNS: Columns<StoredVariableRow> = {
  environment_id: "text",
  name: "text",
  value: "text",
  secret: "boolean",
  key_id: "text?",
  created_at: "timestamptz",
  updated_at: "timestamptz",
};
const WORKSPACE_VARIABLE_COLUMNS: Columns<StoredWorkspaceVariableRow> = {
  workspace_environment_id: "text",
  name: "text",
  value: "text",
  secret: "boolean",
  key_id: "text?",
  created_at: "timestamptz",
  updated_at: "timestamptz",
};
const WORKSPACE_ENVIRONMENT_COLUMNS: Columns<WorkspaceEnvironmentRow> = {
  id: "text",
  name: "text",
  description: "text",
  inline_promotion_settings: "jsonb",
  promotion_settings_id: "text?",
  requires: "text?",
  min_soak_seconds: "integer",
  created_at: "timestamptz",
  updated_at: "timestamptz",
  deleted_at: "timestamptz?",
};
const PROMOTION_SETTINGS_COLUMNS: Columns<PromotionSettingsRow> = { id: "text", name: "text", settings: "jsonb", created_at: "timestamptz", updated_at: "timestamptz", deleted_at: "timestamptz?" };
