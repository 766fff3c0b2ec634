import type { AutoscalingSettings } from "./settings.js";

/** One observation of a deployment's load. */
export interface LoadSample {
  /** epoch ms */
  at: number;
  /** requests in flight at that instant (including requests held while the deployment wakes) */
  inFlight: number;
  /** requests that arrived since the previous sample; catches requests shorter than the
   * sampling period, which an in-flight count alone could miss entirely */
  arrivals: number;
}

export interface RecommendationInput {
  settings: AutoscalingSettings;
  /** samples, any age: those outside the window are ignored */
  samples: readonly LoadSample[];
  /** replicas the deployment is set to run now */
  currentReplicas: number;
  /** last time demand justified `currentReplicas` or more: the scale-down delay counts from
   * here. Pass the `lastHighDemandAt` of the previous recommendation. */
  lastHighDemandAt: number;
  now: number;
}

export interface Recommendation {
  /** replicas to run now, within [min_replica, max_replica] */
  replicas: number;
  /** replicas the load calls for, unclamped: ceil(average in flight / (concurrency_target ×
   * utilization)), and at least 1 if any request arrived during the window */
  demand: number;
  /** carry into the next call */
  lastHighDemandAt: number;
}

/**
 * Baseten-style autoscaling decision. Pure.
 *
 * Worked example: concurrency_target 4, utilization 75 % → 3 requests per replica. An average of
 * 7 in flight over the window → demand ceil(7 / 3) = 3. With current 2 → 3 at once (scale up is
 * immediate). Load then drops to 2 in flight → demand 1: stays 3 until demand has been below 3
 * for scale_down_delay seconds, then 1. Zero only when min_replica is 0 and no request arrived
 * during the window, i.e. window + delay after the last request.
 */
export function recommendReplicas(input: RecommendationInput): Recommendation {
  return recommendFromLoad({ ...input, load: windowLoad(input.samples, input.now - input.settings.autoscaling_window * 1000, input.now) }, input.now);
}

/** What the samples of one window add up to: how many there are, their in-flight counts, their arrivals. */
export interface WindowLoad {
  samples: number;
  inFlightSum: number;
  arrivals: number;
}

/** The load of the samples taken in (windowStart, now]. Example: in-flight 2, 4 and 0 with 1 arrival → {3, 6, 1}. */
export function windowLoad(samples: readonly LoadSample[], windowStart: number, now: number): WindowLoad {
  const load: WindowLoad = { samples: 0, inFlightSum: 0, arrivals: 0 };
  for (const sample of samples) {
    if (sample.at <= windowStart || sample.at > now) continue;
    load.inFlightSum += sample.inFlight;
    load.arrivals += sample.arrivals;
    load.samples++;
  }
  return load;
}

/** What a replica set's decision is made from, besides the time: the autoscaler's record of the set is one. */
export type LoadState = Pick<RecommendationInput, "settings" | "currentReplicas" | "lastHighDemandAt"> & { load: WindowLoad };

/**
 * `recommendReplicas` from a window's load already added up: the autoscaler keeps each set's sums
 * as samples enter and leave the window, instead of adding up 240 samples (60 s at 4 per second)
 * of every set at every tick — 13 % of the engine's CPU with 16,000 sets (bench/scale). It takes
 * its record of the set as it is (no object made per set per tick).
 */
export function recommendFromLoad(state: LoadState, now: number): Recommendation {
  const { settings, currentReplicas, lastHighDemandAt, load } = state;
  const { inFlightSum, arrivals } = load;
  const sampleCount = load.samples;
  const averageInFlight = sampleCount === 0 ? 0 : inFlightSum / sampleCount;
  const perReplica = settings.concurrency_target * (settings.target_utilization_percentage / 100);
  // The epsilon absorbs float noise: 2.1 / 0.7 is 3.0000000000000004, which must give 3, not 4.
  let demand = Math.max(0, Math.ceil(averageInFlight / perReplica - 1e-9));
  if (demand === 0 && arrivals > 0) demand = 1;

  const target = Math.min(settings.max_replica, Math.max(settings.min_replica, demand));
  const delayElapsed = now - lastHighDemandAt >= settings.scale_down_delay * 1000;
  // Up at once; down only after the delay, except above max_replica (settings just lowered).
  if (target >= currentReplicas || currentReplicas > settings.max_replica || delayElapsed) {
    return { replicas: target, demand, lastHighDemandAt: now };
  }
  return { replicas: currentReplicas, demand, lastHighDemandAt };
}

/**
 * Until when a set's decision stays what it is unless requests arrive or its settings or replica
 * count change; undefined when it may change at the next sample. Its window must have seen no
 * request (demand 0); then an idle window's decision is min_replica (within max_replica), and
 * - a set that runs that is settled: for ever (Infinity), each sample moving its last high demand
 *   to the sample's time;
 * - a set that runs more (within max_replica) waits for its scale-down delay, counted from its last
 *   high demand, which stays put: until that delay has passed.
 * The autoscaler leaves such a set at rest instead of sampling it at every pass.
 * Example: min 1, max 4, delay 900 s, last high demand at T, nothing in the window: 1 replica →
 * Infinity; 2 replicas → T + 900,000 (then 1); 5 replicas → undefined (down at once, above max).
 */
export function restsUntil(state: LoadState): number | undefined {
  const { settings, currentReplicas, lastHighDemandAt, load } = state;
  if (load.inFlightSum !== 0 || load.arrivals !== 0) return undefined;
  const settled = Math.min(settings.max_replica, Math.max(settings.min_replica, 0));
  if (currentReplicas === settled) return Number.POSITIVE_INFINITY;
  if (currentReplicas > settled && currentReplicas <= settings.max_replica) return lastHighDemandAt + settings.scale_down_delay * 1000;
  return undefined;
}
