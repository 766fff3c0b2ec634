/**
 * Entry moves of the phases: what the planner asks for when a phase starts. Each returns a new
 * state; none reads a clock or does I/O (time is the `now` argument).
 */
import {
  candidateScaleDownTarget,
  candidateScaleUpTarget,
  canaryStagePercent,
  previousRestoreTarget,
  previousScaleDownTarget,
  rollingStepCount,
  trafficPercentForReady,
  trafficPercentPreviousCannotServe,
} from "./budgets.js";
import { rollingStepsFor } from "./settings.js";
import type { PromotionState } from "./types.js";

/** Surge and unavailable steps at the state's current N (they grow when autoscaling grows N). */
export function rollingStepsOf(state: PromotionState): { surgeStep: number; unavailableStep: number; stepSize: number } {
  return rollingStepsFor(state.settings, state.baseReplicas);
}

/** Traffic shifts a ROLLING promotion expects at its current N, never fewer than already made. */
export function rollingTotalSteps(state: PromotionState): number {
  return Math.max(state.step, rollingStepCount(state.baseReplicas, rollingStepsOf(state).stepSize));
}

/** Ask the candidate for `candidate` replicas; a request for more restarts the ready deadline. */
export function requestCandidateReplicas(state: PromotionState, candidate: number, now: number): PromotionState {
  if (candidate === state.desiredReplicas.candidate) return state;
  const scaleUp = candidate > state.desiredReplicas.candidate;
  return {
    ...state,
    desiredReplicas: { ...state.desiredReplicas, candidate },
    readyDeadlineAt: scaleUp ? now + state.readyTimeoutMs : state.readyDeadlineAt,
  };
}

/** ROLLING: pre-provision overhead on the previous deployment: previous → N + O. */
export function enterProvisioningOverhead(state: PromotionState, now: number): PromotionState {
  return {
    ...state,
    phase: "provisioning_overhead",
    phaseStartedAt: now,
    desiredReplicas: {
      ...state.desiredReplicas,
      previous: Math.max(state.desiredReplicas.previous, state.baseReplicas + state.overheadReplicas),
    },
  };
}

/** ROLLING: candidate up by the budget (see `candidateScaleUpTarget`). */
export function enterScalingUpCandidate(state: PromotionState, now: number): PromotionState {
  const target = candidateScaleUpTarget({
    baseReplicas: state.baseReplicas,
    overheadReplicas: state.overheadReplicas,
    surgeStep: rollingStepsOf(state).surgeStep,
    previousDesired: state.desiredReplicas.previous,
    candidateDesired: state.desiredReplicas.candidate,
  });
  return { ...requestCandidateReplicas(state, target, now), phase: "scaling_up_candidate", phaseStartedAt: now };
}

/** ROLLING: shift traffic to the ready ratio, then stabilize. The first shift ends RELEASING. */
export function enterStabilizing(state: PromotionState, candidateReady: number, now: number): PromotionState {
  const percent = trafficPercentForReady(Math.min(candidateReady, state.desiredReplicas.candidate), state.baseReplicas);
  const shifted = percent !== state.percentTrafficToNewVersion;
  const next: PromotionState = {
    ...state,
    phase: "stabilizing",
    phaseStartedAt: now,
    percentTrafficToNewVersion: percent,
    step: shifted ? state.step + 1 : state.step,
    status: state.status === "RELEASING" && percent > 0 ? "RAMPING_UP" : state.status,
  };
  return { ...next, totalSteps: rollingTotalSteps(next) };
}

/** ROLLING: previous down to N + O − candidate ready − U (see `previousScaleDownTarget`). */
export function enterScalingDownPrevious(state: PromotionState, candidateReady: number, now: number): PromotionState {
  const previous = previousScaleDownTarget({
    baseReplicas: state.baseReplicas,
    overheadReplicas: state.overheadReplicas,
    unavailableStep: rollingStepsOf(state).unavailableStep,
    candidateReady: Math.min(candidateReady, state.desiredReplicas.candidate, state.baseReplicas),
    previousDesired: state.desiredReplicas.previous,
  });
  return {
    ...state,
    phase: "scaling_down_previous",
    phaseStartedAt: now,
    desiredReplicas: { ...state.desiredReplicas, previous },
  };
}

/** RAMPING_DOWN: previous back up towards N within the budget (see `previousRestoreTarget`). */
export function enterRestoringPrevious(state: PromotionState, now: number): PromotionState {
  const previous = previousRestoreTarget({
    baseReplicas: state.baseReplicas,
    overheadReplicas: state.overheadReplicas,
    surgeStep: rollingStepsOf(state).surgeStep,
    previousDesired: state.desiredReplicas.previous,
    candidateDesired: state.desiredReplicas.candidate,
  });
  return {
    ...state,
    phase: "restoring_previous",
    phaseStartedAt: now,
    desiredReplicas: { ...state.desiredReplicas, previous },
  };
}

/**
 * RAMPING_DOWN: traffic back to the previous as far as its ready replicas carry it, then the
 * candidate down to what the previous cannot cover yet; traffic never above the candidate's new
 * size, so the router stops sending to replicas that are about to go.
 */
export function enterScalingDownCandidate(state: PromotionState, previousReady: number, now: number): PromotionState {
  const previousCovering = Math.min(previousReady, state.desiredReplicas.previous, state.baseReplicas);
  const candidate = candidateScaleDownTarget({
    baseReplicas: state.baseReplicas,
    unavailableStep: rollingStepsOf(state).unavailableStep,
    previousReady: previousCovering,
    candidateDesired: state.desiredReplicas.candidate,
  });
  const percent = Math.min(
    state.percentTrafficToNewVersion,
    trafficPercentPreviousCannotServe(previousCovering, state.baseReplicas),
    trafficPercentForReady(candidate, state.baseReplicas),
  );
  return {
    ...state,
    phase: "scaling_down_candidate",
    phaseStartedAt: now,
    percentTrafficToNewVersion: percent,
    desiredReplicas: { ...state.desiredReplicas, candidate },
  };
}

/** CANARY: traffic to stage × 10%; the first stage ends RELEASING. */
export function enterCanaryStage(state: PromotionState, stage: number, now: number): PromotionState {
  return {
    ...state,
    phase: "canary_stage",
    phaseStartedAt: now,
    step: stage,
    percentTrafficToNewVersion: canaryStagePercent(stage),
    status: state.status === "RELEASING" ? "RAMPING_UP" : state.status,
  };
}
