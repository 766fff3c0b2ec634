/**
 * Replica and traffic arithmetic of a promotion. Every rule is a small pure function with a worked
 * example; test/engine/rollout/budgets.test.ts checks the same examples.
 *
 * Notation: N = base replicas (the environment's steady count), O = overhead replicas,
 * S = surge step (0 in unavailable mode), U = unavailable step (0 in surge mode).
 */
import type { ScalingBounds } from "./types.js";

/** Percent of `count`, rounded up: ceil(count × percent / 100), computed in integers so that
 * 10 × 30% is exactly 3 (floating point would give 3.0000000000000004 → 4). */
function ceilPercentOf(count: number, percent: number): number {
  return Math.ceil((count * percent) / 100 - 1e-9);
}

/** Percent of `count`, rounded down, with the same guard against 0.1 + 0.2 style error. */
function floorPercentOf(count: number, percent: number): number {
  return Math.floor((count * percent) / 100 + 1e-9);
}

/**
 * N, the environment's steady replica count: the previous deployment's count, at least
 * max(1, min_replica) so a promotion always ends with a serving candidate, at most max_replica.
 * Example: 3 previous replicas, bounds 0–10 → 3; 0 replicas (scaled to zero), bounds 2–10 → 2;
 * 12 replicas, bounds 1–8 → 8.
 */
export function baseReplicaCount(previousReplicas: number, bounds: ScalingBounds): number {
  const floor = Math.max(1, bounds.min_replica);
  return Math.min(Math.max(previousReplicas, floor), Math.max(floor, bounds.max_replica));
}

/**
 * Overhead pre-provisioned on the previous deployment: ceil(N × replica_overhead_percent / 100).
 * Example: N = 4, 50% → 2; N = 3, 10% → 1 (rounded up: a percentage that asks for headroom gets at
 * least one replica); 0% → 0.
 */
export function overheadReplicaCount(baseReplicas: number, overheadPercent: number): number {
  return overheadPercent > 0 ? ceilPercentOf(baseReplicas, overheadPercent) : 0;
}

/**
 * Candidate replicas added per step in surge mode: max(1, ceil(N × max_surge_percent / 100)), never
 * above N. As in Kubernetes' ResolveFenceposts, a step is never 0, so a rollout always moves.
 * Example: N = 4, 25% → 1; N = 10, 30% → 3; N = 3, 10% → 1; N = 1, 50% → 1; 0% → 0 (not surge mode).
 */
export function surgeStep(baseReplicas: number, surgePercent: number): number {
  if (surgePercent <= 0) return 0;
  return Math.min(baseReplicas, Math.max(1, ceilPercentOf(baseReplicas, surgePercent)));
}

/**
 * Previous replicas removed per step in unavailable mode: max(1, floor(N × max_unavailable_percent /
 * 100)), never above N. Rounded down (the budget of missing capacity must not be exceeded) but at
 * least 1 (a step of 0 would never move).
 * Example: N = 4, 25% → 1; N = 10, 30% → 3; N = 3, 10% → 1 (floor gives 0, forced to 1); 0% → 0.
 */
export function unavailableStep(baseReplicas: number, unavailablePercent: number): number {
  if (unavailablePercent <= 0) return 0;
  return Math.min(baseReplicas, Math.max(1, floorPercentOf(baseReplicas, unavailablePercent)));
}

/**
 * Traffic the candidate may get for its ready replicas: floor(100 × ready / N), and 100 only when
 * ready ≥ N (rounding down keeps the candidate from getting more than its ready share).
 * Example: N = 4: 1 → 25, 2 → 50, 3 → 75, 4 → 100; N = 3: 1 → 33, 2 → 66, 3 → 100; N = 4, 0 → 0.
 */
export function trafficPercentForReady(candidateReady: number, baseReplicas: number): number {
  if (candidateReady >= baseReplicas) return 100;
  return Math.max(0, Math.floor((100 * candidateReady) / baseReplicas));
}

/**
 * Ready candidate replicas that carry `percent` of traffic at N, the inverse of
 * `trafficPercentForReady`: ceil(percent × N / 100), never above N.
 * Example: N = 4: 25 → 1, 50 → 2, 100 → 4, 0 → 0; N = 3: 33 → 1, 66 → 2, 100 → 3.
 */
export function candidateReadyForPercent(percent: number, baseReplicas: number): number {
  return Math.min(baseReplicas, Math.max(0, ceilPercentOf(baseReplicas, percent)));
}

/**
 * Lowest candidate traffic the previous deployment can take over during a ramp-down: the previous
 * may get at most its ready share 100 × ready / N, so the candidate keeps 100 − floor(100 × ready / N).
 * Example: N = 4: 4 ready → 0, 3 → 25, 2 → 50, 0 → 100; N = 3, 2 ready → 34.
 */
export function trafficPercentPreviousCannotServe(previousReady: number, baseReplicas: number): number {
  if (previousReady >= baseReplicas) return 0;
  return 100 - Math.max(0, Math.floor((100 * previousReady) / baseReplicas));
}

/**
 * Candidate target of a forward scale-up: fill the room the budget leaves, N + O + S − previous
 * desired, but never above N and never below what the candidate already has.
 * Example (surge, S = 1): N = 4, O = 0, previous 3, candidate 1 → 2 (the "1,2,3,4" of a 25% surge).
 * Example (unavailable, S = 0): N = 4, O = 0, previous 3, candidate 0 → 1.
 * Example (surge, O = 2, S = 1): N = 4, previous 6, candidate 0 → 1.
 */
export function candidateScaleUpTarget(args: {
  baseReplicas: number;
  overheadReplicas: number;
  surgeStep: number;
  previousDesired: number;
  candidateDesired: number;
}): number {
  const room = args.baseReplicas + args.overheadReplicas + args.surgeStep - args.previousDesired;
  return Math.max(args.candidateDesired, Math.min(args.baseReplicas, room));
}

/**
 * Previous target of a forward scale-down: N + O − candidate ready − U, sized from replicas actually
 * ready (not requested), never below 0 and never above what the previous already has.
 * Example (surge, U = 0): N = 4, O = 0, candidate ready 1 → 3; O = 1, ready 4 → 1.
 * Example (unavailable, U = 1): N = 4, O = 0, candidate ready 0 → 3; ready 3 → 0.
 */
export function previousScaleDownTarget(args: {
  baseReplicas: number;
  overheadReplicas: number;
  unavailableStep: number;
  candidateReady: number;
  previousDesired: number;
}): number {
  const keep = args.baseReplicas + args.overheadReplicas - args.candidateReady - args.unavailableStep;
  return Math.min(args.previousDesired, Math.max(0, keep));
}

/**
 * Previous target of a ramp-down scale-up (the reverse of `candidateScaleUpTarget`): back towards N,
 * within the room N + O + S − candidate desired, never below what the previous already has.
 * Example (surge, S = 1): N = 4, O = 0, previous 2, candidate 2 → 3.
 * Example (unavailable, S = 0): N = 4, O = 0, previous 2, candidate 1 → 3.
 */
export function previousRestoreTarget(args: {
  baseReplicas: number;
  overheadReplicas: number;
  surgeStep: number;
  previousDesired: number;
  candidateDesired: number;
}): number {
  const room = args.baseReplicas + args.overheadReplicas + args.surgeStep - args.candidateDesired;
  return Math.max(args.previousDesired, Math.min(args.baseReplicas, room));
}

/**
 * Candidate target of a ramp-down scale-down (the reverse of `previousScaleDownTarget`): keep only
 * what the previous cannot cover yet, N − previous ready − U, never below 0 nor above the current.
 * Example (surge, U = 0): N = 4, previous ready 3, candidate 2 → 1; ready 4 → 0.
 * Example (unavailable, U = 1): N = 4, previous ready 2, candidate 2 → 1.
 */
export function candidateScaleDownTarget(args: {
  baseReplicas: number;
  unavailableStep: number;
  previousReady: number;
  candidateDesired: number;
}): number {
  const keep = args.baseReplicas - args.previousReady - args.unavailableStep;
  return Math.min(args.candidateDesired, Math.max(0, keep));
}

/**
 * Traffic shifts a rolling deploy needs: ceil(N / step).
 * Example: N = 4, step 1 → 4; N = 10, step 3 → 4; N = 3, step 2 → 2.
 */
export function rollingStepCount(baseReplicas: number, stepSize: number): number {
  return Math.ceil(baseReplicas / Math.max(1, stepSize));
}

/**
 * Canary: replicas the candidate must have ready before any traffic moves: max(1, min_replica).
 * Example: min_replica 0 → 1; min_replica 3 → 3.
 */
export function canaryReadyThreshold(bounds: ScalingBounds): number {
  return Math.max(1, bounds.min_replica);
}

/** Canary: number of even traffic stages (10%, 20%, … 100%). */
export const CANARY_STAGE_COUNT = 10;

/**
 * Canary: traffic at a stage: stage × 100 / 10.
 * Example: stage 1 → 10, stage 7 → 70, stage 10 → 100.
 */
export function canaryStagePercent(stage: number): number {
  return Math.min(100, (stage * 100) / CANARY_STAGE_COUNT);
}

/**
 * Canary: time between stages, duration / 10, in ms.
 * Example: 600 s → 60 000 ms; 0 s → 0 (all stages in one pass).
 */
export function canaryStageIntervalMs(rampUpDurationSeconds: number): number {
  return (Math.max(0, rampUpDurationSeconds) * 1000) / CANARY_STAGE_COUNT;
}

/**
 * Autoscaling during a rollout: N grows to min(demand, max_replica), only upwards; the extra
 * replicas are split by the current traffic share, the candidate's part rounded to nearest.
 * Example: N = 10, 40% to the candidate, demand 20, max 30 → N 20, +6 previous, +4 candidate.
 * Example: N = 10, demand 8 → nothing (never removes). N = 10, demand 50, max 12 → N 12, split of 2.
 */
export function autoscaleGrowth(args: {
  baseReplicas: number;
  demandReplicas: number | undefined;
  maxReplica: number;
  percentToCandidate: number;
}): { baseReplicas: number; extraPrevious: number; extraCandidate: number } {
  const target = Math.min(args.demandReplicas ?? 0, args.maxReplica);
  if (target <= args.baseReplicas) {
    return { baseReplicas: args.baseReplicas, extraPrevious: 0, extraCandidate: 0 };
  }
  const extra = target - args.baseReplicas;
  const extraCandidate = Math.round((extra * args.percentToCandidate) / 100);
  return { baseReplicas: target, extraPrevious: extra - extraCandidate, extraCandidate };
}
