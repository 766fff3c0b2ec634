/**
 * The one place a promotion's planner state is written: the row's columns mirror the state for
 * the API, every write is a compare-and-set on the row's version, and a terminal state is written
 * in the same transaction as its consequences (the environment's current deployment, the cleanup
 * strategy's deactivation, the audit entry), so no crash can separate them.
 */
import { capErrorMessage } from "../runtime/error-message.js";
import { cleanupFor, isTerminalStatus, type PromotionState } from "../rollout/index.js";
import type { PromotionWebhookResult } from "../../sdk/index.js";
import { appendAuditLog } from "../store/audit-log.js";
import { retireDeploymentAtCommit } from "../store/deployments.js";
import { environmentLock, updateEnvironmentAtCommit } from "../store/environments.js";
import { compareAndSetPromotion, promotionCompareAndSet, type PromotionChanges, type PromotionRow } from "../store/promotions.js";
import { isTransaction, writesCollector, type AtCommit, type Sql, type SqlExecutor } from "../store/sql.js";
import { newObjectId } from "../service/ids.js";

export interface ObservedReady {
  previous: number;
  candidate: number;
}

/** The row fields that mirror the planner state (ready counts are what the runtime observed). */
export function promotionRowChanges(state: PromotionState, ready: ObservedReady, at: string): PromotionChanges {
  return {
    status: state.status,
    percentTrafficToNewVersion: state.percentTrafficToNewVersion,
    errorMessage: state.errorMessage === undefined ? null : capErrorMessage(state.errorMessage),
    step: state.step,
    totalSteps: state.totalSteps,
    phase: state.phase,
    replicas: {
      previous: { desired: state.desiredReplicas.previous, ready: ready.previous },
      candidate: { desired: state.desiredReplicas.candidate, ready: ready.candidate },
    },
    plannerState: state as unknown as Record<string, unknown>,
    finishedAt: isTerminalStatus(state.status) ? new Date(state.finishedAt ?? Date.parse(at)).toISOString() : null,
  };
}

/**
 * Write `state` over `row` if nobody wrote since it was read; a terminal state with its consequences,
 * in the caller's transaction. Returns the new row, or undefined when another writer won.
 */
export async function persistPromotionState(
  sql: SqlExecutor,
  row: PromotionRow,
  state: PromotionState,
  ready: ObservedReady,
  at: string,
): Promise<PromotionRow | undefined> {
  const written = await compareAndSetPromotion(sql, row.id, row.version, promotionRowChanges(state, ready, at), at);
  if (!written || !isTerminalStatus(state.status)) return written;
  if (!isTransaction(sql)) throw new Error(`promotion ${row.id}: a terminal state is written in a transaction, with its consequences`);
  // The consequences are read by nothing in this transaction: written with the COMMIT, after the
  // compare-and-set (the environment's lock, taken first by every writer of both, keeps them in order).
  writeEndConsequences(sql, row, state, at);
  return written;
}

/**
 * persistPromotionState as one decided transaction (sql.ts), for the control loop: the
 * compare-and-set decides; an end locks the environment first (the one lock order) and writes its
 * consequences after it, `audit` adds its entries. `decided` runs once the write won, before this
 * engine handles anything that could read it (an end switches the router there).
 */
export async function persistPromotionStateAtOnce(
  sql: Sql,
  row: PromotionRow,
  state: PromotionState,
  ready: ObservedReady,
  at: string,
  options: { audit?: (tx: AtCommit) => void; decided?: (written: PromotionRow) => void } = {},
): Promise<PromotionRow | undefined> {
  const terminal = isTerminalStatus(state.status);
  const writes = writesCollector();
  if (terminal) writeEndConsequences(writes, row, state, at);
  options.audit?.(writes);
  const [written] = await sql.decidedTransaction<PromotionRow>(
    {
      before: terminal ? [environmentLock(row.environment_id)] : [],
      decide: promotionCompareAndSet(row.id, row.version, promotionRowChanges(state, ready, at), at),
      writes: writes.writes,
    },
    ([decided]) => decided && options.decided?.(decided),
  );
  return written;
}

/** What an end changes besides its row: the environment's deployment, the cleanup, the audit entry. */
function writeEndConsequences(tx: AtCommit, row: PromotionRow, state: PromotionState, at: string): void {
  if (state.status === "SUCCEEDED") {
    updateEnvironmentAtCommit(tx, row.environment_id, { currentDeploymentId: state.candidateDeploymentId, previousDeploymentId: state.previousDeploymentId }, at);
  }
  const cleanup = cleanupFor(state);
  // (a previous deployment that still serves another environment is left alone: the write checks)
  if (cleanup.action === "deactivate" || cleanup.action === "scale_to_zero") retireDeploymentAtCommit(tx, cleanup.deploymentId, cleanup.action, row.environment_id, at);
  appendAuditLog(tx, {
    id: newObjectId("log"),
    modelId: row.model_id,
    at,
    kind: "promotion.finished",
    objectId: row.id,
    objectName: row.environment_name,
    details: {
      status: state.status,
      deployment_id: state.candidateDeploymentId,
      previous_deployment_id: state.previousDeploymentId,
      error_message: state.errorMessage ?? null,
    },
  });
}

/** The audit entry of a pause the planner made (not a user's `pause`, which the API audits as an action). */
export function auditPlannerPause(tx: AtCommit, row: PromotionRow, state: PromotionState, at: string): void {
  const reason =
    state.approval === "waiting"
      ? "waiting for approval before the candidate gets all the traffic (confirm_promotion)"
      : (state.analysis?.pausedReason ?? "paused by the planner");
  appendAuditLog(tx, {
    id: newObjectId("log"),
    modelId: row.model_id,
    at,
    kind: "promotion.paused",
    objectId: row.id,
    objectName: row.environment_name,
    details: {
      reason,
      gate: state.approval === "waiting" ? "confirm_promotion" : "analysis",
      deployment_id: state.candidateDeploymentId,
      step: state.step,
      total_steps: state.totalSteps,
      percent_traffic_to_new_version: state.percentTrafficToNewVersion,
    },
  });
}

/** One audit entry per webhook gate called: who answered what, and whether it passed. */
export function auditWebhooks(tx: AtCommit, row: PromotionRow, results: readonly PromotionWebhookResult[], at: string): void {
  for (const result of results) {
    appendAuditLog(tx, {
      id: newObjectId("log"),
      modelId: row.model_id,
      at,
      kind: "promotion.webhook",
      objectId: row.id,
      objectName: row.environment_name,
      details: { ...result, deployment_id: row.deployment_id },
    });
  }
}
