import type { HeaderRouting, PromotionKind, PromotionSettings, PromotionStatus, ShadowSettings } from "../../sdk/index.js";
import type { Columns } from "./json-rows.js";
import type { SqlExecutor, SqlParam, SqlWrite } from "./sql.js";

/**
 * Promotion rows: indexed columns for what the API shows and the store constrains, JSONB for the
 * planner's own state. Every write after the insert is a compare-and-set on `version`: a writer
 * that lost a race (another engine, or a request recorded meanwhile) gets `undefined` and re-reads.
 */

export interface PromotionReplicas {
  previous: { desired: number; ready: number };
  candidate: { desired: number; ready: number };
}

export interface PromotionRow {
  id: string;
  model_id: string;
  environment_id: string;
  environment_name: string;
  deployment_id: string;
  previous_deployment_id: string | null;
  /** the deployments' names, read with the row (a deployment can be renamed: the current name) */
  deployment_name: string;
  previous_deployment_name: string | null;
  kind: PromotionKind;
  status: PromotionStatus;
  percent_traffic_to_new_version: number;
  error_message: string | null;
  step: number;
  total_steps: number;
  phase: string;
  replicas: PromotionReplicas;
  settings: PromotionSettings;
  planner_state: Record<string, unknown>;
  timeout_seconds: number | null;
  version: number;
  started_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

/** A promotion row's columns (PROMOTION_COLUMNS) as to_json / to_jsonb give them (json-rows.ts; checked against the type by the compiler). */
export const PROMOTION_JSON_COLUMNS: Columns<PromotionRow> = {
  id: "text",
  model_id: "text",
  environment_id: "text",
  environment_name: "text",
  deployment_id: "text",
  previous_deployment_id: "text?",
  deployment_name: "text",
  previous_deployment_name: "text?",
  kind: "text",
  status: "text",
  percent_traffic_to_new_version: "number",
  error_message: "text?",
  step: "integer",
  total_steps: "integer",
  phase: "text",
  replicas: "jsonb",
  settings: "jsonb",
  planner_state: "jsonb",
  timeout_seconds: "integer?",
  version: "integer",
  started_at: "timestamptz",
  updated_at: "timestamptz",
  finished_at: "timestamptz?",
};

export const IN_PROGRESS_SQL = "status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELED')";

/** A promotion row's candidate's name (in a statement reading `promotions`). */
export const PROMOTION_DEPLOYMENT_NAME = "(SELECT name FROM deployments WHERE deployments.id = promotions.deployment_id) AS deployment_name";

/** A promotion row's columns and its deployments' names: people read names, the API keeps both (a query on `promotions`, unaliased). */
export const PROMOTION_COLUMNS = `*,
  ${PROMOTION_DEPLOYMENT_NAME},
  (SELECT name FROM deployments WHERE deployments.id = promotions.previous_deployment_id) AS previous_deployment_name`;

export interface NewPromotion {
  id: string;
  modelId: string;
  environmentId: string;
  environmentName: string;
  deploymentId: string;
  previousDeploymentId: string | null;
  kind: PromotionKind;
  status: PromotionStatus;
  totalSteps: number;
  phase: string;
  replicas: PromotionReplicas;
  settings: PromotionSettings;
  plannerState: Record<string, unknown>;
  timeoutSeconds: number | null;
  at: string;
}

/** Insert a promotion. A second in-progress one for the environment violates `promotions_one_in_progress`. */
export async function insertPromotion(sql: SqlExecutor, promotion: NewPromotion): Promise<PromotionRow> {
  const [row] = await sql.query<PromotionRow>(
    `INSERT INTO promotions (${INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb, $13::jsonb, $14, $15, $15)
     RETURNING ${PROMOTION_COLUMNS}`,
    insertParams(promotion),
  );
  return row!;
}

/** The parameters a condition on an insert (promotionInsertWhere) refers to the new row's values by, and adds its own with. */
export interface PromotionInsertParams {
  environmentId: string;
  deploymentId: string;
  previousDeploymentId: string;
  settings: string;
  /** a parameter of the condition's own */
  param(value: SqlParam): string;
}

/** insertPromotion as a statement that inserts only where `condition` holds (a decided transaction's `decide`): the row, or none. */
export function promotionInsertWhere(promotion: NewPromotion, condition: (params: PromotionInsertParams) => string): SqlWrite {
  const params = insertParams(promotion);
  const where = condition({
    environmentId: "$3",
    deploymentId: "$5",
    previousDeploymentId: "$6",
    settings: "$12::jsonb",
    param: (value) => `$${params.push(value)}`,
  });
  return {
    // INSERT … SELECT: each value cast (a parameter in a select list would be text)
    text: `INSERT INTO promotions (${INSERT_COLUMNS})
     SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, $9::int, $10::text, $11::jsonb, $12::jsonb,
            $13::jsonb, $14::int, $15::timestamptz, $15::timestamptz
      WHERE ${where}
     RETURNING ${PROMOTION_COLUMNS}`,
    params,
  };
}

const INSERT_COLUMNS = `id, model_id, environment_id, environment_name, deployment_id, previous_deployment_id, kind,
       status, total_steps, phase, replicas, settings, planner_state, timeout_seconds, started_at, updated_at`;

function insertParams(promotion: NewPromotion): SqlParam[] {
  return [
    promotion.id,
    promotion.modelId,
    promotion.environmentId,
    promotion.environmentName,
    promotion.deploymentId,
    promotion.previousDeploymentId,
    promotion.kind,
    promotion.status,
    promotion.totalSteps,
    promotion.phase,
    JSON.stringify(promotion.replicas),
    JSON.stringify(promotion.settings),
    JSON.stringify(promotion.plannerState),
    promotion.timeoutSeconds,
    promotion.at,
  ];
}

export async function findPromotion(sql: SqlExecutor, id: string): Promise<PromotionRow | undefined> {
  const [row] = await sql.query<PromotionRow>(`SELECT ${PROMOTION_COLUMNS} FROM promotions WHERE id = $1`, [id]);
  return row;
}

/** A promotion by id, only if it belongs to this live environment of the model. */
export async function findPromotionOfEnvironment(sql: SqlExecutor, modelId: string, environmentName: string, id: string): Promise<PromotionRow | undefined> {
  const [row] = await sql.query<PromotionRow>(
    `SELECT ${PROMOTION_COLUMNS} FROM promotions
     WHERE id = $1 AND environment_id = (SELECT id FROM environments WHERE model_id = $2 AND name = $3 AND deleted_at IS NULL)`,
    [id, modelId, environmentName],
  );
  return row;
}

/** An in-progress promotion with a deployment as its candidate or as the deployment it replaces. */
export async function findInProgressPromotionInvolving(
  sql: SqlExecutor,
  deploymentId: string,
): Promise<Pick<PromotionRow, "id" | "environment_name" | "deployment_id"> | undefined> {
  const [row] = await sql.query<Pick<PromotionRow, "id" | "environment_name" | "deployment_id">>(
    `SELECT id, environment_name, deployment_id FROM promotions
     WHERE (deployment_id = $1 OR previous_deployment_id = $1) AND ${IN_PROGRESS_SQL} LIMIT 1`,
    [deploymentId],
  );
  return row;
}

/** An environment's promotion in progress; `forUpdate` locks its row (after the environment's: the one lock order). */
export async function findInProgressPromotion(
  sql: SqlExecutor,
  environmentId: string,
  forUpdate = false,
): Promise<PromotionRow | undefined> {
  const [row] = await sql.query<PromotionRow>(
    `SELECT ${PROMOTION_COLUMNS} FROM promotions WHERE environment_id = $1 AND ${IN_PROGRESS_SQL}${forUpdate ? " FOR UPDATE" : ""}`,
    [environmentId],
  );
  return row;
}

/** What the router needs of an environment: its deployment, and the in-progress promotion's candidate and split. */
export interface EnvironmentRouteRow {
  environment_id: string;
  current_deployment_id: string | null;
  candidate_deployment_id: string | null;
  percent_traffic_to_new_version: number | null;
  /** the environment's shadow (sdk/schemas/shadow.ts), null: none */
  shadow: ShadowSettings | null;
  /** the environment's header routing, null: off */
  header_routing: HeaderRouting | null;
}

/**
 * An environment's route in one statement, so one snapshot: a promotion's terminal write changes
 * the promotion and the environment's current deployment in one transaction, and two separate
 * reads around that commit could pair the old current deployment with "no promotion" (all traffic
 * back to the previous deployment after SUCCEEDED) or the new one with a stale candidate.
 */
export async function findEnvironmentRoute(sql: SqlExecutor, modelId: string, environmentName: string): Promise<EnvironmentRouteRow | undefined> {
  const [row] = await sql.query<EnvironmentRouteRow>(
    `SELECT environments.id AS environment_id, environments.current_deployment_id,
            promotions.deployment_id AS candidate_deployment_id, promotions.percent_traffic_to_new_version,
            environments.shadow, environments.header_routing
       FROM environments
       LEFT JOIN promotions ON promotions.environment_id = environments.id AND promotions.${IN_PROGRESS_SQL}
      WHERE environments.model_id = $1 AND environments.name = $2 AND environments.deleted_at IS NULL`,
    [modelId, environmentName],
  );
  return row;
}

/**
 * Every live environment's route (findEnvironmentRoute's columns) of every live model, in one
 * statement: the resync sets the router's table from it (one statement instead of one per environment).
 */
export async function listEnvironmentRoutes(sql: SqlExecutor): Promise<Array<EnvironmentRouteRow & { model_id: string; name: string }>> {
  return sql.query<EnvironmentRouteRow & { model_id: string; name: string }>(
    `SELECT environments.model_id, environments.name, environments.id AS environment_id, environments.current_deployment_id,
            promotions.deployment_id AS candidate_deployment_id, promotions.percent_traffic_to_new_version,
            environments.shadow, environments.header_routing
       FROM environments
       JOIN models ON models.id = environments.model_id AND models.deleted_at IS NULL
       LEFT JOIN promotions ON promotions.environment_id = environments.id AND promotions.${IN_PROGRESS_SQL}
      WHERE environments.deleted_at IS NULL
      ORDER BY environments.model_id, (environments.name = 'production') DESC, environments.name`,
  );
}

/** An environment's promotions, newest first. */
export async function listPromotions(sql: SqlExecutor, environmentId: string, limit = 100): Promise<PromotionRow[]> {
  return sql.query<PromotionRow>(
    `SELECT ${PROMOTION_COLUMNS} FROM promotions WHERE environment_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2`,
    [environmentId, limit],
  );
}

/**
 * Every in-progress promotion (engine start, reconciler tick). With `claim` inside a transaction on
 * PostgreSQL, rows another engine is working on are skipped (`FOR UPDATE SKIP LOCKED`); PGlite has
 * one session, where the clause is harmless.
 */
export async function listInProgressPromotions(
  sql: SqlExecutor,
  options: { claim?: boolean; limit?: number } = {},
): Promise<PromotionRow[]> {
  return sql.query<PromotionRow>(
    `SELECT ${PROMOTION_COLUMNS} FROM promotions WHERE ${IN_PROGRESS_SQL} ORDER BY started_at, id LIMIT $1
     ${options.claim ? "FOR UPDATE SKIP LOCKED" : ""}`,
    [options.limit ?? 1000],
  );
}

/** What the metrics export shows of an environment's latest promotion. */
export type PromotionSummaryRow = Pick<
  PromotionRow,
  | "model_id"
  | "environment_name"
  | "deployment_id"
  | "previous_deployment_id"
  | "kind"
  | "status"
  | "percent_traffic_to_new_version"
  | "step"
  | "total_steps"
  | "started_at"
  | "finished_at"
>;

/** The latest promotion of every live environment (one row each; at most one is in progress). */
export async function listLatestPromotionPerEnvironment(sql: Pick<SqlExecutor, "query">): Promise<PromotionSummaryRow[]> {
  return sql.query<PromotionSummaryRow>(
    `SELECT DISTINCT ON (p.environment_id) p.model_id, p.environment_name, p.deployment_id, p.previous_deployment_id, p.kind,
       p.status, p.percent_traffic_to_new_version, p.step, p.total_steps, p.started_at, p.finished_at
     FROM promotions p
     JOIN environments e ON e.id = p.environment_id AND e.deleted_at IS NULL
     JOIN models m ON m.id = p.model_id AND m.deleted_at IS NULL
     ORDER BY p.environment_id, p.started_at DESC, p.id DESC`,
  );
}

export interface PromotionChanges {
  status?: PromotionStatus;
  percentTrafficToNewVersion?: number;
  errorMessage?: string | null;
  step?: number;
  totalSteps?: number;
  phase?: string;
  replicas?: PromotionReplicas;
  plannerState?: Record<string, unknown>;
  finishedAt?: string | null;
}

/**
 * The one write point for promotion state: applies `changes` only if the row still has
 * `expectedVersion`, bumping it. Returns the new row, or undefined when someone else wrote first.
 */
export async function compareAndSetPromotion(
  sql: SqlExecutor,
  id: string,
  expectedVersion: number,
  changes: PromotionChanges,
  at: string,
): Promise<PromotionRow | undefined> {
  const { text, params } = promotionCompareAndSet(id, expectedVersion, changes, at);
  const [row] = await sql.query<PromotionRow>(text, params);
  return row;
}

/** compareAndSetPromotion as a statement (a decided transaction's `decide`): it returns the new row, or none. */
export function promotionCompareAndSet(id: string, expectedVersion: number, changes: PromotionChanges, at: string): SqlWrite {
  const sets: string[] = ["version = version + 1", "updated_at = $3"];
  const params: (string | number | null)[] = [id, expectedVersion, at];
  const set = (column: string, value: string | number | null, cast = "") => {
    params.push(value);
    sets.push(`${column} = $${params.length}${cast}`);
  };
  if (changes.status !== undefined) set("status", changes.status);
  if (changes.percentTrafficToNewVersion !== undefined)
    set("percent_traffic_to_new_version", changes.percentTrafficToNewVersion);
  if (changes.errorMessage !== undefined) set("error_message", changes.errorMessage);
  if (changes.step !== undefined) set("step", changes.step);
  if (changes.totalSteps !== undefined) set("total_steps", changes.totalSteps);
  if (changes.phase !== undefined) set("phase", changes.phase);
  if (changes.replicas !== undefined) set("replicas", JSON.stringify(changes.replicas), "::jsonb");
  if (changes.plannerState !== undefined) set("planner_state", JSON.stringify(changes.plannerState), "::jsonb");
  if (changes.finishedAt !== undefined) set("finished_at", changes.finishedAt);
  return { text: `UPDATE promotions SET ${sets.join(", ")} WHERE id = $1 AND version = $2 RETURNING ${PROMOTION_COLUMNS}`, params };
}
