/** The API's view of a promotion's analysis (`promotion.analysis`), from the persisted state. */
import type { PromotionAnalysisStatus } from "../../sdk/index.js";
import type { AnalysisState } from "./types.js";

export function presentAnalysisStatus(analysis: AnalysisState | undefined, dryRun: boolean): PromotionAnalysisStatus | null {
  if (analysis === undefined) return null;
  return {
    dry_run: dryRun,
    runs: analysis.runs.map((run) => ({
      at: new Date(run.endedAt).toISOString(),
      window_seconds: Math.round((run.endedAt - run.startedAt) / 100) / 10,
      step: run.step,
      percent_traffic_to_new_version: run.percentTrafficToNewVersion,
      verdict: run.verdict,
      metrics: run.metrics,
    })),
    passed_runs: analysis.passed,
    failed_runs: analysis.failed,
    inconclusive_runs: analysis.inconclusive,
    inconclusive_in_a_row: analysis.inconclusiveInARow,
    paused_reason: analysis.pausedReason,
  };
}
