/**
 * The planner: one level-triggered pass over a promotion. It takes guards in a fixed priority order
 * (failure, autoscaling, traffic clamp), then advances through phases until one has to wait for the
 * runtime or for time. Because every phase waits on the observation or the clock, a second call
 * with the same observation changes nothing.
 */
import {
  autoscaleGrowth,
  candidateReadyForPercent,
  canaryReadyThreshold,
  canaryStageIntervalMs,
  CANARY_STAGE_COUNT,
  trafficPercentForReady,
} from "./budgets.js";
import { nameWithId } from "../../sdk/labels.js";
import { progressEventsBetween, promotionStateChanged } from "./changes.js";
import { cancelPromotion, failPromotion, succeedPromotion } from "./outcomes.js";
import {
  enterCanaryStage,
  enterRestoringPrevious,
  enterScalingDownCandidate,
  enterScalingDownPrevious,
  enterScalingUpCandidate,
  enterStabilizing,
  requestCandidateReplicas,
  rollingTotalSteps,
} from "./phases.js";
import { rollingModeOf } from "./settings.js";
import { awaitsApproval, holdForApproval } from "./approval.js";
import { awaitsPreRollout, recordPreRollout, requestPreRollout } from "./pre-rollout.js";
import { awaitsRolloutGate, recordRolloutGate, requestRolloutGate } from "./rollout-webhooks.js";
import { analysisGateOpen, applyAnalysisDecision, recordAnalysisRun, syncAnalysisWindow } from "./analysis.js";
import type {
  DeploymentReplicaObservation,
  Observation,
  PlanResult,
  PromotionState,
  PromotionStatus,
  TerminalPromotionStatus,
} from "./types.js";

/** A pass that moves through more phases than this is a planner bug (a full ROLLING cycle is 3). */
const MAX_PHASE_MOVES_PER_PASS = 100;

const NO_PREVIOUS: DeploymentReplicaObservation = { ready: 0, starting: 0, failing: false };

/** SUCCEEDED, FAILED and CANCELED are never left. */
export function isTerminalStatus(status: PromotionStatus): status is TerminalPromotionStatus {
  return status === "SUCCEEDED" || status === "FAILED" || status === "CANCELED";
}

/** Statuses in which the candidate is still being brought up (and so can fail). */
function isRampingForward(status: PromotionStatus): boolean {
  return status === "RELEASING" || status === "RAMPING_UP" || status === "PAUSED";
}

/**
 * Ready candidate replicas the persisted traffic needs: ROLLING, its ready share at N
 * (`candidateReadyForPercent`); CANARY and INSTANT, one as soon as any traffic goes to it. Never
 * more than the candidate is asked for.
 * Example: ROLLING N = 4 at 50%, candidate asked for 2 → 2; CANARY at 30% → 1; any kind at 0% → 0.
 */
export function candidateReadyNeeded(state: PromotionState): number {
  const percent = state.percentTrafficToNewVersion;
  const needed = state.kind === "ROLLING" ? candidateReadyForPercent(percent, state.baseReplicas) : percent > 0 ? 1 : 0;
  return Math.min(needed, state.desiredReplicas.candidate);
}

/**
 * Whether an engine that took a promotion over (restart, or another engine) has caught up: the
 * candidate has the ready replicas the persisted traffic needs, or the promotion is not moving
 * forward (a ramp-down only takes traffic away from the candidate, and a terminal one is done).
 * Until then the reconciler passes `resumingSince` and the planner holds the persisted state.
 * Example: killed at 50% of N = 4 → caught up once 2 candidate replicas are ready again.
 */
export function resumedAfterTakeover(state: PromotionState, candidate: DeploymentReplicaObservation): boolean {
  if (!isRampingForward(state.status)) return true;
  return !candidate.failing && candidate.ready >= candidateReadyNeeded(state);
}

/** True while a taken-over promotion waits for its candidate's replicas to come back. */
function holdingAfterTakeover(state: PromotionState, observation: Observation): boolean {
  return observation.resumingSince !== undefined && !resumedAfterTakeover(state, observation.candidate);
}

/**
 * Why the candidate has failed, or null. A crash loop fails at once; otherwise the replicas it was
 * asked for must be ready by `readyDeadlineAt`.
 * Example: asked for 2 at t = 0 with a 600 000 ms timeout, 1 ready at t = 600 000 → failed.
 */
export function candidateFailureReason(state: PromotionState, observation: Observation): string | null {
  if (!isRampingForward(state.status)) return null;
  const candidate = observation.candidate;
  const lastError = candidate.lastError !== undefined ? `: ${candidate.lastError}` : "";
  const label = nameWithId(state.candidateDeploymentName, state.candidateDeploymentId);
  if (candidate.failing) {
    return `candidate deployment ${label} is failing${lastError}`;
  }
  const seconds = Math.round(state.readyTimeoutMs / 1000);
  const deadline = state.readyDeadlineAt;
  if (deadline !== null && observation.now >= deadline && candidate.ready < state.desiredReplicas.candidate) {
    return (
      `candidate deployment ${label} had ${candidate.ready} of ` +
      `${state.desiredReplicas.candidate} replicas ready ${seconds}s after they were requested${lastError}`
    );
  }
  // After a takeover the replicas that carried the persisted traffic get the same time to come back.
  const resuming = observation.resumingSince;
  if (resuming !== undefined && observation.now >= resuming + state.readyTimeoutMs && candidate.ready < candidateReadyNeeded(state)) {
    return (
      `candidate deployment ${label} had ${candidate.ready} of the ${candidateReadyNeeded(state)} replicas ` +
      `its ${state.percentTrafficToNewVersion}% of traffic needs ready ${seconds}s after the engine took the promotion over${lastError}`
    );
  }
  return null;
}

/**
 * Autoscaling while a promotion moves forward (also while PAUSED): demand above N grows N to
 * min(demand, max_replica), never down.
 * ROLLING: the extra replicas are split by the traffic share (60/40 and 10 more → 6 previous, 4
 * candidate). CANARY: each side is sized to its share of demand, only upwards (demand 10 at 30% →
 * candidate ≥ 3, previous ≥ 7). INSTANT: nothing (the candidate serves nothing until it is done).
 */
export function growWithDemand(state: PromotionState, observation: Observation): PromotionState {
  const demand = observation.demandReplicas;
  if (demand === undefined || !isRampingForward(state.status) || state.kind === "INSTANT") return state;
  const maxReplica = Math.max(state.bounds.max_replica, state.baseReplicas);
  const percent = state.percentTrafficToNewVersion;
  if (state.kind === "ROLLING") {
    const growth = autoscaleGrowth({
      baseReplicas: state.baseReplicas,
      demandReplicas: demand,
      maxReplica,
      percentToCandidate: percent,
    });
    if (growth.baseReplicas === state.baseReplicas) return state;
    const grown: PromotionState = {
      ...state,
      baseReplicas: growth.baseReplicas,
      desiredReplicas: { ...state.desiredReplicas, previous: state.desiredReplicas.previous + growth.extraPrevious },
    };
    const withCandidate = requestCandidateReplicas(
      grown,
      state.desiredReplicas.candidate + growth.extraCandidate,
      observation.now,
    );
    return { ...withCandidate, totalSteps: rollingTotalSteps(withCandidate) };
  }
  const cappedDemand = Math.min(demand, maxReplica);
  const candidateShare = Math.ceil((cappedDemand * percent) / 100);
  const previousShare = Math.ceil((cappedDemand * (100 - percent)) / 100);
  const grown: PromotionState = {
    ...state,
    baseReplicas: Math.max(state.baseReplicas, cappedDemand),
    desiredReplicas: {
      ...state.desiredReplicas,
      previous: Math.max(state.desiredReplicas.previous, previousShare),
    },
  };
  return requestCandidateReplicas(
    grown,
    Math.max(state.desiredReplicas.candidate, candidateShare),
    observation.now,
  );
}

/**
 * ROLLING: traffic to the candidate never above its ready share, floor(100 × ready / N), even when
 * a ready replica is lost or N grows. Example: N = 4 at 50%, one of 2 ready replicas crashes → 25%.
 */
export function clampTrafficToCandidateReady(state: PromotionState, observation: Observation): PromotionState {
  if (state.kind !== "ROLLING") return state;
  const allowed = trafficPercentForReady(observation.candidate.ready, state.baseReplicas);
  if (state.percentTrafficToNewVersion <= allowed) return state;
  return { ...state, percentTrafficToNewVersion: allowed };
}

/** Once the candidate has every replica it was asked for, no deadline is outstanding. */
function clearSatisfiedDeadline(state: PromotionState, observation: Observation): PromotionState {
  if (state.readyDeadlineAt === null || observation.candidate.ready < state.desiredReplicas.candidate) return state;
  return { ...state, readyDeadlineAt: null };
}

/** True when the deployment runs no more replicas than asked (scale-down finished). */
function drainedTo(deployment: DeploymentReplicaObservation, desired: number): boolean {
  return deployment.ready + deployment.starting <= desired;
}

function advanceInstant(state: PromotionState, observation: Observation): PromotionState {
  if (observation.candidate.ready < state.desiredReplicas.candidate) return state;
  if (awaitsPreRollout(state)) return requestPreRollout(state);
  return awaitsApproval(state) ? holdForApproval(state) : succeedPromotion(state, observation.now);
}

function advanceCanary(state: PromotionState, observation: Observation): PromotionState {
  const now = observation.now;
  if (state.phase === "scaling_up_candidate") {
    if (observation.candidate.ready < canaryReadyThreshold(state.bounds)) return state;
    if (awaitsPreRollout(state)) return requestPreRollout(state);
    return enterCanaryStage(state, 1, now);
  }
  if (state.phase === "canary_stage") {
    if (now < state.phaseStartedAt + canaryStageIntervalMs(state.settings.ramp_up_duration_seconds)) return state;
    if (!analysisGateOpen(state)) return state;
    if (state.step >= CANARY_STAGE_COUNT) return succeedPromotion(state, now);
    // the next stage's shift waits for the rollout webhooks, then (to 100 %) for the manual gate
    if (awaitsRolloutGate(state)) return requestRolloutGate(state);
    if (state.step + 1 === CANARY_STAGE_COUNT && awaitsApproval(state)) return holdForApproval(state);
    return enterCanaryStage(state, state.step + 1, now);
  }
  return state;
}

function advanceRollingForward(state: PromotionState, observation: Observation): PromotionState {
  const now = observation.now;
  const previous = observation.previous ?? NO_PREVIOUS;
  const candidate = observation.candidate;
  switch (state.phase) {
    case "provisioning_overhead":
      if (previous.ready < state.baseReplicas + state.overheadReplicas) return state;
      return rollingModeOf(state.settings) === "surge"
        ? enterScalingUpCandidate(state, now)
        : enterScalingDownPrevious(state, candidate.ready, now);
    case "scaling_up_candidate":
      if (candidate.ready < state.desiredReplicas.candidate) return state;
      // the first shift waits for the pre-rollout webhooks; one to 100 % for the manual gate
      // each later shift (one that moves traffic) for the rollout webhooks
      if (state.percentTrafficToNewVersion === 0 && awaitsPreRollout(state)) return requestPreRollout(state);
      const target = trafficPercentForReady(Math.min(candidate.ready, state.desiredReplicas.candidate), state.baseReplicas);
      if (state.percentTrafficToNewVersion > 0 && target !== state.percentTrafficToNewVersion && awaitsRolloutGate(state)) {
        return requestRolloutGate(state);
      }
      if (target === 100 && awaitsApproval(state)) return holdForApproval(state);
      return enterStabilizing(state, candidate.ready, now);
    case "stabilizing":
      if (now < state.phaseStartedAt + state.settings.rolling_deploy_config.stabilization_time_seconds * 1000) {
        return state;
      }
      if (!analysisGateOpen(state)) return state;
      return enterScalingDownPrevious(state, candidate.ready, now);
    case "scaling_down_previous":
      if (!drainedTo(previous, state.desiredReplicas.previous)) return state;
      if (candidate.ready >= state.baseReplicas && state.percentTrafficToNewVersion === 100) {
        return succeedPromotion(state, now);
      }
      return enterScalingUpCandidate(state, now);
    default:
      return state;
  }
}

function advanceRampingDown(state: PromotionState, observation: Observation): PromotionState {
  const now = observation.now;
  const previous = observation.previous ?? NO_PREVIOUS;
  switch (state.phase) {
    case "restoring_previous":
      if (previous.ready < Math.min(state.desiredReplicas.previous, state.baseReplicas)) return state;
      return enterScalingDownCandidate(state, previous.ready, now);
    case "scaling_down_candidate":
      if (!drainedTo(observation.candidate, state.desiredReplicas.candidate)) return state;
      if (
        state.percentTrafficToNewVersion === 0 &&
        state.desiredReplicas.candidate === 0 &&
        previous.ready >= state.baseReplicas
      ) {
        return cancelPromotion(state, now);
      }
      return enterRestoringPrevious(state, now);
    default:
      return enterRestoringPrevious(state, now);
  }
}

/** One guarded move, then the analysis window kept in step with where the promotion now is. */
function passOnce(state: PromotionState, observation: Observation): PromotionState {
  return syncAnalysisWindow(guardedMove(state, observation), observation.now);
}

/** The first of failure, analysis verdict, autoscaling, clamp, phase advance that applies. */
function guardedMove(state: PromotionState, observation: Observation): PromotionState {
  if (isTerminalStatus(state.status)) return state;
  const deadline = promotionDeadlineAt(state);
  if (deadline !== null && observation.now >= deadline) {
    return failPromotion(state, observation.now, `promotion did not finish within timeout_seconds=${state.timeoutSeconds}`);
  }
  const failure = candidateFailureReason(state, observation);
  if (failure !== null) return failPromotion(state, observation.now, failure);
  // Taken over mid-way and the candidate's replicas are not back yet: keep the persisted traffic,
  // step and N exactly (clamping to cold replicas would move traffic backwards and recount steps).
  if (holdingAfterTakeover(state, observation)) return state;
  const judged = applyAnalysisDecision(state, observation.now);
  if (judged !== state) return judged;
  let next = growWithDemand(state, observation);
  next = clampTrafficToCandidateReady(next, observation);
  next = clearSatisfiedDeadline(next, observation);
  if (next.status === "PAUSED") return next;
  if (next.status === "RAMPING_DOWN") return advanceRampingDown(next, observation);
  switch (next.kind) {
    case "INSTANT":
      return advanceInstant(next, observation);
    case "CANARY":
      return advanceCanary(next, observation);
    case "ROLLING":
      return advanceRollingForward(next, observation);
  }
}

/** When the promotion fails for not having finished (`timeout_seconds`), or null. Paused time counts. */
export function promotionDeadlineAt(state: PromotionState): number | null {
  return state.timeoutSeconds == null ? null : state.startedAt + state.timeoutSeconds * 1000;
}

/** The earliest timer the state is waiting for, or null (terminal, or waiting on the runtime). */
export function nextWakeAt(state: PromotionState): number | null {
  if (isTerminalStatus(state.status)) return null;
  const timers: number[] = [];
  const deadline = promotionDeadlineAt(state);
  if (deadline !== null) timers.push(deadline);
  if (state.readyDeadlineAt !== null) timers.push(state.readyDeadlineAt);
  // A stage held for an analysis run waits on the analysis runner's schedule, not on its own timer
  // (already past: waking on it would spin); the recorded run changes the state and re-plans.
  if (state.status !== "PAUSED" && analysisGateOpen(state)) {
    if (state.phase === "stabilizing") {
      timers.push(state.phaseStartedAt + state.settings.rolling_deploy_config.stabilization_time_seconds * 1000);
    }
    if (state.phase === "canary_stage") {
      timers.push(state.phaseStartedAt + canaryStageIntervalMs(state.settings.ramp_up_duration_seconds));
    }
  }
  return timers.length === 0 ? null : Math.min(...timers);
}

/**
 * Plan a promotion's next step from its persisted state and what the runtime shows now. Returns the
 * same state object (same version) when nothing changed; otherwise a new state with version + 1,
 * which the reconciler persists with compare-and-set on the old version before acting on it.
 * The reconciler then applies scale-ups, then `percentTrafficToNewVersion`, then scale-downs, and
 * calls again at `wakeAt` or on the next runtime change event, whichever comes first.
 */
export function planNextStep(state: PromotionState, observation: Observation): PlanResult {
  // A judged window is recorded once, before the moves: the decisions below read it from the state.
  let current = observation.analysis !== undefined ? recordAnalysisRun(state, observation.analysis) : state;
  if (observation.webhooks !== undefined) {
    current = recordPreRollout(current, observation.webhooks, observation.now);
    current = recordRolloutGate(current, observation.webhooks, observation.now);
  }
  for (let move = 0; move < MAX_PHASE_MOVES_PER_PASS; move += 1) {
    const next = passOnce(current, observation);
    if (!promotionStateChanged(current, next)) {
      if (!promotionStateChanged(state, current)) {
        // Holding after a takeover, the phase timers (maybe long past) wait too: only the
        // deadlines of the candidate's replicas can end the wait before a runtime event does.
        if (holdingAfterTakeover(state, observation)) {
          const deadlines = [state.readyDeadlineAt, (observation.resumingSince ?? 0) + state.readyTimeoutMs, promotionDeadlineAt(state)];
          return { state, wakeAt: Math.min(...deadlines.filter((at): at is number => at !== null)), events: [] };
        }
        return { state, wakeAt: nextWakeAt(state), events: [] };
      }
      const changed: PromotionState = { ...current, version: state.version + 1 };
      return { state: changed, wakeAt: nextWakeAt(changed), events: progressEventsBetween(state, changed) };
    }
    current = next;
  }
  throw new Error(
    `rollout planner did not settle after ${MAX_PHASE_MOVES_PER_PASS} moves for promotion ${state.id} ` +
      `(status ${current.status}, phase ${current.phase})`,
  );
}

