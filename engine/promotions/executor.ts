/**
 * Starts promotions and records control actions, inside the API request's transaction (the
 * service validated the request and audits it). The planner decides; this only persists.
 */
import { isDeepStrictEqual } from "node:util";
import { conflict } from "../errors.js";
import { applyControlAction, isTerminalStatus, startPromotion, type PromotionState } from "../rollout/index.js";
import { insertDeployment, updateDeploymentAtCommit, type DeploymentRow } from "../store/deployments.js";
import { takeDeploymentNumber } from "../store/models.js";
import { insertPromotion, type NewPromotion, type PromotionRow } from "../store/promotions.js";
import type { PlannedWork, UnitOfWork } from "../service/context.js";
import { newObjectId } from "../service/ids.js";
import type { PromotionActionName, PromotionExecutor, ValidatedPromotionRequest } from "../service/promotions.js";
import { persistPromotionState } from "./persist.js";

export interface PromotionExecutorOptions {
  /** replicas the previous deployment runs for the environment now (the controller's desired count of its set) */
  currentReplicas(deploymentId: string, environmentName: string): number;
  /** ready replicas of a deployment's set for the environment now (for the row's ready counts);
   * its other sets are not the environment's capacity */
  readyReplicas(deploymentId: string, environmentName: string): number;
  /** the router switch of a promotion an action just ended (in the action's transaction: before its answer) */
  routeEnded?: (promotion: PromotionRow, state: PromotionState) => void;
  /** how long a candidate gets to have the replicas it is asked for (default 5 min) */
  readyTimeoutMs?: number;
  clock?: () => number;
}

/** The development deployment is never promoted itself: a published copy with a new id is. */
async function publishDevelopmentCopy(work: UnitOfWork, development: DeploymentRow, request: ValidatedPromotionRequest): Promise<DeploymentRow> {
  const number = await takeDeploymentNumber(work.tx, request.modelId);
  const copy = await insertDeployment(work.tx, {
    id: newObjectId("dep"),
    modelId: request.modelId,
    name: `deployment-${number}`,
    isDevelopment: false,
    spec: development.spec,
    autoscalingSettings: request.environment.autoscaling_settings,
    status: "DEPLOYING",
    at: work.at,
  });
  work.audit({
    modelId: request.modelId,
    kind: "deployment.created",
    objectId: copy.id,
    objectName: copy.name,
    details: { published_from: development.id, for_environment: request.environment.name },
  });
  work.emit({ type: "deployment.changed", modelId: request.modelId, deploymentId: copy.id, deleted: false });
  return copy;
}

export function createPromotionExecutor(options: PromotionExecutorOptions): PromotionExecutor {
  const clock = options.clock ?? Date.now;
  const readyTimeoutMs = options.readyTimeoutMs ?? 5 * 60_000;
  /** The promotion of `candidate` the planner starts, the candidate's settings written at commit. */
  const newPromotion = (work: PlannedWork, request: ValidatedPromotionRequest, candidate: DeploymentRow): NewPromotion => {
    // The candidate serves with the environment's autoscaling settings (reference: a promoted
    // deployment's settings are updated to match); redeploy_on_promotion starts fresh replicas.
    // Nothing below reads the columns it changes: written with the COMMIT. A deployment promoted
    // before into an environment of the same settings has them already: no write, and no sync of
    // the deployment by every engine's controller (a statement each, reading all it serves).
    const autoscalingChanges = !isDeepStrictEqual(candidate.autoscaling_settings, request.environment.autoscaling_settings);
    if (autoscalingChanges || request.settings.redeploy_on_promotion) {
      updateDeploymentAtCommit(
        work.tx,
        candidate.id,
        { autoscalingSettings: request.environment.autoscaling_settings, bumpRevision: request.settings.redeploy_on_promotion },
        work.at,
      );
      work.emit({ type: "deployment.changed", modelId: request.modelId, deploymentId: candidate.id, deleted: false });
    }
    const id = newObjectId("pro");
    const previous = request.previousDeploymentId;
    const bounds = request.environment.autoscaling_settings;
    const state = startPromotion({
      id,
      previousDeploymentId: previous,
      candidateDeploymentId: candidate.id,
      candidateDeploymentName: candidate.name,
      settings: request.settings,
      bounds: { min_replica: bounds.min_replica, max_replica: bounds.max_replica },
      previousReplicas: previous ? options.currentReplicas(previous, request.environment.name) : 0,
      now: clock(),
      readyTimeoutMs: request.timeoutSeconds ? Math.min(readyTimeoutMs, request.timeoutSeconds * 1000) : readyTimeoutMs,
      timeoutSeconds: request.timeoutSeconds ?? null,
    });
    return {
      id,
      modelId: request.modelId,
      environmentId: request.environment.id,
      environmentName: request.environment.name,
      deploymentId: candidate.id,
      previousDeploymentId: previous,
      kind: state.kind,
      status: state.status,
      totalSteps: state.totalSteps,
      phase: state.phase,
      replicas: {
        previous: { desired: state.desiredReplicas.previous, ready: previous ? options.readyReplicas(previous, request.environment.name) : 0 },
        candidate: { desired: state.desiredReplicas.candidate, ready: options.readyReplicas(candidate.id, request.environment.name) },
      },
      settings: request.settings,
      plannerState: state as unknown as Record<string, unknown>,
      timeoutSeconds: request.timeoutSeconds,
      at: work.at,
    };
  };
  return {
    async start(work: UnitOfWork, request: ValidatedPromotionRequest): Promise<PromotionRow> {
      const candidate = request.candidate.is_development ? await publishDevelopmentCopy(work, request.candidate, request) : request.candidate;
      return insertPromotion(work.tx, newPromotion(work, request, candidate));
    },

    plan(work: PlannedWork, request: ValidatedPromotionRequest): NewPromotion {
      if (request.candidate.is_development) throw new Error("a development deployment is published when its promotion starts: start(), not plan()");
      return newPromotion(work, request, request.candidate);
    },

    async requestAction(work: UnitOfWork, promotion: PromotionRow, action: PromotionActionName): Promise<PromotionRow> {
      const state = promotion.planner_state as unknown as PromotionState;
      const result = applyControlAction(state, action, clock());
      if (!result.ok) throw conflict(result.reason, { promotion_id: promotion.id, status: promotion.status, action });
      const ready = {
        previous: state.previousDeploymentId ? options.readyReplicas(state.previousDeploymentId, promotion.environment_name) : 0,
        candidate: options.readyReplicas(state.candidateDeploymentId, promotion.environment_name),
      };
      const written = await persistPromotionState(work.tx, promotion, result.state, ready, work.at);
      // The service locked the environment and this row, so nobody can have written in between.
      if (!written) throw conflict(`promotion ${promotion.id} changed while the ${action} was recorded; try again`);
      if (isTerminalStatus(result.state.status)) options.routeEnded?.(written, result.state);
      return written;
    },
  };
}
