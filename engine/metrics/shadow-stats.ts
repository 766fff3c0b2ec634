/**
 * What the environments' shadows did (issue 17), counted by the router's mirror: monotonic
 * counters per (model, environment, shadow deployment, outcome) for GET /metrics and promotion
 * analysis, and per environment a window since its shadow (or the shadow's deployment) last
 * changed for GET …/environments/{env}/shadow — counts, agreement, latency percentiles of both
 * sides over the newest 1024 comparisons, and the newest 20 disagreements. Everything is bounded:
 * memory grows with the number of shadowed environments, never with traffic.
 */
import { ShadowOutcome, type ShadowDisagreement, type ShadowReport, type ShadowSettings } from "../../sdk/schemas/shadow.js";

/** Latencies kept per side for the percentiles. */
const LATENCY_SAMPLES = 1024;
/** Disagreements kept (the newest). */
const DISAGREEMENT_SAMPLES = 20;
/** Bodies kept in a sample (keep_bodies) are cut to this many characters. */
const SAMPLE_BODY_CHARS = 4096;

/** One mirrored request's end, as the mirror reports it. */
export interface ShadowObservation {
  outcome: ShadowOutcome;
  /** where the copy went (or would have gone); null: nowhere (no candidate) */
  shadowDeploymentId: string | null;
  /** agreed / disagreed only */
  compared?: {
    primaryDeploymentId: string;
    /** where the copy went: the shadow deployment, or — a candidate serving the request itself — the current one */
    copyDeploymentId: string;
    primaryStatus: number;
    shadowStatus: number;
    primaryLatencyMs: number;
    shadowLatencyMs: number;
    statusAgrees: boolean;
    differingFields: string[];
    requestId: () => string;
    bodies?: { request: Buffer; primary: Buffer; shadow: Buffer } | undefined;
  };
}

/** Cumulative counts of one (model, environment, shadow deployment). */
export interface ShadowCounter {
  modelId: string;
  environment: string;
  shadowDeploymentId: string;
  outcome: ShadowOutcome;
  count: number;
}

class Ring {
  readonly #values = new Float64Array(LATENCY_SAMPLES);
  #size = 0;
  #next = 0;
  push(value: number): void {
    this.#values[this.#next] = value;
    this.#next = (this.#next + 1) % LATENCY_SAMPLES;
    if (this.#size < LATENCY_SAMPLES) this.#size++;
  }
  percentiles(): { p50: number | null; p90: number | null; p99: number | null } {
    if (this.#size === 0) return { p50: null, p90: null, p99: null };
    const sorted = Array.from(this.#values.subarray(0, this.#size)).sort((a, b) => a - b);
    // nearest rank: the smallest value with at least q of the samples at or below it
    const at = (q: number): number => round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99) };
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function emptyCounts(): Record<ShadowOutcome, number> {
  const counts = {} as Record<ShadowOutcome, number>;
  for (const outcome of ShadowOutcome.options) counts[outcome] = 0;
  return counts;
}

/** The report's window of one environment. */
class EnvironmentWindow {
  readonly since = new Date();
  readonly counts = emptyCounts();
  statusAgreed = 0;
  readonly primary = new Ring();
  readonly shadow = new Ring();
  readonly delta = new Ring();
  readonly disagreements: ShadowDisagreement[] = [];
  constructor(
    readonly settingsKey: string,
    public shadowDeploymentId: string | null,
  ) {}
}

export class ShadowStats {
  readonly #windows = new Map<string, EnvironmentWindow>();
  readonly #counters = new Map<string, ShadowCounter>();

  /** Records one copy's end. `settingsKey` identifies the shadow's configuration: a new one starts a new window. */
  record(modelId: string, environment: string, settingsKey: string, observation: ShadowObservation): void {
    const key = `${modelId}\0${environment}`;
    let window = this.#windows.get(key);
    const deploymentId = observation.shadowDeploymentId;
    if (window === undefined || window.settingsKey !== settingsKey || (deploymentId !== null && window.shadowDeploymentId !== null && window.shadowDeploymentId !== deploymentId)) {
      window = new EnvironmentWindow(settingsKey, deploymentId);
      this.#windows.set(key, window);
    }
    if (deploymentId !== null) window.shadowDeploymentId = deploymentId;
    window.counts[observation.outcome]++;
    const counterKey = `${key}\0${deploymentId ?? ""}\0${observation.outcome}`;
    const counter = this.#counters.get(counterKey);
    if (counter !== undefined) counter.count++;
    else this.#counters.set(counterKey, { modelId, environment, shadowDeploymentId: deploymentId ?? "", outcome: observation.outcome, count: 1 });
    const compared = observation.compared;
    if (compared === undefined) return;
    if (compared.statusAgrees) window.statusAgreed++;
    window.primary.push(compared.primaryLatencyMs);
    window.shadow.push(compared.shadowLatencyMs);
    window.delta.push(compared.shadowLatencyMs - compared.primaryLatencyMs);
    if (observation.outcome !== "disagreed") return;
    const sample: ShadowDisagreement = {
      request_id: compared.requestId(),
      at: new Date().toISOString(),
      shadow_deployment_id: compared.copyDeploymentId,
      primary_deployment_id: compared.primaryDeploymentId,
      primary_status: compared.primaryStatus,
      shadow_status: compared.shadowStatus,
      differing_fields: compared.differingFields,
      primary_latency_ms: round(compared.primaryLatencyMs),
      shadow_latency_ms: round(compared.shadowLatencyMs),
    };
    if (compared.bodies !== undefined) {
      sample.request_body = text(compared.bodies.request);
      sample.primary_body = text(compared.bodies.primary);
      sample.shadow_body = text(compared.bodies.shadow);
    }
    window.disagreements.push(sample);
    if (window.disagreements.length > DISAGREEMENT_SAMPLES) window.disagreements.shift();
  }

  /** The live comparison of an environment (its shadow as configured now; null: none). */
  report(modelId: string, environment: string, shadow: ShadowSettings | null): ShadowReport {
    const window = shadow === null ? undefined : this.#windows.get(`${modelId}\0${environment}`);
    const current = window !== undefined && window.settingsKey === shadowSettingsKey(shadow!) ? window : undefined;
    const counts = current?.counts ?? emptyCounts();
    const compared = counts.agreed + counts.disagreed;
    return {
      model_id: modelId,
      environment,
      shadow,
      since: current?.since.toISOString() ?? null,
      shadow_deployment_id: current?.shadowDeploymentId ?? null,
      counts: { ...counts },
      compared,
      agreement_rate: compared === 0 ? null : counts.agreed / compared,
      status_agreement_rate: compared === 0 || current === undefined ? null : current.statusAgreed / compared,
      latency_ms: {
        primary: (current?.primary ?? new Ring()).percentiles(),
        shadow: (current?.shadow ?? new Ring()).percentiles(),
        delta: (current?.delta ?? new Ring()).percentiles(),
      },
      disagreements: [...(current?.disagreements ?? [])],
    };
  }

  /** Each shadowed environment's current window, for the gauges of GET /metrics. */
  *windows(): Iterable<{
    modelId: string;
    environment: string;
    shadowDeploymentId: string;
    agreementRate: number | null;
    latencySeconds: Record<"primary" | "shadow", { p50: number | null; p90: number | null; p99: number | null }>;
  }> {
    for (const [key, window] of this.#windows) {
      const [modelId, environment] = key.split("\0") as [string, string];
      const compared = window.counts.agreed + window.counts.disagreed;
      const seconds = (ring: Ring) => {
        const ms = ring.percentiles();
        const toSeconds = (value: number | null) => (value === null ? null : value / 1000);
        return { p50: toSeconds(ms.p50), p90: toSeconds(ms.p90), p99: toSeconds(ms.p99) };
      };
      yield {
        modelId,
        environment,
        shadowDeploymentId: window.shadowDeploymentId ?? "",
        agreementRate: compared === 0 ? null : window.counts.agreed / compared,
        latencySeconds: { primary: seconds(window.primary), shadow: seconds(window.shadow) },
      };
    }
  }

  /** Cumulative counts (never reset), for GET /metrics and promotion analysis. */
  counters(): Iterable<ShadowCounter> {
    return this.#counters.values();
  }

  /** Cumulative agreed and compared copies of one shadow deployment in one environment. */
  agreement(modelId: string, environment: string, shadowDeploymentId: string): { agreed: number; compared: number } {
    const prefix = `${modelId}\0${environment}\0${shadowDeploymentId}\0`;
    const agreed = this.#counters.get(`${prefix}agreed`)?.count ?? 0;
    const disagreed = this.#counters.get(`${prefix}disagreed`)?.count ?? 0;
    return { agreed, compared: agreed + disagreed };
  }

  /** The environment is gone: its window goes (its counters stay, as Prometheus counters do). */
  forget(modelId: string, environment: string): void {
    this.#windows.delete(`${modelId}\0${environment}`);
  }
}

/** Identifies a shadow configuration: a changed one starts a new report window. */
export function shadowSettingsKey(settings: ShadowSettings): string {
  return JSON.stringify(settings);
}

function text(body: Buffer): string {
  const value = body.toString("utf8");
  return value.length > SAMPLE_BODY_CHARS ? `${value.slice(0, SAMPLE_BODY_CHARS)}…` : value;
}
