import { recommendFromLoad, type LoadSample, type Recommendation, type WindowLoad } from "./recommend.js";
import { resolveAutoscalingSettings, type AutoscalingSettings } from "./settings.js";

/** Where load comes from: the router. */
export interface LoadSource {
  inFlightForSet(replicaSetId: string): number;
  /** monotonic count of requests received; optional, but without it requests shorter than the
   * sampling period can go unseen */
  requestsForSet?(replicaSetId: string): number;
}

export interface AutoscalerOptions {
  source: LoadSource;
  /** Default 250 ms. */
  sampleIntervalMs?: number;
  /** Default Date.now. */
  clock?: () => number;
}

interface TrackedSet {
  settings: AutoscalingSettings;
  /** the samples of the current window, oldest first */
  samples: LoadSample[];
  /** what `samples` add up to, kept as they enter and leave the window */
  load: WindowLoad;
  lastRequestCount: number;
  /** requests in flight when the load was last forgotten that have not finished yet: not demand */
  inFlightBaseline: number;
  currentReplicas: number;
  lastHighDemandAt: number;
  /** a promotion owns the replica count: sampled, never applied */
  excluded: boolean;
  last: Recommendation | undefined;
}

/**
 * Samples the router's load for every tracked replica set and applies `recommendReplicas`.
 * Decisions are pure and in recommend.ts; this class only keeps samples and state between calls.
 */
export class Autoscaler {
  private readonly sets = new Map<string, TrackedSet>();
  /** who applies a decision (the deployment controller persists it and calls runtime.setDesired) */
  private readonly deciders = new Set<(replicaSetId: string, replicas: number) => void>();
  private readonly clock: () => number;
  private readonly sampleIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: AutoscalerOptions) {
    this.clock = options.clock ?? Date.now;
    this.sampleIntervalMs = options.sampleIntervalMs ?? 250;
  }

  /** Start autoscaling a replica set, or replace its settings. `currentReplicas` is what it runs
   * now; a new delay period starts from now, so a fresh deployment is not scaled down at once. */
  track(replicaSetId: string, settings: Partial<AutoscalingSettings>, currentReplicas: number): void {
    const resolved = resolveAutoscalingSettings(settings);
    const existing = this.sets.get(replicaSetId);
    if (existing !== undefined) {
      existing.settings = resolved;
      existing.currentReplicas = currentReplicas;
    } else {
      this.sets.set(replicaSetId, {
        settings: resolved,
        samples: [],
        load: emptyLoad(),
        lastRequestCount: this.options.source.requestsForSet?.(replicaSetId) ?? 0,
        inFlightBaseline: 0,
        currentReplicas,
        lastHighDemandAt: this.clock(),
        excluded: false,
        last: undefined,
      });
    }
    this.ensureTimer();
  }

  untrack(replicaSetId: string): void {
    this.sets.delete(replicaSetId);
    if (this.sets.size === 0) this.stopTimer();
  }

  /** A promotion now decides this deployment's replica count: keep measuring, stop applying. */
  exclude(replicaSetId: string): void {
    const tracked = this.sets.get(replicaSetId);
    if (tracked !== undefined) tracked.excluded = true;
  }

  /** The promotion is over: autoscale again from `currentReplicas`, with a fresh delay period. */
  include(replicaSetId: string, currentReplicas: number): void {
    const tracked = this.sets.get(replicaSetId);
    if (tracked === undefined) return;
    tracked.excluded = false;
    tracked.currentReplicas = currentReplicas;
    tracked.lastHighDemandAt = this.clock();
  }

  /**
   * The traffic this set had is gone elsewhere (a promotion moved the environment to another
   * deployment): drop the samples, and do not count the requests still finishing on it, so that
   * the load it carried does not bring it back (e.g. a previous deployment just scaled to zero
   * woke up ~1 s later, from its own window of samples, and stayed for the scale-down delay).
   * Requests that arrive from now on count as usual.
   */
  forgetLoad(replicaSetId: string): void {
    const tracked = this.sets.get(replicaSetId);
    if (tracked === undefined) return;
    tracked.samples = [];
    tracked.load = emptyLoad();
    tracked.last = undefined;
    tracked.lastRequestCount = this.options.source.requestsForSet?.(replicaSetId) ?? 0;
    tracked.inFlightBaseline = this.options.source.inFlightForSet(replicaSetId);
  }

  /** The engine changed the replica count itself (activation, manual scaling). */
  setCurrentReplicas(replicaSetId: string, replicas: number): void {
    const tracked = this.sets.get(replicaSetId);
    if (tracked !== undefined) tracked.currentReplicas = replicas;
  }

  /**
   * A request is waiting for a replica set scaled to zero (the router's onWake): scale to one
   * replica now instead of at the next sample. Returns false when the autoscaler does not own
   * the deployment's count (untracked or excluded); the engine then decides.
   */
  wake(replicaSetId: string): boolean {
    const tracked = this.sets.get(replicaSetId);
    if (tracked === undefined || tracked.excluded) return false;
    tracked.lastHighDemandAt = this.clock();
    if (tracked.currentReplicas === 0) {
      tracked.currentReplicas = Math.min(tracked.settings.max_replica, Math.max(1, tracked.settings.min_replica));
      this.decide(replicaSetId, tracked.currentReplicas);
    }
    return true;
  }

  /** Called with each replica count decided for a set; returns the unsubscribe function. */
  onDecision(listener: (replicaSetId: string, replicas: number) => void): () => void {
    this.deciders.add(listener);
    return () => this.deciders.delete(listener);
  }

  private decide(replicaSetId: string, replicas: number): void {
    for (const listener of this.deciders) listener(replicaSetId, replicas);
  }

  /** Replicas the load calls for, unclamped (0 when untracked). For the promotion reconciler. */
  demand(replicaSetId: string): number {
    return this.sets.get(replicaSetId)?.last?.demand ?? 0;
  }

  /** The latest decision for a deployment, if any sample was taken. */
  recommendation(replicaSetId: string): Recommendation | undefined {
    return this.sets.get(replicaSetId)?.last;
  }

  /** One sampling pass over every tracked replica set (the timer calls it; tests call it). */
  sampleNow(): void {
    const now = this.clock();
    const { source } = this.options;
    for (const [replicaSetId, tracked] of this.sets) {
      const requestCount = source.requestsForSet?.(replicaSetId) ?? 0;
      const inFlight = source.inFlightForSet(replicaSetId);
      // The forgotten requests can only finish: the baseline follows the count down to 0.
      tracked.inFlightBaseline = Math.min(tracked.inFlightBaseline, inFlight);
      const sample: LoadSample = { at: now, inFlight: inFlight - tracked.inFlightBaseline, arrivals: Math.max(0, requestCount - tracked.lastRequestCount) };
      tracked.samples.push(sample);
      addToLoad(tracked.load, sample, 1);
      tracked.lastRequestCount = requestCount;
      const windowStart = now - tracked.settings.autoscaling_window * 1000;
      let stale = 0;
      while (stale < tracked.samples.length && tracked.samples[stale]!.at <= windowStart) addToLoad(tracked.load, tracked.samples[stale++]!, -1);
      if (stale > 0) tracked.samples.splice(0, stale);

      const recommendation = recommendFromLoad({
        settings: tracked.settings,
        load: tracked.load,
        currentReplicas: tracked.currentReplicas,
        lastHighDemandAt: tracked.lastHighDemandAt,
        now,
      });
      tracked.last = recommendation;
      if (tracked.excluded) continue;
      tracked.lastHighDemandAt = recommendation.lastHighDemandAt;
      if (recommendation.replicas !== tracked.currentReplicas) {
        tracked.currentReplicas = recommendation.replicas;
        this.decide(replicaSetId, recommendation.replicas);
      }
    }
  }

  close(): void {
    this.closed = true;
    this.stopTimer();
    this.sets.clear();
  }

  private ensureTimer(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setInterval(() => this.sampleNow(), this.sampleIntervalMs);
    // The engine's server keeps the process alive; the autoscaler alone must not.
    this.timer.unref();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

function emptyLoad(): WindowLoad {
  return { samples: 0, inFlightSum: 0, arrivals: 0 };
}

/** A sample enters (+1) or leaves (−1) the window. Counts are integers, so the sums stay exact. */
function addToLoad(load: WindowLoad, sample: LoadSample, sign: 1 | -1): void {
  load.samples += sign;
  load.inFlightSum += sign * sample.inFlight;
  load.arrivals += sign * sample.arrivals;
}
