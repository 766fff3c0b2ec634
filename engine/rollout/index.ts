/**
 * The pure rollout planner: no I/O, no clock. The reconciler, per in-progress promotion and pass:
 * read the persisted state; observe both deployments; `planNextStep`; if the version changed,
 * persist with compare-and-set on the old version; apply scale-ups, traffic, scale-downs; on
 * SUCCEEDED run `cleanupFor`; come back at `wakeAt` or on a runtime change event.
 */
export type {
  ControlAction,
  ControlActionResult,
  DeploymentReplicaObservation,
  DesiredReplicas,
  Observation,
  PlanResult,
  PreviousDeploymentCleanup,
  ProgressEvent,
  PromotionCleanupStrategy,
  PromotionKind,
  PromotionPhase,
  PromotionSettingsSnapshot,
  PromotionState,
  PromotionStatus,
  RollingDeployConfig,
  RollingMode,
  ScalingBounds,
  StartPromotionInput,
  TerminalPromotionStatus,
} from "./types.js";
export {
  autoscaleGrowth,
  baseReplicaCount,
  candidateScaleDownTarget,
  candidateReadyForPercent,
  candidateScaleUpTarget,
  canaryReadyThreshold,
  canaryStageIntervalMs,
  canaryStagePercent,
  overheadReplicaCount,
  previousRestoreTarget,
  previousScaleDownTarget,
  rollingStepCount,
  surgeStep,
  trafficPercentForReady,
  trafficPercentPreviousCannotServe,
  unavailableStep,
} from "./budgets.js";
export { promotionKindFor, promotionSettingsProblems, rollingModeOf, rollingStepsFor } from "./settings.js";
export { startPromotion } from "./start.js";
export { candidateFailureReason, candidateReadyNeeded, isTerminalStatus, nextWakeAt, planNextStep, resumedAfterTakeover } from "./plan.js";
export { allowedActions, applyControlAction, statusAfterAction } from "./actions.js";
export { cleanupFor } from "./outcomes.js";
export { promotionStateChanged } from "./changes.js";
