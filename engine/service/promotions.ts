import {
  PRODUCTION_ENVIRONMENT_NAME,
  type PromoteBody,
  type Promotion,
  type PromotionSettings,
} from "../../sdk/index.js";
import { conflict, notFound, notImplemented } from "../errors.js";
import type { DeploymentRow } from "../store/deployments.js";
import type { EnvironmentRow } from "../store/environments.js";
import type { DomainEvent } from "./events.js";
import { environmentLock } from "../store/environments.js";
import { promotionInsertIfUnchanged, readEnvironmentForPromote, readForPromote, type PromoteReads } from "../store/promote-reads.js";
import { writesCollector } from "../store/sql.js";
import {
  findInProgressPromotion,
  findPromotionOfEnvironment,
  listPromotions as listPromotionRows,
  type NewPromotion,
  type PromotionRow,
} from "../store/promotions.js";
import { nameWithId } from "../../sdk/labels.js";
import { committed, inTransaction, workOn, type PlannedWork, type ServiceContext, type UnitOfWork } from "./context.js";
import { requireDeployment, requireEnvironment } from "./lookups.js";
import { presentPromotion } from "./presenters.js";
import { chainVerdict } from "./chain.js";

/** A promotion request that passed every rule that does not need the planner. */
export interface ValidatedPromotionRequest {
  modelId: string;
  /** locked FOR UPDATE in the request's transaction */
  environment: EnvironmentRow;
  /** the deployment to promote (may be the development deployment: the executor publishes a copy) */
  candidate: DeploymentRow;
  /** what the environment serves now, if anything */
  previousDeploymentId: string | null;
  /** effective settings to snapshot into the promotion */
  settings: PromotionSettings;
  timeoutSeconds: number | null;
  /** the chain rule refused it and `skip_chain` overrode that (audited as promotion.chain_skipped) */
  chainSkipped?: { requiredEnvironment: string; reason: string; message: string };
}

/** The actions `POST …/promotions/{action}` takes. */
export type PromotionActionName = "pause" | "resume" | "approve" | "cancel" | "force_cancel" | "force_roll_forward";

/**
 * Promotion execution, provided by the reconciler (the lead's part). Both calls run inside the
 * request's transaction (`work.tx`), so the insert is covered by `promotions_one_in_progress`
 * and nothing is written if they throw. Without an executor the routes answer 501.
 */
export interface PromotionExecutor {
  /** Plan and insert the promotion (e.g. with `insertPromotion`); return the inserted row. */
  start(work: UnitOfWork, request: ValidatedPromotionRequest): Promise<PromotionRow>;
  /** The promotion `start` would insert, its other writes gathered at commit; not for a development deployment (start publishes a copy). */
  plan(work: PlannedWork, request: ValidatedPromotionRequest): NewPromotion;
  /** Record an action on the in-progress promotion (legal-transition check included); return the new row. */
  requestAction(work: UnitOfWork, promotion: PromotionRow, action: PromotionActionName): Promise<PromotionRow>;
}

/**
 * The promote rules that need no planner: environment and deployment exist in this model, the
 * deployment is active and not already serving, and nothing else is in progress there.
 * Runs in the caller's transaction; the environment row is locked so two requests are ordered.
 */
export async function validatePromotionRequest(
  work: UnitOfWork,
  modelId: string,
  environmentName: string,
  body: PromoteBody,
): Promise<ValidatedPromotionRequest> {
  const environment = await requireEnvironment(work.tx, modelId, environmentName, true);
  const reads = await readForPromote(work.tx, environment.id, body.deployment_id);
  // none: which 404 it is
  const candidate = reads.candidate ?? (await requireDeployment(work.tx, modelId, body.deployment_id));
  if (!candidate.active) {
    throw conflict(
      `deployment ${nameWithId(candidate.name, candidate.id)} is inactive; activate it first ` +
        `(POST /v1/models/${modelId}/deployments/${candidate.id}/activate)`,
      { deployment_id: candidate.id },
    );
  }
  const inProgress = reads.inProgress;
  if (inProgress) {
    throw conflict(
      `environment ${environmentName} already has promotion ${inProgress.id} in progress (${inProgress.status}, ` +
        `to deployment ${nameWithId(inProgress.deployment_name, inProgress.deployment_id)}); wait for it to finish, or cancel it with ` +
        `POST /v1/models/${modelId}/environments/${environmentName}/cancel_promotion`,
      { promotion_id: inProgress.id, status: inProgress.status },
    );
  }
  if (environment.current_deployment_id === candidate.id) {
    throw conflict(`deployment ${nameWithId(candidate.name, candidate.id)} already serves environment ${environmentName}`, {
      deployment_id: candidate.id,
    });
  }
  // The chain (workspace environments' `requires`): rolling back to the environment's previous
  // deployment is exempt (it served there already); `skip_chain` overrides (the management API
  // takes admin keys only) and is audited by the caller.
  let chainSkipped: ValidatedPromotionRequest["chainSkipped"];
  if (candidate.id !== environment.previous_deployment_id) {
    const verdict = await chainVerdict(work.tx, environment, candidate, new Date(work.at));
    if (!verdict.ok) {
      if (body.skip_chain !== true) {
        throw conflict(verdict.message, {
          deployment_id: candidate.id,
          required_environment: verdict.requiredEnvironment,
          reason: verdict.reason,
          ...(verdict.soakReadyAt ? { soak_ready_at: verdict.soakReadyAt.toISOString() } : {}),
        });
      }
      chainSkipped = { requiredEnvironment: verdict.requiredEnvironment, reason: verdict.reason, message: verdict.message };
    }
  }
  return promotionRequest(modelId, environment, candidate, reads, body, chainSkipped);
}

/** A request that passed the rules: the environment's deployment it replaces, the settings read, the timeout asked. */
function promotionRequest(
  modelId: string,
  environment: EnvironmentRow,
  candidate: DeploymentRow,
  reads: Pick<PromoteReads, "promotionSettings">,
  body: PromoteBody,
  chainSkipped?: ValidatedPromotionRequest["chainSkipped"],
): ValidatedPromotionRequest {
  return {
    modelId,
    environment,
    candidate,
    previousDeploymentId: environment.current_deployment_id,
    settings: reads.promotionSettings,
    timeoutSeconds: body.timeout_seconds ?? null,
    ...(chainSkipped ? { chainSkipped } : {}),
  };
}

function requireExecutor(executor: PromotionExecutor | undefined): PromotionExecutor {
  if (!executor) throw notImplemented("promotions are not executed by this engine build yet");
  return executor;
}

export async function promote(
  context: ServiceContext,
  executor: PromotionExecutor | undefined,
  modelId: string,
  environmentName: string,
  body: PromoteBody,
): Promise<Promotion> {
  const started = executor && (await promoteAtOnce(context, executor, modelId, environmentName, body));
  if (started) return started;
  return inTransaction(context, async (work) => {
    const request = await validatePromotionRequest(work, modelId, environmentName, body);
    const row = await requireExecutor(executor).start(work, request);
    promotionStarted(work, request, row);
    return presentPromotion(row);
  });
}

/**
 * A promote as one decided transaction (sql.ts), the common case: the reads without the
 * environment's lock (one statement: the environment, the candidate, the promotion in progress,
 * the settings), the checks and the plan, then one request that takes the lock and inserts only
 * if what was read still holds. On PGlite the locked way held the one session for four round
 * trips and the event loop's turns between them; bench/scale's driver sends 100 promotes within
 * a second. Undefined when it does not apply — a refusal or no such environment (the locked way
 * reads again under the lock and says exactly why), a development deployment to publish, a chain
 * override to audit, or a change since the reads: then the locked way decides.
 */
async function promoteAtOnce(
  context: ServiceContext,
  promotions: PromotionExecutor,
  modelId: string,
  environmentName: string,
  body: PromoteBody,
): Promise<Promotion | undefined> {
  const reads = await readEnvironmentForPromote(context.sql, modelId, environmentName, body.deployment_id);
  if (!reads) return undefined;
  const { environment, candidate } = reads;
  if (!candidate || !candidate.active || candidate.is_development || reads.inProgress || environment.current_deployment_id === candidate.id) return undefined;
  const at = context.now().toISOString();
  if (candidate.id !== environment.previous_deployment_id && !(await chainVerdict(context.sql, environment, candidate, new Date(at))).ok) return undefined;
  const request = promotionRequest(modelId, environment, candidate, reads, body);
  const events: DomainEvent[] = [];
  const work = workOn(writesCollector(), at, events);
  const promotion = promotions.plan(work, request);
  promotionStarted(work, request, {
    id: promotion.id,
    deployment_id: promotion.deploymentId,
    previous_deployment_id: promotion.previousDeploymentId,
    kind: promotion.kind,
  });
  const [row] = await context.sql.decidedTransaction<PromotionRow>({
    before: [environmentLock(environment.id)],
    decide: promotionInsertIfUnchanged(promotion, { environment, candidate }),
    writes: work.tx.writes,
  });
  if (!row) return undefined;
  await committed(context, events);
  return presentPromotion(row);
}

/** A started promotion's audit entries (its chain override too) and event. */
export function promotionStarted(
  work: PlannedWork,
  request: ValidatedPromotionRequest,
  promotion: Pick<PromotionRow, "id" | "deployment_id" | "previous_deployment_id" | "kind">,
): void {
  work.audit({
    modelId: request.modelId,
    kind: "promotion.started",
    objectId: promotion.id,
    objectName: request.environment.name,
    details: { deployment_id: promotion.deployment_id, previous_deployment_id: promotion.previous_deployment_id, kind: promotion.kind },
  });
  if (request.chainSkipped) {
    work.audit({
      modelId: request.modelId,
      kind: "promotion.chain_skipped",
      objectId: promotion.id,
      objectName: request.environment.name,
      details: {
        deployment_id: request.candidate.id,
        required_environment: request.chainSkipped.requiredEnvironment,
        reason: request.chainSkipped.reason,
        refusal: request.chainSkipped.message,
      },
    });
  }
  work.emit({ type: "promotion.changed", modelId: request.modelId, environmentName: request.environment.name, promotionId: promotion.id, started: true });
}

/** POST …/deployments/{id}/promote: the same as promoting to production. */
export async function promoteToProduction(
  context: ServiceContext,
  executor: PromotionExecutor | undefined,
  modelId: string,
  deploymentId: string,
  timeoutSeconds: number | undefined,
): Promise<Promotion> {
  return promote(context, executor, modelId, PRODUCTION_ENVIRONMENT_NAME, {
    deployment_id: deploymentId,
    ...(timeoutSeconds !== undefined ? { timeout_seconds: timeoutSeconds } : {}),
  });
}

/** Rollback = promote the deployment that served the environment before its last successful promotion. */
export async function rollback(
  context: ServiceContext,
  executor: PromotionExecutor | undefined,
  modelId: string,
  environmentName: string,
  timeoutSeconds: number | undefined,
): Promise<Promotion> {
  const environment = await requireEnvironment(context.sql, modelId, environmentName);
  if (environment.previous_deployment_id === null) {
    throw conflict(`environment ${environmentName} has no previous deployment to roll back to`);
  }
  return promote(context, executor, modelId, environmentName, {
    deployment_id: environment.previous_deployment_id,
    ...(timeoutSeconds !== undefined ? { timeout_seconds: timeoutSeconds } : {}),
  });
}

export async function requestPromotionAction(
  context: ServiceContext,
  executor: PromotionExecutor | undefined,
  modelId: string,
  environmentName: string,
  action: PromotionActionName,
): Promise<Promotion> {
  return inTransaction(context, async (work) => {
    const environment = await requireEnvironment(work.tx, modelId, environmentName, true);
    // its row locked too: a step the reconciler writes meanwhile waits, instead of this answering 409
    const promotion = await findInProgressPromotion(work.tx, environment.id, true);
    if (!promotion) {
      throw conflict(`environment ${environmentName} has no promotion in progress to ${action.replaceAll("_", " ")}`);
    }
    const row = await requireExecutor(executor).requestAction(work, promotion, action);
    work.audit({
      modelId,
      kind: "promotion.action",
      objectId: row.id,
      objectName: environmentName,
      details: { action, status: row.status },
    });
    work.emit({ type: "promotion.changed", modelId, environmentName, promotionId: row.id });
    return presentPromotion(row);
  });
}

export async function listPromotions(
  context: ServiceContext,
  modelId: string,
  environmentName: string,
): Promise<Promotion[]> {
  const environment = await requireEnvironment(context.sql, modelId, environmentName);
  return (await listPromotionRows(context.sql, environment.id)).map(presentPromotion);
}

export async function getPromotion(
  context: ServiceContext,
  modelId: string,
  environmentName: string,
  promotionId: string,
): Promise<Promotion> {
  const row = await findPromotionOfEnvironment(context.sql, modelId, environmentName, promotionId);
  if (!row) {
    await requireEnvironment(context.sql, modelId, environmentName);
    throw notFound(`promotion ${promotionId} not found in environment ${environmentName}`, { promotion_id: promotionId });
  }
  return presentPromotion(row);
}
