/**
 * The analysis runner: the I/O edge of the analysis. On each reconcile pass of a promotion with
 * analysis it snapshots the router's counters of the candidate's and the previous deployment's
 * sets for the environment when a window opens and when it closes, queries Prometheus for the
 * external metrics, and hands the judged window to the planner (Observation.analysis), which
 * records it and decides. Open windows live in memory only: the counters they subtract from are
 * this engine's own (an engine that takes a promotion over starts a fresh window).
 */
import { requestWindow, snapshotSet, type SetSnapshot } from "../metrics/request-window.js";
import type { RequestMetrics } from "../metrics/request-metrics.js";
import type { ShadowStats } from "../metrics/shadow-stats.js";
import { replicaSetId } from "../runtime/runtime.js";
import type { PromotionState } from "../rollout/types.js";
import { evaluateMetrics } from "./evaluate.js";
import { fillQuery, queryPrometheus } from "./prometheus-query.js";
import type { AnalysisMeasured, PrometheusOutcome } from "./types.js";
import { windowDueAt, windowMove } from "./window-schedule.js";

export interface AnalysisRunnerOptions {
  /** the router's request counters (the engine's own) */
  requests: RequestMetrics;
  /** the router's shadow counters (shadow_agreement metrics); none: every such window is inconclusive */
  shadows?: Pick<ShadowStats, "agreement">;
  /** Prometheus for metrics that give no `url` (`modelplane serve --prometheus-url`) */
  prometheusUrl?: string;
  /** how long one query may take (default 5 s) */
  queryTimeoutMs?: number;
  fetch?: typeof fetch;
}

/** What the reconciler knows of the promotion besides its state. */
export interface AnalysisTarget {
  promotionId: string;
  modelId: string;
  environmentName: string;
  /** for messages */
  candidateName: string;
  previousName: string | null;
}

interface OpenWindow {
  at: number;
  candidate: SetSnapshot;
  previous: SetSnapshot | null;
  /** the candidate's cumulative shadow comparisons in the environment */
  shadow: { agreed: number; compared: number };
}

export class AnalysisRunner {
  readonly #options: AnalysisRunnerOptions;
  readonly #open = new Map<string, OpenWindow>();

  constructor(options: AnalysisRunnerOptions) {
    this.#options = options;
  }

  #snapshot(target: AnalysisTarget, state: PromotionState, at: number): OpenWindow {
    const { requests } = this.#options;
    return {
      at,
      candidate: snapshotSet(requests, replicaSetId(state.candidateDeploymentId, target.environmentName)),
      previous: state.previousDeploymentId === null ? null : snapshotSet(requests, replicaSetId(state.previousDeploymentId, target.environmentName)),
      shadow: this.#options.shadows?.agreement(target.modelId, target.environmentName, state.candidateDeploymentId) ?? { agreed: 0, compared: 0 },
    };
  }

  /** Opens or closes a window as due; a closed window comes back judged, else undefined. */
  async measure(target: AnalysisTarget, state: PromotionState, now: number): Promise<AnalysisMeasured | undefined> {
    const settings = state.settings.analysis ?? null;
    const open = this.#open.get(target.promotionId);
    const move = settings === null ? "idle" : windowMove(state.analysis?.windowStartsAt ?? null, open?.at, settings.interval_seconds * 1000, now);
    if (settings === null || move === "idle") {
      this.#open.delete(target.promotionId);
      return undefined;
    }
    if (move === "wait") return undefined;
    const snapshot = this.#snapshot(target, state, now);
    this.#open.set(target.promotionId, snapshot);
    if (move === "open" || open === undefined) return undefined;
    const candidate = requestWindow(open.candidate, snapshot.candidate);
    const previous = open.previous !== null && snapshot.previous !== null ? requestWindow(open.previous, snapshot.previous) : null;
    const prometheus = new Map<string, PrometheusOutcome>();
    await Promise.all(
      settings.metrics.map(async (metric) => {
        if (metric.type !== "prometheus") return;
        prometheus.set(metric.name, await this.#query(metric.url, metric.query, target, state, now, settings.interval_seconds));
      }),
    );
    const shadow = { agreed: snapshot.shadow.agreed - open.shadow.agreed, compared: snapshot.shadow.compared - open.shadow.compared };
    const metrics = evaluateMetrics(settings.metrics, { candidate, previous, prometheus, shadow }, {
      candidate: target.candidateName,
      previous: target.previousName,
    });
    return { startedAt: open.at, endedAt: now, metrics };
  }

  async #query(url: string | undefined, query: string, target: AnalysisTarget, state: PromotionState, now: number, intervalSeconds: number): Promise<PrometheusOutcome> {
    const server = url ?? this.#options.prometheusUrl;
    if (server === undefined) return { kind: "error", message: "no Prometheus URL: give the metric a url or start the engine with --prometheus-url" };
    return queryPrometheus({
      url: server,
      query: fillQuery(query, {
        candidate_deployment_id: state.candidateDeploymentId,
        previous_deployment_id: state.previousDeploymentId ?? "",
        environment: target.environmentName,
        model_id: target.modelId,
        interval: `${intervalSeconds}s`,
      }),
      at: now,
      timeoutMs: this.#options.queryTimeoutMs ?? 5000,
      ...(this.#options.fetch !== undefined ? { fetch: this.#options.fetch } : {}),
    });
  }

  /** When the runner has something to do for this promotion next (ms), or null. */
  nextDueAt(promotionId: string, state: PromotionState): number | null {
    const settings = state.settings.analysis ?? null;
    if (settings === null) return null;
    return windowDueAt(state.analysis?.windowStartsAt ?? null, this.#open.get(promotionId)?.at, settings.interval_seconds * 1000);
  }

  /** The promotion ended (or moved to another engine): drop its open window. */
  forget(promotionId: string): void {
    this.#open.delete(promotionId);
  }
}
