/**
 * The three ways a promotion ends, shared by the planner and the control actions, and what the
 * reconciler does with the previous deployment afterwards.
 */
import type { PreviousDeploymentCleanup, PromotionState } from "./types.js";

/** A copy of the state without `pausedFrom` (a finished or resumed promotion is not paused). */
export function withoutPausedFrom(state: PromotionState): PromotionState {
  const { pausedFrom: _pausedFrom, ...rest } = state;
  return rest;
}

/** Previous replicas once traffic is back on the previous deployment: N (0 when there is none). */
function previousReplicasAfterRollback(state: PromotionState): number {
  return state.previousDeploymentId === null ? 0 : state.baseReplicas;
}

/**
 * SUCCEEDED: 100% to the candidate, candidate at max(N, what it has) so a force roll forward never
 * removes candidate replicas; the previous per cleanup strategy (SCALE_TO_ZERO and DEACTIVATE → 0,
 * KEEP → the count it has now).
 * Example: N = 4, candidate 2, previous 3, SCALE_TO_ZERO → candidate 4, previous 0, 100%.
 */
export function succeedPromotion(state: PromotionState, now: number): PromotionState {
  const keepPrevious =
    state.previousDeploymentId !== null && state.settings.promotion_cleanup_strategy === "KEEP";
  const done = withoutPausedFrom(state);
  return {
    ...done,
    status: "SUCCEEDED",
    phase: "done",
    percentTrafficToNewVersion: 100,
    step: state.kind === "INSTANT" ? 1 : state.step,
    totalSteps: state.kind === "INSTANT" ? 1 : Math.max(state.totalSteps, state.step),
    desiredReplicas: {
      previous: keepPrevious ? state.desiredReplicas.previous : 0,
      candidate: Math.max(state.baseReplicas, state.desiredReplicas.candidate),
    },
    readyDeadlineAt: null,
    phaseStartedAt: now,
    finishedAt: now,
  };
}

/**
 * FAILED: 0% to the candidate at once, previous back to N, candidate to 0, with the reason.
 * Example: N = 4, candidate crash-looping at 25% → 0%, previous 4, candidate 0.
 */
export function failPromotion(state: PromotionState, now: number, errorMessage: string): PromotionState {
  return {
    ...withoutPausedFrom(state),
    status: "FAILED",
    phase: "done",
    percentTrafficToNewVersion: 0,
    desiredReplicas: { previous: previousReplicasAfterRollback(state), candidate: 0 },
    readyDeadlineAt: null,
    phaseStartedAt: now,
    finishedAt: now,
    errorMessage,
  };
}

/**
 * CANCELED: 0% to the candidate, previous at N, candidate to 0 (instant and forced cancel, and the
 * end of a graceful ramp-down).
 * Example: N = 4 at 50% → 0%, previous 4, candidate 0.
 */
export function cancelPromotion(state: PromotionState, now: number): PromotionState {
  return {
    ...withoutPausedFrom(state),
    status: "CANCELED",
    phase: "done",
    percentTrafficToNewVersion: 0,
    desiredReplicas: { previous: previousReplicasAfterRollback(state), candidate: 0 },
    readyDeadlineAt: null,
    phaseStartedAt: now,
    finishedAt: now,
  };
}

/**
 * What the reconciler does with the previous deployment: only once SUCCEEDED, and only when there
 * is one. KEEP leaves it at the count it had when the promotion completed (after a rolling deploy
 * that is what the last step left, e.g. the overhead replicas).
 */
export function cleanupFor(state: PromotionState): PreviousDeploymentCleanup {
  if (state.status !== "SUCCEEDED" || state.previousDeploymentId === null) return { action: "none" };
  const deploymentId = state.previousDeploymentId;
  switch (state.settings.promotion_cleanup_strategy) {
    case "KEEP":
      return { action: "keep", deploymentId, replicas: state.desiredReplicas.previous };
    case "SCALE_TO_ZERO":
      return { action: "scale_to_zero", deploymentId };
    case "DEACTIVATE":
      return { action: "deactivate", deploymentId };
  }
}
