/**
 * Types of the automated promotion analysis (issue 16). The evaluation is pure: measured windows
 * in, per-metric verdicts out; the runner (runner.ts) does the measuring, the planner
 * (engine/rollout/analysis.ts) records results on the persisted promotion and decides from them.
 */
import type { AnalysisMetricResult, AnalysisVerdict } from "../../sdk/index.js";

/** What the router counted for one replica set over one window (engine/metrics/request-window.ts). */
export interface WindowStats {
  /** requests that ended in the window */
  requests: number;
  /** non-5xx share of the answered ones; undefined with none */
  successRate: number | undefined;
  /** end-to-end latency quantile q (0–1) in seconds; undefined with no request */
  latencyQuantile(q: number): number | undefined;
}

/** What a PromQL query answered at the end of the window. */
export type PrometheusOutcome =
  /** the first sample's value */
  | { kind: "value"; value: number }
  /** an empty vector, or a sample that is not a number (NaN, ±Inf) */
  | { kind: "empty" }
  /** the server was unreachable, timed out or refused the query */
  | { kind: "error"; message: string };

/** Everything measured for one window. */
export interface AnalysisMeasurement {
  /** the candidate's set for the environment */
  candidate: WindowStats;
  /** the previous deployment's set over the same window; null when there is no previous deployment */
  previous: WindowStats | null;
  /** metric name → the answer of its query (prometheus metrics only) */
  prometheus: ReadonlyMap<string, PrometheusOutcome>;
  /** copies of the environment's requests the candidate answered as a shadow in the window, and
   * how many of them agreed (engine/metrics/shadow-stats.ts); zeros without a shadow on it */
  shadow: { agreed: number; compared: number };
}

/** Names for messages: people read deployment names, not ids. */
export interface AnalysisSubjects {
  candidate: string;
  previous: string | null;
}

/** One judged window, as the runner hands it to the planner. */
export interface AnalysisMeasured {
  /** window start and end (ms) */
  startedAt: number;
  endedAt: number;
  metrics: AnalysisMetricResult[];
}

/** One judged window, as persisted on the promotion (`PromotionState.analysis.runs`). */
export interface AnalysisRunRecord extends AnalysisMeasured {
  /** the promotion's step and traffic share when the window ended */
  step: number;
  totalSteps: number;
  percentTrafficToNewVersion: number;
  /** fail if any metric failed, else inconclusive if any was, else pass */
  verdict: AnalysisVerdict;
}

/** Run counts the decisions are made from. */
export interface AnalysisCounters {
  passed: number;
  failed: number;
  inconclusive: number;
  /** inconclusive runs since the last conclusive one or the last resume */
  inconclusiveInARow: number;
}

/** The analysis part of the persisted promotion state. */
export interface AnalysisState extends AnalysisCounters {
  /** the most recent runs, oldest first, at most `MAX_RECORDED_RUNS` */
  runs: AnalysisRunRecord[];
  /** when traffic first reached the candidate (ms): the initial delay counts from here */
  firstTrafficAt: number | null;
  /** while measuring (traffic to the candidate, not paused): when the next window may start (ms);
   * null while not measuring, so the runner drops its snapshot and a resume starts afresh */
  windowStartsAt: number | null;
  /** why analysis paused the promotion; null otherwise */
  pausedReason: string | null;
}

/** What the counters say to do (dry run: always continue). */
export type AnalysisDecision =
  | { kind: "continue" }
  /** failed runs exceed failure_limit: roll back */
  | { kind: "fail"; reason: string }
  /** inconclusive runs in a row exceed inconclusive_limit: wait for a person */
  | { kind: "pause"; reason: string };
