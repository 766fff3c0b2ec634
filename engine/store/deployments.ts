import type { AutoscalingSettings, DeploymentStatus, Resources } from "../../sdk/index.js";
import { arrayLiteral } from "./array-literal.js";
import type { Columns } from "./json-rows.js";
import type { AtCommit, SqlExecutor, SqlParam, SqlWrite } from "./sql.js";

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

export interface NewDeployment {
  id: string;
  modelId: string;
  name: string;
  isDevelopment: boolean;
  spec: DeploymentSpec;
  autoscalingSettings: AutoscalingSettings;
  status: DeploymentStatus;
  at: string;
}

const INSERT_COLUMNS = "(id, model_id, name, is_development, spec, autoscaling_settings, status, created_at, updated_at)";
const INSERT_VALUES = "$1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $8";

function insertParams(deployment: NewDeployment): SqlParam[] {
  return [
    deployment.id,
    deployment.modelId,
    deployment.name,
    deployment.isDevelopment,
    JSON.stringify(deployment.spec),
    JSON.stringify(deployment.autoscalingSettings),
    deployment.status,
    deployment.at,
  ];
}

export async function insertDeployment(sql: SqlExecutor, deployment: NewDeployment): Promise<DeploymentRow> {
  const [row] = await sql.query<DeploymentRow>(`INSERT INTO deployments ${INSERT_COLUMNS} VALUES (${INSERT_VALUES}) RETURNING *`, insertParams(deployment));
  return row!;
}

/**
 * A new deployment's insert that decides (a decided transaction's `decide`, sql.ts): only into a
 * live model, whose row it locks as the locked way does (a model's deletion waits for it). With
 * `numberRead`, its name is that number's `deployment-N`: it takes the number only if the model's
 * next one still is `numberRead` and no live deployment has that name. No row: nothing written.
 */
export function deploymentInsertIfFree(deployment: NewDeployment, numberRead?: number): SqlWrite {
  const params = insertParams(deployment);
  if (numberRead === undefined) {
    return {
      text: `WITH model AS (SELECT id FROM models WHERE id = $2 AND deleted_at IS NULL FOR UPDATE)
             INSERT INTO deployments ${INSERT_COLUMNS} SELECT ${INSERT_VALUES} FROM model RETURNING *`,
      params,
    };
  }
  return {
    text: `WITH model AS (UPDATE models SET next_deployment_number = next_deployment_number + 1
                          WHERE id = $2 AND deleted_at IS NULL AND next_deployment_number = $9 RETURNING id)
           INSERT INTO deployments ${INSERT_COLUMNS} SELECT ${INSERT_VALUES} FROM model
           WHERE NOT EXISTS (SELECT 1 FROM deployments WHERE model_id = $2 AND name = $3 AND deleted_at IS NULL)
           RETURNING *`,
    params: [...params, numberRead],
  };
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
  const { text, params } = deploymentUpdate(id, changes, at);
  const [row] = await sql.query<DeploymentRow>(`${text} RETURNING *`, params);
  if (!row) throw new Error(`deployment ${id} vanished during update`);
  return row;
}

/**
 * A deployment's autoscaling settings set to `settings` only if they still are `read` (a decided
 * transaction's `decide`, sql.ts: no row, nothing written). Returns the row as the API shows it,
 * with the environment it serves.
 */
export function autoscalingUpdateIfUnchanged(id: string, read: AutoscalingSettings, settings: AutoscalingSettings, at: string): SqlWrite {
  return {
    text: `UPDATE deployments SET updated_at = $2, autoscaling_settings = $3::jsonb
           WHERE id = $1 AND deleted_at IS NULL AND autoscaling_settings = $4::jsonb
           RETURNING deployments.*, ${SERVING_ENVIRONMENT_COLUMN}`,
    params: [id, at, JSON.stringify(settings), JSON.stringify(read)],
  };
}

/** updateDeployment with the transaction's COMMIT, when nothing reads the row it writes (SqlTransaction.writeAtCommit). */
export function updateDeploymentAtCommit(tx: AtCommit, id: string, changes: DeploymentChanges, at: string): void {
  const { text, params } = deploymentUpdate(id, changes, at);
  tx.writeAtCommit(text, params);
}

/**
 * The cleanup of a promotion's previous deployment, with the transaction's COMMIT: `deactivate`
 * (inactive: its replicas go), or `scale_to_zero` (its autoscaling floor to 0, the rest kept: at the
 * environment's min_replica the autoscaler, or a restart, would bring it straight back; promoting
 * it again overwrites its settings anyway). Not while it still serves an environment other than
 * `environmentId` — checked by the write itself, after the transaction's own changes.
 */
export function retireDeploymentAtCommit(tx: AtCommit, id: string, action: "deactivate" | "scale_to_zero", environmentId: string, at: string): void {
  const change =
    action === "deactivate"
      ? "active = false, status = 'INACTIVE'"
      : "autoscaling_settings = jsonb_set(autoscaling_settings, '{min_replica}', '0')";
  const unchanged = action === "deactivate" ? "" : "AND deleted_at IS NULL AND (autoscaling_settings->>'min_replica')::int <> 0";
  tx.writeAtCommit(
    `UPDATE deployments SET updated_at = $2, ${change} WHERE id = $1 ${unchanged}
       AND NOT EXISTS (SELECT 1 FROM environments WHERE current_deployment_id = $1 AND id <> $3 AND deleted_at IS NULL)`,
    [id, at, environmentId],
  );
}

function deploymentUpdate(id: string, changes: DeploymentChanges, at: string): SqlWrite {
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
  return { text: `UPDATE deployments SET ${sets.join(", ")} WHERE id = $1`, params };
}

export async function softDeleteDeployment(sql: SqlExecutor, id: string, at: string): Promise<void> {
  await sql.query("UPDATE deployments SET deleted_at = $2, updated_at = $2, active = false WHERE id = $1", [id, at]);
}

/** The columns of a deployment row that say what the runtime observes, and what they are decided from. */
export type ObservedDeploymentRow = Pick<
  DeploymentRow,
  "id" | "model_id" | "name" | "active" | "status" | "error_message" | "replicas_desired" | "replicas_ready" | "replicas_starting"
>;

/** The observed columns' select list (ObservedDeploymentRow). */
const OBSERVED_COLUMNS = "id, model_id, name, active, status, error_message, replicas_desired, replicas_ready, replicas_starting";

/** Many live deployments' observed columns in one statement (ids not live are left out). */
export async function findLiveObservedDeployments(sql: SqlExecutor, ids: readonly string[]): Promise<ObservedDeploymentRow[]> {
  if (ids.length === 0) return [];
  return sql.query<ObservedDeploymentRow>(`SELECT ${OBSERVED_COLUMNS} FROM deployments WHERE id = ANY($1::text[]) AND deleted_at IS NULL`, [arrayLiteral(ids)]);
}

/** One row's observation write: the row as the decision read it, what it is changed to, and the
 * audit entry's id when its status changes. */
export interface ObservationWrite {
  expected: ObservedDeploymentRow;
  changes: { status: DeploymentStatus; replicas: { desired: number; ready: number; starting: number }; errorMessage: string | null };
  /** the deployment.status_changed entry's id (used when the status changes) */
  auditId: string;
}

/**
 * Write what the runtime observes (status, counts, error) onto many live deployments' rows in one
 * statement, each only if the row still says what its decision read (and `active`, which the status
 * is decided from): a compare-and-set per row, so a decision made from an outdated copy of the row
 * never lands. Each written row whose status changed
 * gets its deployment.status_changed audit entry in the same statement ("when did it scale to zero,
 * why did it fail"). Returns the rows written (their observed columns); a row left out differs, or
 * is gone: read it and decide again. One statement a row, with a read before each and a
 * transaction around the audited ones, was the largest group of the control loop's statements per
 * promotion step in bench/scale.
 */
export async function writeDeploymentObservations(sql: SqlExecutor, writes: readonly ObservationWrite[], at: string): Promise<ObservedDeploymentRow[]> {
  if (writes.length === 0) return [];
  const column = <T extends string | number | null>(value: (write: ObservationWrite) => T) => arrayLiteral(writes.map(value));
  return sql.query<ObservedDeploymentRow>(
    `WITH observation AS (
       SELECT * FROM unnest($2::text[], $3::text[], $4::int[], $5::int[], $6::int[], $7::text[], $8::bool[], $9::text[], $10::int[], $11::int[], $12::int[], $13::text[], $14::text[])
         AS observation(id, status, desired, ready, starting, error_message, was_active, was_status, was_desired, was_ready, was_starting, was_error_message, audit_id)
     ), updated AS (
       UPDATE deployments d SET status = observation.status, replicas_desired = observation.desired, replicas_ready = observation.ready,
         replicas_starting = observation.starting, error_message = observation.error_message, updated_at = $1
       FROM observation
       WHERE d.id = observation.id AND d.deleted_at IS NULL AND d.active = observation.was_active AND d.status = observation.was_status
         AND d.replicas_desired = observation.was_desired AND d.replicas_ready = observation.was_ready AND d.replicas_starting = observation.was_starting
         AND d.error_message IS NOT DISTINCT FROM observation.was_error_message
       RETURNING ${OBSERVED_COLUMNS.split(", ").map((name) => `d.${name}`).join(", ")}, observation.was_status, observation.audit_id
     ), audited AS (
       INSERT INTO audit_logs (id, model_id, at, kind, object_id, object_name, details)
       SELECT audit_id, model_id, $1, 'deployment.status_changed', id, name,
         jsonb_build_object('from', was_status, 'to', status)
           || CASE WHEN error_message IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('error_message', error_message) END
       FROM updated WHERE status <> was_status
     )
     SELECT ${OBSERVED_COLUMNS} FROM updated`,
    [
      at,
      column((write) => write.expected.id),
      column((write) => write.changes.status),
      column((write) => write.changes.replicas.desired),
      column((write) => write.changes.replicas.ready),
      column((write) => write.changes.replicas.starting),
      column((write) => write.changes.errorMessage),
      column((write) => String(write.expected.active)),
      column((write) => write.expected.status),
      column((write) => write.expected.replicas_desired),
      column((write) => write.expected.replicas_ready),
      column((write) => write.expected.replicas_starting),
      column((write) => write.expected.error_message),
      column((write) => write.auditId),
    ],
  );
}

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

