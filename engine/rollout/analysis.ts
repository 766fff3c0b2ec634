/**
 * The planner's side of the automated analysis: it records each judged window on the persisted
 * state and decides from the state alone (pure, like the rest of the planner). The runner
 * (engine/analysis/runner.ts) measures; nothing here does I/O or reads a clock.
 *
 * Decisions, in the planner's priority order after the candidate's own failures:
 * - failed runs > failure_limit → FAILED (graceful rollback: traffic back to the previous at once),
 *   the reason naming the step, the metric, the measured value and the threshold;
 * - inconclusive runs in a row > inconclusive_limit → PAUSED, the reason recorded; `resume`
 *   measures afresh (the in-a-row count restarts);
 * - step gating (Argo Rollouts' step analysis, Flagger's per-interval checks): a ROLLING
 *   stabilization or a CANARY stage is not left before one run that *started* in it passed, so
 *   every traffic level is measured at least once — also the last one, before SUCCEEDED;
 * - dry run: runs are recorded and shown, never acted on (no fail, no pause, no gate).
 * Only traffic to the candidate is measured: RELEASING (no traffic yet), PAUSED and RAMPING_DOWN
 * are not, and INSTANT promotions (0 → 100 % at once) have no step to measure.
 */
import { countRun, analysisDecision, runVerdict } from "../analysis/verdict.js";
import type { AnalysisMeasured, AnalysisState } from "../analysis/types.js";
import type { PromotionAnalysis } from "../../sdk/index.js";
import { failPromotion } from "./outcomes.js";
import type { PromotionState } from "./types.js";

/** Runs kept on the promotion: enough to see a trend in the API, bounded so the row stays small. */
export const MAX_RECORDED_RUNS = 20;

/** The analysis the promotion started with; null when none. */
export function analysisSettingsOf(state: PromotionState): PromotionAnalysis | null {
  return state.settings.analysis ?? null;
}

export function initialAnalysisState(): AnalysisState {
  return {
    runs: [],
    passed: 0,
    failed: 0,
    inconclusive: 0,
    inconclusiveInARow: 0,
    firstTrafficAt: null,
    windowStartsAt: null,
    pausedReason: null,
  };
}

function analysisStateOf(state: PromotionState): AnalysisState {
  return state.analysis ?? initialAnalysisState();
}

/** True while the candidate gets traffic that is meant to be measured (see the file comment). */
export function measuringAnalysis(state: PromotionState): boolean {
  return (
    analysisSettingsOf(state) !== null &&
    state.kind !== "INSTANT" &&
    state.status === "RAMPING_UP" &&
    state.percentTrafficToNewVersion > 0
  );
}

/**
 * Keep `windowStartsAt` in step with whether the candidate is measured: set when measuring starts
 * (the initial delay counted from the first traffic), null when it stops (a pause, a ramp-down,
 * the end). Example: initial_delay_seconds 5, first traffic at t = 100 000 → windows from 105 000;
 * paused and resumed at t = 200 000 → windows from 200 000.
 */
export function syncAnalysisWindow(state: PromotionState, now: number): PromotionState {
  const settings = analysisSettingsOf(state);
  if (settings === null) return state;
  const analysis = analysisStateOf(state);
  if (!measuringAnalysis(state)) {
    if (analysis.windowStartsAt === null && state.analysis !== undefined) return state;
    return { ...state, analysis: { ...analysis, windowStartsAt: null } };
  }
  if (analysis.windowStartsAt !== null) return state;
  const firstTrafficAt = analysis.firstTrafficAt ?? now;
  return {
    ...state,
    analysis: { ...analysis, firstTrafficAt, windowStartsAt: Math.max(now, firstTrafficAt + settings.initial_delay_seconds * 1000) },
  };
}

/** "at step 2/5" for messages (the step the traffic is at). */
function stepLabel(state: PromotionState): string {
  return `at step ${state.step}/${state.totalSteps}`;
}

/**
 * Record a judged window on the state: the run (the newest `MAX_RECORDED_RUNS` kept) and the
 * counters. Ignored when the promotion is no longer measured (it ended or paused while the window
 * was measured): the window straddled a change the planner already acted on.
 */
export function recordAnalysisRun(state: PromotionState, measured: AnalysisMeasured): PromotionState {
  if (!measuringAnalysis(state)) return state;
  const analysis = analysisStateOf(state);
  const verdict = runVerdict(measured.metrics);
  const run = {
    ...measured,
    step: state.step,
    totalSteps: state.totalSteps,
    percentTrafficToNewVersion: state.percentTrafficToNewVersion,
    verdict,
  };
  return {
    ...state,
    analysis: {
      ...analysis,
      ...countRun(analysis, verdict),
      runs: [...analysis.runs, run].slice(-MAX_RECORDED_RUNS),
    },
  };
}

/** The failing (else inconclusive) metrics' messages of the newest run, for a reason. */
function lastRunDetail(analysis: AnalysisState): string {
  const last = analysis.runs.at(-1);
  if (last === undefined) return "no run recorded";
  const worst = last.metrics.filter((metric) => metric.verdict === last.verdict);
  return (worst.length > 0 ? worst : last.metrics).map((metric) => metric.message).join("; ");
}

/**
 * FAILED or PAUSED when the counters call for it, else the state unchanged. Only while moving
 * forward and not paused already.
 */
export function applyAnalysisDecision(state: PromotionState, now: number): PromotionState {
  const settings = analysisSettingsOf(state);
  if (settings === null || state.analysis === undefined) return state;
  if (state.status !== "RAMPING_UP" && state.status !== "RELEASING") return state;
  const decision = analysisDecision(state.analysis, settings, stepLabel(state), lastRunDetail(state.analysis));
  switch (decision.kind) {
    case "continue":
      return state;
    case "fail":
      return failPromotion(state, now, decision.reason);
    case "pause":
      return {
        ...state,
        status: "PAUSED",
        pausedFrom: state.status,
        analysis: { ...state.analysis, pausedReason: decision.reason, windowStartsAt: null },
      };
  }
}

/**
 * Whether the current stabilization or canary stage may end: without analysis (or in a dry run)
 * always; otherwise once a run whose window started in this phase passed.
 * Example: stage entered at t = 10 000; runs [5 000–15 000 pass, 15 000–25 000 inconclusive] →
 * closed; a run 25 000–35 000 pass → open.
 */
export function analysisGateOpen(state: PromotionState): boolean {
  const settings = analysisSettingsOf(state);
  if (settings === null || settings.dry_run || state.kind === "INSTANT") return true;
  return (state.analysis?.runs ?? []).some((run) => run.verdict === "pass" && run.startedAt >= state.phaseStartedAt);
}

/** What `resume` does to the analysis: measure afresh (the in-a-row count and the reason cleared). */
export function analysisAfterResume(state: PromotionState): PromotionState {
  if (state.analysis === undefined) return state;
  return { ...state, analysis: { ...state.analysis, inconclusiveInARow: 0, pausedReason: null } };
}
