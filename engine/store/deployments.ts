import type { AutoscalingSettings, DeploymentStatus, Resources } from "../../sdk/index.js";
import type { Columns } from "./json-rows.js";
import type { SqlExecutor } from "./sql.js";

/** How to run a replica, as stored in `deployments.spec`. */
export interface DeploymentSpec {
  command: string[];
  cwd?: string;
  image?: string;
  port?: number;
  readiness_path: string;
  predict_path: string;
  env: Record<string, string>;
  resources?: Resources;
}

export interface DeploymentRow {
  id: string;
  model_id: string;
  name: string;
  is_development: boolean;
  spec: DeploymentSpec;
  autoscaling_settings: AutoscalingSettings;
  active: boolean;
  status: DeploymentStatus;
  error_message: string | null;
  replicas_desired: number;
  replicas_ready: number;
  replicas_starting: number;
  revision: number;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

/** A deployment row's columns as to_json / to_jsonb give them (json-rows.ts; checked against the type by the compiler). */
export const DEPLOYMENT_JSON_COLUMNS: Columns<DeploymentRow> = {
  id: "text",
  model_id: "text",
  name: "text",
  is_development: "boolean",
  spec: "jsonb",
  autoscaling_settings: "jsonb",
  active: "boolean",
  status: "text",
  error_message: "text?",
  replicas_desired: "integer",
  replicas_ready: "integer",
  replicas_starting: "integer",
  revision: "integer",
  created_at: "timestamptz",
  updated_at: "timestamptz",
  deleted_at: "timestamptz?",
};

export async function insertDeployment(
  sql: SqlExecutor,
  deployment: {
    id: string;
    modelId: string;
    name: string;
    isDevelopment: boolean;
    spec: DeploymentSpec;
    autoscalingSettings: AutoscalingSettings;
    status: DeploymentStatus;
    at: string;
  },
): Promise<DeploymentRow> {
  const [row] = await sql.query<DeploymentRow>(
    `INSERT INTO deployments (id, model_id, name, is_development, spec, autoscaling_settings, status, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $8) RETURNING *`,
    [
      deployment.id,
      deployment.modelId,
      deployment.name,
      deployment.isDevelopment,
      JSON.stringify(deployment.spec),
      JSON.stringify(deployment.autoscalingSettings),
      deployment.status,
      deployment.at,
    ],
  );
  return row!;
}

/** A live deployment of a model by id, or the development deployment when `idOrDevelopment` is "development". */
export async function findLiveDeployment(
  sql: SqlExecutor,
  modelId: string,
  idOrDevelopment: string,
  forUpdate = false,
): Promise<DeploymentRow | undefined> {
  const [row] = await sql.query<DeploymentRow>(
    `SELECT * FROM deployments
     WHERE model_id = $1 AND deleted_at IS NULL AND (id = $2 OR ($2 = 'development' AND is_development))
     ${forUpdate ? "FOR UPDATE" : ""}`,
    [modelId, idOrDevelopment],
  );
  return row;
}

/** A live deployment (as findLiveDeployment) and the environment it serves: production first, then by name; null: none. */
export type ServingDeploymentRow = DeploymentRow & { serving_environment: string | null };

/** The environment a deployment serves, production first then by name (a column of a query on `deployments`, unaliased). */
export const SERVING_ENVIRONMENT_COLUMN = `(SELECT name FROM environments
         WHERE environments.current_deployment_id = deployments.id AND environments.deleted_at IS NULL
         ORDER BY (name = 'production') DESC, name LIMIT 1) AS serving_environment`;

/**
 * findLiveDeployment with the name of the environment the deployment serves, in one statement: what
 * the API shows of a deployment (a second statement per GET before, for the model's serving
 * environments; the embedded store runs one statement at a time for everyone).
 */
export async function findLiveDeploymentServing(sql: SqlExecutor, modelId: string, idOrDevelopment: string): Promise<ServingDeploymentRow | undefined> {
  const [row] = await sql.query<ServingDeploymentRow>(
    `SELECT deployments.*, ${SERVING_ENVIRONMENT_COLUMN}
     FROM deployments
     WHERE model_id = $1 AND deleted_at IS NULL AND (id = $2 OR ($2 = 'development' AND is_development))`,
    [modelId, idOrDevelopment],
  );
  return row;
}

/** Whether a live deployment of the model has this name. */
export async function deploymentNameTaken(sql: SqlExecutor, modelId: string, name: string): Promise<boolean> {
  const rows = await sql.query("SELECT 1 FROM deployments WHERE model_id = $1 AND name = $2 AND deleted_at IS NULL", [modelId, name]);
  return rows.length > 0;
}

/** Any live deployment by id (the reconciler and router do not always know the model). */
export async function findLiveDeploymentById(sql: SqlExecutor, id: string): Promise<DeploymentRow | undefined> {
  const [row] = await sql.query<DeploymentRow>("SELECT * FROM deployments WHERE id = $1 AND deleted_at IS NULL", [id]);
  return row;
}

export async function listLiveDeployments(sql: SqlExecutor, modelId: string): Promise<DeploymentRow[]> {
  return sql.query<DeploymentRow>(
    "SELECT * FROM deployments WHERE model_id = $1 AND deleted_at IS NULL ORDER BY created_at, id",
    [modelId],
  );
}

/** listLiveDeployments, each with the environment it serves (findLiveDeploymentServing), in one statement. */
export async function listLiveDeploymentsServing(sql: SqlExecutor, modelId: string): Promise<ServingDeploymentRow[]> {
  return sql.query<ServingDeploymentRow>(
    `SELECT deployments.*, ${SERVING_ENVIRONMENT_COLUMN} FROM deployments WHERE model_id = $1 AND deleted_at IS NULL ORDER BY created_at, id`,
    [modelId],
  );
}

/** Every live deployment of every live model (engine start: what the runtime must converge to). */
export async function listAllLiveDeployments(sql: SqlExecutor): Promise<DeploymentRow[]> {
  return sql.query<DeploymentRow>("SELECT * FROM deployments WHERE deleted_at IS NULL ORDER BY created_at, id");
}

export interface DeploymentChanges {
  name?: string;
  spec?: DeploymentSpec;
  autoscalingSettings?: AutoscalingSettings;
  active?: boolean;
  status?: DeploymentStatus;
  errorMessage?: string | null;
  replicas?: { desired: number; ready: number; starting: number };
  bumpRevision?: boolean;
}

export async function updateDeployment(
  sql: SqlExecutor,
  id: string,
  changes: DeploymentChanges,
  at: string,
): Promise<DeploymentRow> {
  const sets: string[] = ["updated_at = $2"];
  const params: (string | number | boolean | null)[] = [id, at];
  const set = (column: string, value: string | number | boolean | null, cast = "") => {
    params.push(value);
    sets.push(`${column} = $${params.length}${cast}`);
  };
  if (changes.name !== undefined) set("name", changes.name);
  if (changes.spec !== undefined) set("spec", JSON.stringify(changes.spec), "::jsonb");
  if (changes.autoscalingSettings !== undefined)
    set("autoscaling_settings", JSON.stringify(changes.autoscalingSettings), "::jsonb");
  if (changes.active !== undefined) set("active", changes.active);
  if (changes.status !== undefined) set("status", changes.status);
  if (changes.errorMessage !== undefined) set("error_message", changes.errorMessage);
  if (changes.replicas !== undefined) {
    set("replicas_desired", changes.replicas.desired);
    set("replicas_ready", changes.replicas.ready);
    set("replicas_starting", changes.replicas.starting);
  }
  if (changes.bumpRevision) sets.push("revision = revision + 1");
  const [row] = await sql.query<DeploymentRow>(
    `UPDATE deployments SET ${sets.join(", ")} WHERE id = $1 RETURNING *`,
    params,
  );
  if (!row) throw new Error(`deployment ${id} vanished during update`);
  return row;
}

export async function softDeleteDeployment(sql: SqlExecutor, id: string, at: string): Promise<void> {
  await sql.query("UPDATE deployments SET deleted_at = $2, updated_at = $2, active = false WHERE id = $1", [id, at]);
}

/** The columns of a deployment row that say what the runtime observes, and what they are decided from. */
export type ObservedDeploymentRow = Pick<
  DeploymentRow,
  "id" | "model_id" | "name" | "active" | "status" | "error_message" | "replicas_desired" | "replicas_ready" | "replicas_starting"
>;

/** An ObservedDeploymentRow of a full row (a copy: the row's spec and settings are not held on to). */
export function observedColumns(row: ObservedDeploymentRow): ObservedDeploymentRow {
  return {
    id: row.id,
    model_id: row.model_id,
    name: row.name,
    active: row.active,
    status: row.status,
    error_message: row.error_message,
    replicas_desired: row.replicas_desired,
    replicas_ready: row.replicas_ready,
    replicas_starting: row.replicas_starting,
  };
}

/**
 * Write what the runtime observes (status, counts, error) onto a live deployment's row, only if the
 * row still says `expected` there (and `active`, which the status is decided from): a
 * compare-and-set on the values the decision was made from, so a decision made from an outdated
 * copy of the row never lands. Returns the row's observed columns as written, or undefined when
 * the row differs (or is gone): read it and decide again.
 */
export async function updateDeploymentObservation(
  sql: SqlExecutor,
  expected: ObservedDeploymentRow,
  changes: { status: DeploymentStatus; replicas: { desired: number; ready: number; starting: number }; errorMessage: string | null },
  at: string,
): Promise<ObservedDeploymentRow | undefined> {
  const [row] = await sql.query<ObservedDeploymentRow>(
    `UPDATE deployments SET status = $3, replicas_desired = $4, replicas_ready = $5, replicas_starting = $6, error_message = $7, updated_at = $2
     WHERE id = $1 AND deleted_at IS NULL AND active = $8 AND status = $9 AND replicas_desired = $10 AND replicas_ready = $11
       AND replicas_starting = $12 AND error_message IS NOT DISTINCT FROM $13::text
     RETURNING id, model_id, name, active, status, error_message, replicas_desired, replicas_ready, replicas_starting`,
    [
      expected.id,
      at,
      changes.status,
      changes.replicas.desired,
      changes.replicas.ready,
      changes.replicas.starting,
      changes.errorMessage,
      expected.active,
      expected.status,
      expected.replicas_desired,
      expected.replicas_ready,
      expected.replicas_starting,
      expected.error_message,
    ],
  );
  return row;
}
