import type { SqlExecutor } from "./sql.js";

export interface ModelRow {
  id: string;
  name: string;
  next_deployment_number: number;
  created_at: Date;
  deleted_at: Date | null;
  /** its live deployments, kept by the database (migration 14) */
  deployments_count: number;
  /** its live development deployment, kept by the database (migration 14) */
  development_deployment_id: string | null;
}

export async function insertModel(sql: SqlExecutor, model: { id: string; name: string; at: string }): Promise<ModelRow> {
  const [row] = await sql.query<ModelRow>(
    "INSERT INTO models (id, name, created_at) VALUES ($1, $2, $3) RETURNING *",
    [model.id, model.name, model.at],
  );
  return row!;
}

/** A live (not deleted) model; `forUpdate` locks it so concurrent writers under it are ordered. */
export async function findLiveModel(sql: SqlExecutor, id: string, forUpdate = false): Promise<ModelRow | undefined> {
  const [row] = await sql.query<ModelRow>(
    `SELECT * FROM models WHERE id = $1 AND deleted_at IS NULL${forUpdate ? " FOR UPDATE" : ""}`,
    [id],
  );
  return row;
}

export async function listLiveModels(sql: SqlExecutor): Promise<ModelRow[]> {
  return sql.query<ModelRow>("SELECT * FROM models WHERE deleted_at IS NULL ORDER BY created_at, id");
}

/** Whether a model row exists, deleted or not (a deleted model's audit log stays readable). */
export async function modelEverExisted(sql: SqlExecutor, id: string): Promise<boolean> {
  return (await sql.query("SELECT 1 FROM models WHERE id = $1", [id])).length > 0;
}

export interface ModelSummaryRow {
  deployments_count: number;
  production_deployment_id: string | null;
  development_deployment_id: string | null;
}

/** The deployment serving the model's production, as a column: for the model whose id is the SQL expression `modelId`. */
function productionColumn(modelId: string): string {
  return `(SELECT current_deployment_id FROM environments
     WHERE model_id = ${modelId} AND name = 'production' AND deleted_at IS NULL) AS production_deployment_id`;
}

/** What a model's API object shows about what is under it. */
export async function summarizeModel(sql: SqlExecutor, modelId: string): Promise<ModelSummaryRow> {
  const [row] = await sql.query<ModelSummaryRow>(
    `SELECT deployments_count, development_deployment_id, ${productionColumn("$1")} FROM models WHERE id = $1`,
    [modelId],
  );
  return row ?? { deployments_count: 0, production_deployment_id: null, development_deployment_id: null };
}

/** A live model with its summary, in one statement (GET /v1/models/{id}: two before, its row then the summary). */
export async function findLiveModelSummary(sql: SqlExecutor, id: string): Promise<(ModelRow & ModelSummaryRow) | undefined> {
  const [row] = await sql.query<ModelRow & ModelSummaryRow>(`SELECT models.*, ${productionColumn("models.id")} FROM models WHERE id = $1 AND deleted_at IS NULL`, [id]);
  return row;
}

/**
 * Every live model with its summary, in one statement: GET /v1/models summarized each model with a
 * query of its own, 1,001 statements for 1,000 models (bench/scale: about 1 s of the embedded
 * store's time per list, during which every other query waits). Production's deployment by a join:
 * one pass over production environments instead of a lookup per model (~4 against ~6 ms here).
 */
export async function listLiveModelSummaries(sql: SqlExecutor): Promise<Array<ModelRow & ModelSummaryRow>> {
  return sql.query<ModelRow & ModelSummaryRow>(
    `SELECT models.*, production.current_deployment_id AS production_deployment_id
     FROM models LEFT JOIN environments production
       ON production.model_id = models.id AND production.name = 'production' AND production.deleted_at IS NULL
     WHERE models.deleted_at IS NULL ORDER BY models.created_at, models.id`,
  );
}

/** Reserve the next `deployment-N` number of a model. */
export async function takeDeploymentNumber(sql: SqlExecutor, modelId: string): Promise<number> {
  const [row] = await sql.query<{ n: number }>(
    "UPDATE models SET next_deployment_number = next_deployment_number + 1 WHERE id = $1 RETURNING next_deployment_number - 1 AS n",
    [modelId],
  );
  return row!.n;
}

/** Soft-delete a model and everything under it, in the order the production trigger requires. */
export async function softDeleteModelCascade(sql: SqlExecutor, modelId: string, at: string): Promise<void> {
  await sql.query("UPDATE models SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL", [modelId, at]);
  await sql.query(
    `UPDATE promotions SET status = 'CANCELED', error_message = 'model deleted', finished_at = $2, updated_at = $2,
       version = version + 1
     WHERE model_id = $1 AND status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELED')`,
    [modelId, at],
  );
  await sql.query(
    "UPDATE environments SET deleted_at = $2, updated_at = $2 WHERE model_id = $1 AND deleted_at IS NULL",
    [modelId, at],
  );
  await sql.query(
    "UPDATE deployments SET deleted_at = $2, updated_at = $2, active = false WHERE model_id = $1 AND deleted_at IS NULL",
    [modelId, at],
  );
}
