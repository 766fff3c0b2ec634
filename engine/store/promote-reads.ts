import type { PromotionSettings } from "../../sdk/index.js";
import { DEPLOYMENT_JSON_COLUMNS, type DeploymentRow } from "./deployments.js";
import { EFFECTIVE_PROMOTION_SETTINGS, LIVE_WORKSPACE_ENVIRONMENT_JOIN } from "./environment-views.js";
import { decodeJsonRow, type Columns } from "./json-rows.js";
import type { EnvironmentRow } from "./environments.js";
import { IN_PROGRESS_SQL, PROMOTION_DEPLOYMENT_NAME, promotionInsertWhere, type NewPromotion, type PromotionRow } from "./promotions.js";
import type { SqlExecutor, SqlWrite } from "./sql.js";

/**
 * What a promote request reads, in one statement: the deployment to promote, the promotion in
 * progress there, the settings the new one snapshots — before taking its environment's row lock
 * (a promote at once: its insert checks that what it read still holds, promotionInsertIfUnchanged)
 * or once it holds it (the locked way). Three statements before, each a turn of the event loop
 * while the transaction held PGlite's one session (or a pooled connection) and 100 promote
 * requests came at once (bench/scale). Under the lock, read after it, never in the locking
 * statement: a statement that waited for the lock still reads from the snapshot it started with,
 * and would miss the promotion the lock holder just committed.
 */

/** The promotion in progress in an environment, as the promote refusal names it. */
export type PromotionInProgress = Pick<PromotionRow, "id" | "status" | "deployment_id" | "deployment_name">;

const IN_PROGRESS_JSON_COLUMNS: Columns<PromotionInProgress> = { id: "text", status: "text", deployment_id: "text", deployment_name: "text" };

export interface PromoteReads {
  /** the live deployment of the environment's model by id (or its development deployment), if any */
  candidate: DeploymentRow | undefined;
  inProgress: PromotionInProgress | undefined;
  /** effectivePromotionSettings (engine/service/lookups.ts) */
  promotionSettings: PromotionSettings;
}

interface PromoteReadsRow {
  candidate: unknown;
  in_progress: unknown;
  promotion_settings: PromotionSettings;
}

/** A promote's reads as columns over environment `e` (`w` joined by LIVE_WORKSPACE_ENVIRONMENT_JOIN), the deployment's id or "development" in `deploymentParam`. */
function promoteReadColumns(deploymentParam: string): string {
  return `(SELECT to_json(d) FROM deployments d WHERE d.model_id = e.model_id AND d.deleted_at IS NULL
          AND (d.id = ${deploymentParam} OR (${deploymentParam} = 'development' AND d.is_development))) AS candidate,
       (SELECT to_json(p) FROM (SELECT id, status, deployment_id, ${PROMOTION_DEPLOYMENT_NAME}
          FROM promotions WHERE promotions.environment_id = e.id AND ${IN_PROGRESS_SQL}) p) AS in_progress,
       ${EFFECTIVE_PROMOTION_SETTINGS} AS promotion_settings`;
}

function promoteReadsOf(row: PromoteReadsRow): PromoteReads {
  return {
    candidate: row.candidate === null ? undefined : decodeJsonRow("deployments", DEPLOYMENT_JSON_COLUMNS, row.candidate),
    inProgress: row.in_progress === null ? undefined : decodeJsonRow("promotions", IN_PROGRESS_JSON_COLUMNS, row.in_progress),
    promotionSettings: row.promotion_settings,
  };
}

/** The reads of a promote into environment `environmentId` of `deploymentId` ("development": the model's development deployment). */
export async function readForPromote(sql: SqlExecutor, environmentId: string, deploymentId: string): Promise<PromoteReads> {
  const [row] = await sql.query<PromoteReadsRow>(
    `SELECT ${promoteReadColumns("$2")} FROM environments e ${LIVE_WORKSPACE_ENVIRONMENT_JOIN} WHERE e.id = $1`,
    [environmentId, deploymentId],
  );
  if (!row) throw new Error(`environment ${environmentId} vanished while locked`);
  return promoteReadsOf(row);
}

/**
 * The reads of a promote at once, with the environment's row, by its name, without its lock: one
 * statement (two before). Undefined when the model has no such live environment (or no model).
 */
export async function readEnvironmentForPromote(
  sql: SqlExecutor,
  modelId: string,
  environmentName: string,
  deploymentId: string,
): Promise<(PromoteReads & { environment: EnvironmentRow }) | undefined> {
  const [row] = await sql.query<EnvironmentRow & PromoteReadsRow>(
    `SELECT e.*, ${promoteReadColumns("$3")} FROM environments e ${LIVE_WORKSPACE_ENVIRONMENT_JOIN}
     WHERE e.model_id = $1 AND e.name = $2 AND e.deleted_at IS NULL`,
    [modelId, environmentName, deploymentId],
  );
  if (!row) return undefined;
  const { candidate, in_progress, promotion_settings, ...environment } = row;
  return { environment, ...promoteReadsOf({ candidate, in_progress, promotion_settings }) };
}

/** What a promote read, that its promotion depends on. */
export interface PromoteReadsToHold {
  environment: Pick<EnvironmentRow, "previous_deployment_id" | "autoscaling_settings">;
  candidate: Pick<DeploymentRow, "autoscaling_settings">;
}

/**
 * The promotion's insert, only if what the promote read before taking the environment's lock
 * still holds after it (the statement runs after the lock, and reads what committed before it):
 * the environment is live, serves and served the deployments it did, with the autoscaling and
 * promotion settings it had; the candidate is live, active, with the autoscaling settings it had;
 * nothing is in progress there. The new promotion's previous deployment is the one the
 * environment served, its settings the effective ones read.
 */
export function promotionInsertIfUnchanged(promotion: NewPromotion, read: PromoteReadsToHold): SqlWrite {
  return promotionInsertWhere(
    promotion,
    (p) => `EXISTS (SELECT 1 FROM environments e ${LIVE_WORKSPACE_ENVIRONMENT_JOIN}
         WHERE e.id = ${p.environmentId} AND e.deleted_at IS NULL
           AND e.current_deployment_id IS NOT DISTINCT FROM ${p.previousDeploymentId}
           AND e.previous_deployment_id IS NOT DISTINCT FROM ${p.param(read.environment.previous_deployment_id)}::text
           AND e.autoscaling_settings = ${p.param(JSON.stringify(read.environment.autoscaling_settings))}::jsonb
           AND ${EFFECTIVE_PROMOTION_SETTINGS} = ${p.settings})
       AND EXISTS (SELECT 1 FROM deployments d WHERE d.id = ${p.deploymentId} AND d.active AND d.deleted_at IS NULL
           AND d.autoscaling_settings = ${p.param(JSON.stringify(read.candidate.autoscaling_settings))}::jsonb)
       AND NOT EXISTS (SELECT 1 FROM promotions WHERE environment_id = ${p.environmentId} AND ${IN_PROGRESS_SQL})`,
  );
}
