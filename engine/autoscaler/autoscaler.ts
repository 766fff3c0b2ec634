import { recommendReplicas, type LoadSample, type Recommendation } from "./recommend.js";
import { resolveAutoscalingSettings, type AutoscalingSettings } from "./settings.js";

/** Where load comes from: the router. */
export interface LoadSource {
  inFlightForDeployment(deploymentId: string): number;
  /** monotonic count of requests received; optional, but without it requests shorter than the
   * sampling period can go unseen */
  requestsForDeployment?(deploymentId: string): number;
}

export interface AutoscalerOptions {
  source: LoadSource;
  /** Set a deployment's replica count (the engine persists it and calls runtime.setDesired). */
  apply: (deploymentId: string, replicas: number) => void;
  /** Default 250 ms. */
  sampleIntervalMs?: number;
  /** Default Date.now. */
  clock?: () => number;
}

interface TrackedDeployment {
  settings: AutoscalingSettings;
  samples: LoadSample[];
  lastRequestCount: number;
  currentReplicas: number;
  lastHighDemandAt: number;
  /** a promotion owns the replica count: sampled, never applied */
  excluded: boolean;
  last: Recommendation | undefined;
}

/**
 * Samples the router's load for every tracked deployment and applies `recommendReplicas`.
 * Decisions are pure and in recommend.ts; this class only keeps samples and state between calls.
 */
export class Autoscaler {
  private readonly deployments = new Map<string, TrackedDeployment>();
  private readonly clock: () => number;
  private readonly sampleIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: AutoscalerOptions) {
    this.clock = options.clock ?? Date.now;
    this.sampleIntervalMs = options.sampleIntervalMs ?? 250;
  }

  /** Start autoscaling a deployment, or replace its settings. `currentReplicas` is what it runs
   * now; a new delay period starts from now, so a fresh deployment is not scaled down at once. */
  track(deploymentId: string, settings: Partial<AutoscalingSettings>, currentReplicas: number): void {
    const resolved = resolveAutoscalingSettings(settings);
    const existing = this.deployments.get(deploymentId);
    if (existing !== undefined) {
      existing.settings = resolved;
      existing.currentReplicas = currentReplicas;
    } else {
      this.deployments.set(deploymentId, {
        settings: resolved,
        samples: [],
        lastRequestCount: this.options.source.requestsForDeployment?.(deploymentId) ?? 0,
        currentReplicas,
        lastHighDemandAt: this.clock(),
        excluded: false,
        last: undefined,
      });
    }
    this.ensureTimer();
  }

  untrack(deploymentId: string): void {
    this.deployments.delete(deploymentId);
    if (this.deployments.size === 0) this.stopTimer();
  }

  /** A promotion now decides this deployment's replica count: keep measuring, stop applying. */
  exclude(deploymentId: string): void {
    const tracked = this.deployments.get(deploymentId);
    if (tracked !== undefined) tracked.excluded = true;
  }

  /** The promotion is over: autoscale again from `currentReplicas`, with a fresh delay period. */
  include(deploymentId: string, currentReplicas: number): void {
    const tracked = this.deployments.get(deploymentId);
    if (tracked === undefined) return;
    tracked.excluded = false;
    tracked.currentReplicas = currentReplicas;
    tracked.lastHighDemandAt = this.clock();
  }

  /** The engine changed the replica count itself (activation, manual scaling). */
  setCurrentReplicas(deploymentId: string, replicas: number): void {
    const tracked = this.deployments.get(deploymentId);
    if (tracked !== undefined) tracked.currentReplicas = replicas;
  }

  /**
   * A request is waiting for a deployment scaled to zero (the router's onWake): scale to one
   * replica now instead of at the next sample. Returns false when the autoscaler does not own
   * the deployment's count (untracked or excluded); the engine then decides.
   */
  wake(deploymentId: string): boolean {
    const tracked = this.deployments.get(deploymentId);
    if (tracked === undefined || tracked.excluded) return false;
    tracked.lastHighDemandAt = this.clock();
    if (tracked.currentReplicas === 0) {
      tracked.currentReplicas = Math.min(tracked.settings.max_replica, Math.max(1, tracked.settings.min_replica));
      this.options.apply(deploymentId, tracked.currentReplicas);
    }
    return true;
  }

  /** Replicas the load calls for, unclamped (0 when untracked). For the promotion reconciler. */
  demand(deploymentId: string): number {
    return this.deployments.get(deploymentId)?.last?.demand ?? 0;
  }

  /** The latest decision for a deployment, if any sample was taken. */
  recommendation(deploymentId: string): Recommendation | undefined {
    return this.deployments.get(deploymentId)?.last;
  }

  /** One sampling pass over every tracked deployment (the timer calls it; tests call it). */
  sampleNow(): void {
    const now = this.clock();
    const { source } = this.options;
    for (const [deploymentId, tracked] of this.deployments) {
      const requestCount = source.requestsForDeployment?.(deploymentId) ?? 0;
      tracked.samples.push({ at: now, inFlight: source.inFlightForDeployment(deploymentId), arrivals: Math.max(0, requestCount - tracked.lastRequestCount) });
      tracked.lastRequestCount = requestCount;
      const windowStart = now - tracked.settings.autoscaling_window * 1000;
      let stale = 0;
      while (stale < tracked.samples.length && tracked.samples[stale]!.at <= windowStart) stale++;
      if (stale > 0) tracked.samples.splice(0, stale);

      const recommendation = recommendReplicas({
        settings: tracked.settings,
        samples: tracked.samples,
        currentReplicas: tracked.currentReplicas,
        lastHighDemandAt: tracked.lastHighDemandAt,
        now,
      });
      tracked.last = recommendation;
      if (tracked.excluded) continue;
      tracked.lastHighDemandAt = recommendation.lastHighDemandAt;
      if (recommendation.replicas !== tracked.currentReplicas) {
        tracked.currentReplicas = recommendation.replicas;
        this.options.apply(deploymentId, recommendation.replicas);
      }
    }
  }

  close(): void {
    this.closed = true;
    this.stopTimer();
    this.deployments.clear();
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
