/**
 * Folding metric results into a run's verdict, runs into counters, and counters into a decision
 * (Argo Rollouts' failureLimit / inconclusiveLimit): failed runs above `failure_limit` fail the
 * promotion; inconclusive runs in a row above `inconclusive_limit` pause it for a person. Failed
 * runs count over the whole promotion (a candidate that fails now and then is not healthy);
 * inconclusive ones only in a row (a quiet minute between busy ones says nothing bad).
 */
import type { AnalysisMetricResult, AnalysisVerdict } from "../../sdk/index.js";
import type { AnalysisCounters, AnalysisDecision } from "./types.js";

/** fail if any metric failed, else inconclusive if any was, else pass. */
export function runVerdict(metrics: readonly AnalysisMetricResult[]): AnalysisVerdict {
  if (metrics.some((metric) => metric.verdict === "fail")) return "fail";
  if (metrics.some((metric) => metric.verdict === "inconclusive")) return "inconclusive";
  return "pass";
}

/** The counters after one more run. Example: {1 passed, 2 inconclusive in a row} + pass → 0 in a row. */
export function countRun(counters: AnalysisCounters, verdict: AnalysisVerdict): AnalysisCounters {
  return {
    passed: counters.passed + (verdict === "pass" ? 1 : 0),
    failed: counters.failed + (verdict === "fail" ? 1 : 0),
    inconclusive: counters.inconclusive + (verdict === "inconclusive" ? 1 : 0),
    inconclusiveInARow: verdict === "inconclusive" ? counters.inconclusiveInARow + 1 : 0,
  };
}

export interface AnalysisLimits {
  failure_limit: number;
  inconclusive_limit: number;
  dry_run: boolean;
}

/**
 * What the counters call for. `where` names the step ("at step 2/5"); `detail` is the last run's
 * messages. Example: failure_limit 0, 1 failed run → fail "analysis failed at step 2/5: success_rate
 * 0.71 < 0.95 (…)"; inconclusive_limit 2, 3 in a row → pause.
 */
export function analysisDecision(counters: AnalysisCounters, limits: AnalysisLimits, where: string, detail: string): AnalysisDecision {
  if (limits.dry_run) return { kind: "continue" };
  if (counters.failed > limits.failure_limit) {
    const count = limits.failure_limit > 0 ? ` (${counters.failed} failed runs, failure_limit ${limits.failure_limit})` : "";
    return { kind: "fail", reason: `analysis failed ${where}${count}: ${detail}` };
  }
  if (counters.inconclusiveInARow > limits.inconclusive_limit) {
    return {
      kind: "pause",
      reason:
        `analysis inconclusive ${counters.inconclusiveInARow} times in a row (inconclusive_limit ${limits.inconclusive_limit}) ${where}: ${detail}; ` +
        "resume the promotion to measure again, or cancel it",
    };
  }
  return { kind: "continue" };
}
