import { describe, expect, it } from "vitest";
import { analysisDecision, countRun, runVerdict } from "../../../engine/analysis/verdict.js";
import type { AnalysisCounters } from "../../../engine/analysis/types.js";
import type { AnalysisMetricResult, AnalysisVerdict } from "../../../sdk/index.js";

const metric = (verdict: AnalysisVerdict): AnalysisMetricResult => ({ name: verdict, verdict, value: null, message: verdict });
const zero: AnalysisCounters = { passed: 0, failed: 0, inconclusive: 0, inconclusiveInARow: 0 };
const limits = { failure_limit: 1, inconclusive_limit: 2, dry_run: false };

describe("folding analysis results", () => {
  it("a run fails if any metric failed, else is inconclusive if any was, else passes", () => {
    expect(runVerdict([metric("pass"), metric("inconclusive"), metric("fail")])).toBe("fail");
    expect(runVerdict([metric("pass"), metric("inconclusive")])).toBe("inconclusive");
    expect(runVerdict([metric("pass"), metric("pass")])).toBe("pass");
  });

  it("counts failures over the promotion and inconclusive runs only in a row", () => {
    const verdicts: AnalysisVerdict[] = ["inconclusive", "inconclusive", "pass", "fail", "inconclusive"];
    const counters = verdicts.reduce(countRun, zero);
    expect(counters).toEqual({ passed: 1, failed: 1, inconclusive: 3, inconclusiveInARow: 1 });
  });

  it("fails once failed runs exceed failure_limit, naming the step and the measurement", () => {
    const once = countRun(zero, "fail");
    expect(analysisDecision(once, limits, "at step 2/5", "success_rate 0.71 < 0.95")).toEqual({ kind: "continue" });
    expect(analysisDecision(countRun(once, "fail"), limits, "at step 2/5", "success_rate 0.71 < 0.95")).toEqual({
      kind: "fail",
      reason: "analysis failed at step 2/5 (2 failed runs, failure_limit 1): success_rate 0.71 < 0.95",
    });
    expect(analysisDecision(once, { ...limits, failure_limit: 0 }, "at step 2/5", "success_rate 0.71 < 0.95")).toEqual({
      kind: "fail",
      reason: "analysis failed at step 2/5: success_rate 0.71 < 0.95",
    });
  });

  it("pauses once inconclusive runs in a row exceed inconclusive_limit", () => {
    const twice = countRun(countRun(zero, "inconclusive"), "inconclusive");
    expect(analysisDecision(twice, limits, "at step 1/4", "no data").kind).toBe("continue");
    expect(analysisDecision(countRun(twice, "inconclusive"), limits, "at step 1/4", "no data")).toMatchObject({
      kind: "pause",
      reason: expect.stringContaining("analysis inconclusive 3 times in a row (inconclusive_limit 2) at step 1/4: no data"),
    });
  });

  it("a dry run never acts", () => {
    const bad = { passed: 0, failed: 5, inconclusive: 9, inconclusiveInARow: 9 };
    expect(analysisDecision(bad, { ...limits, dry_run: true }, "at step 1/4", "x")).toEqual({ kind: "continue" });
  });
});
