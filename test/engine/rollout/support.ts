/**
 * Test support for the rollout planner: settings builders and a simulated runtime that turns
 * desired replica counts into ready/starting counts over time, as the reconciler would observe them.
 */
import {
  isTerminalStatus,
  planNextStep,
  resumedAfterTakeover,
  startPromotion,
  type DeploymentReplicaObservation,
  type Observation,
  type PromotionSettingsSnapshot,
  type PromotionState,
  type RollingDeployConfig,
  type ScalingBounds,
  type StartPromotionInput,
} from "../../../engine/rollout/index.js";

export const MINUTE_MS = 60_000;

export function settingsWith(
  overrides: Partial<Omit<PromotionSettingsSnapshot, "rolling_deploy_config">> & {
    rolling_deploy_config?: Partial<RollingDeployConfig>;
  } = {},
): PromotionSettingsSnapshot {
  const { rolling_deploy_config: rollingOverrides, ...rest } = overrides;
  return {
    rolling_deploy: false,
    promotion_cleanup_strategy: "SCALE_TO_ZERO",
    ramp_up_while_promoting: false,
    ramp_up_duration_seconds: 600,
    redeploy_on_promotion: false,
    ...rest,
    rolling_deploy_config: {
      max_surge_percent: 10,
      max_unavailable_percent: 0,
      stabilization_time_seconds: 0,
      replica_overhead_percent: 0,
      ...rollingOverrides,
    },
  };
}

export function rollingSettings(config: Partial<RollingDeployConfig>, cleanup: PromotionSettingsSnapshot["promotion_cleanup_strategy"] = "SCALE_TO_ZERO"): PromotionSettingsSnapshot {
  return settingsWith({ rolling_deploy: true, rolling_deploy_config: config, promotion_cleanup_strategy: cleanup });
}

export function start(
  settings: PromotionSettingsSnapshot,
  previousReplicas: number,
  options: {
    bounds?: ScalingBounds;
    previousDeploymentId?: string | null;
    now?: number;
    readyTimeoutMs?: number;
    candidateDeploymentName?: string;
    timeoutSeconds?: number | null;
  } = {},
): PromotionState {
  const input: StartPromotionInput = {
    id: "prom-1",
    previousDeploymentId: options.previousDeploymentId === undefined ? "dep-previous" : options.previousDeploymentId,
    candidateDeploymentId: "dep-candidate",
    ...(options.candidateDeploymentName !== undefined ? { candidateDeploymentName: options.candidateDeploymentName } : {}),
    settings,
    bounds: options.bounds ?? { min_replica: 1, max_replica: 20 },
    previousReplicas,
    now: options.now ?? 0,
    readyTimeoutMs: options.readyTimeoutMs ?? 10 * MINUTE_MS,
    timeoutSeconds: options.timeoutSeconds ?? null,
  };
  return startPromotion(input);
}

/** One deployment in the simulated runtime: each replica becomes ready at its own time. */
export class SimulatedDeployment {
  private replicaReadyAt: number[] = [];
  failing = false;
  lastError: string | undefined;

  constructor(
    initialReady: number,
    private readonly startupDelayMs: () => number,
  ) {
    this.replicaReadyAt = Array.from({ length: initialReady }, () => 0);
  }

  /** Converge to `desired` at `now`: start missing replicas; remove extra ones, not-ready first. */
  setDesired(desired: number, now: number): void {
    while (this.replicaReadyAt.length < desired) this.replicaReadyAt.push(now + this.startupDelayMs());
    if (this.replicaReadyAt.length > desired) {
      this.replicaReadyAt.sort((a, b) => a - b);
      this.replicaReadyAt = this.replicaReadyAt.slice(0, desired);
    }
  }

  observe(now: number): DeploymentReplicaObservation {
    const ready = this.replicaReadyAt.filter((readyAt) => readyAt <= now).length;
    const observation: DeploymentReplicaObservation = {
      ready: this.failing ? 0 : ready,
      starting: this.replicaReadyAt.length - (this.failing ? 0 : ready),
      failing: this.failing,
    };
    if (this.lastError !== undefined) observation.lastError = this.lastError;
    return observation;
  }

  /** The engine was killed and its replicas with it: the runtime starts every one again, cold. */
  restartAll(now: number): void {
    this.replicaReadyAt = this.replicaReadyAt.map(() => now + this.startupDelayMs());
  }

  /** When the next starting replica becomes ready, or null when none is starting. */
  nextReadyAt(now: number): number | null {
    const pending = this.replicaReadyAt.filter((readyAt) => readyAt > now);
    return pending.length === 0 ? null : Math.min(...pending);
  }
}

/** A promotion wired to a simulated runtime, stepped the way the reconciler steps it. */
export class SimulatedRollout {
  readonly previous: SimulatedDeployment;
  readonly candidate: SimulatedDeployment;
  now: number;
  demandReplicas: number | undefined;
  /** Set by `takeOver` until the planner says the candidate is back (as the reconciler keeps it). */
  resumingSince: number | undefined;
  /** Every state the planner returned, oldest first. */
  readonly history: PromotionState[] = [];
  readonly observations: Observation[] = [];

  constructor(
    public state: PromotionState,
    options: { previousReady: number; startupDelayMs?: () => number },
  ) {
    const delay = options.startupDelayMs ?? (() => 1_000);
    this.previous = new SimulatedDeployment(options.previousReady, delay);
    this.candidate = new SimulatedDeployment(0, delay);
    this.now = state.startedAt;
    this.history.push(state);
    this.applyDesired();
  }

  applyDesired(): void {
    this.previous.setDesired(this.state.desiredReplicas.previous, this.now);
    this.candidate.setDesired(this.state.desiredReplicas.candidate, this.now);
  }

  observe(): Observation {
    const observation: Observation = {
      now: this.now,
      previous: this.state.previousDeploymentId === null ? null : this.previous.observe(this.now),
      candidate: this.candidate.observe(this.now),
    };
    if (this.demandReplicas !== undefined) observation.demandReplicas = this.demandReplicas;
    if (this.resumingSince !== undefined) observation.resumingSince = this.resumingSince;
    return observation;
  }

  /** kill -9 and restart of the engine: every replica starts again cold; a new engine takes over. */
  takeOver(): void {
    this.previous.restartAll(this.now);
    this.candidate.restartAll(this.now);
    this.resumingSince = this.now;
  }

  /** One reconciler pass: observe, plan, persist, apply. Returns the plan's wakeAt. */
  pass(): number | null {
    if (this.resumingSince !== undefined && resumedAfterTakeover(this.state, this.candidate.observe(this.now))) this.resumingSince = undefined;
    const observation = this.observe();
    this.observations.push(observation);
    const result = planNextStep(this.state, observation);
    this.state = result.state;
    this.history.push(result.state);
    this.applyDesired();
    return result.wakeAt;
  }

  /** The next moment something happens: the plan's timer or a replica becoming ready. */
  nextEventAt(wakeAt: number | null): number | null {
    const times = [wakeAt, this.previous.nextReadyAt(this.now), this.candidate.nextReadyAt(this.now)].filter(
      (time): time is number => time !== null,
    );
    return times.length === 0 ? null : Math.min(...times);
  }

  /** Pass until terminal (or stuck), jumping time to each next event; returns the passes made. */
  runToEnd(maxPasses = 10_000): number {
    for (let passes = 1; passes <= maxPasses; passes += 1) {
      const versionBefore = this.state.version;
      const wakeAt = this.pass();
      if (isTerminalStatus(this.state.status)) return passes;
      // A pass that changed desired replicas changed the runtime: that is a change event, so the
      // reconciler passes again right away (replicas removed in the simulation are gone at once).
      if (this.state.version !== versionBefore) continue;
      const next = this.nextEventAt(wakeAt);
      if (next === null) return passes;
      this.now = Math.max(this.now, next);
    }
    return maxPasses;
  }

  /** Distinct consecutive values of something across the history (e.g. traffic 0,25,50,…). */
  sequenceOf(pick: (state: PromotionState) => number): number[] {
    const values: number[] = [];
    for (const state of this.history) {
      const value = pick(state);
      if (values[values.length - 1] !== value) values.push(value);
    }
    return values;
  }
}

/** Deterministic pseudo-random numbers from a fast-check seed (mulberry32). */
export function seededRandom(seed: number): () => number {
  let value = seed >>> 0;
  return () => {
    value = (value + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(value ^ (value >>> 15), 1 | value);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}
