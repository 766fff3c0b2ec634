import { describe, expect, it } from "vitest";
import { evaluateMetrics } from "../../../engine/analysis/evaluate.js";
import type { AnalysisMeasurement, PrometheusOutcome, WindowStats } from "../../../engine/analysis/types.js";
import { AnalysisMetric, type AnalysisMetricResult } from "../../../sdk/index.js";

/** A window of `requests` with `errors` 5xx and every latency quantile at `seconds` × (1 + q). */
function window(requests: number, errors: number, seconds = 0.1): WindowStats {
  return {
    requests,
    successRate: requests > 0 ? (requests - errors) / requests : undefined,
    latencyQuantile: (q) => (requests > 0 ? seconds * (1 + q) : undefined),
  };
}

const subjects = { candidate: "deployment-3", previous: "deployment-2" };

function judge(metric: unknown, measurement: Partial<AnalysisMeasurement>): AnalysisMetricResult {
  const full: AnalysisMeasurement = { candidate: window(0, 0), previous: null, prometheus: new Map(), shadow: { agreed: 0, compared: 0 }, ...measurement };
  return evaluateMetrics([AnalysisMetric.parse(metric)], full, subjects)[0]!;
}

describe("evaluating one metric over one window", () => {
  it("success rate against an absolute minimum: the worked example of the issue", () => {
    // 412 requests, 119 of them 5xx → 293/412 = 0.7112
    expect(judge({ type: "success_rate", min: 0.95 }, { candidate: window(412, 119) })).toEqual({
      name: "success_rate",
      verdict: "fail",
      value: 293 / 412,
      message: "success_rate 0.7112 < 0.95 (candidate deployment-3, 412 requests)",
    });
    expect(judge({ type: "success_rate", min: 0.95 }, { candidate: window(412, 2) })).toMatchObject({ verdict: "pass", message: "success_rate 0.9951 ≥ 0.95 (candidate deployment-3, 412 requests)" });
    // exactly at the bound passes: min is the lowest acceptable value
    expect(judge({ type: "success_rate", min: 0.75 }, { candidate: window(100, 25) }).verdict).toBe("pass");
  });

  it("success rate relative to the previous deployment over the same window", () => {
    // previous 0.99, max_drop 0.05 → bound 0.94; candidate 0.9 fails, 0.95 passes
    const previous = window(300, 3);
    expect(judge({ type: "success_rate", max_drop: 0.05 }, { candidate: window(100, 10), previous })).toMatchObject({
      verdict: "fail",
      message: "success_rate 0.9 < 0.99 − 0.05 = 0.94 (candidate deployment-3, 100 requests; previous deployment-2 0.99, 300 requests)",
    });
    expect(judge({ type: "success_rate", max_drop: 0.05 }, { candidate: window(100, 5), previous }).verdict).toBe("pass");
  });

  it("no data is never a pass: too few requests on either side, or no previous deployment", () => {
    expect(judge({ type: "success_rate", min: 0.5, min_requests: 10 }, { candidate: window(9, 9) })).toEqual({
      name: "success_rate",
      verdict: "inconclusive",
      value: null,
      message: "success_rate inconclusive: candidate deployment-3 had 9 requests, fewer than min_requests 10",
    });
    expect(judge({ type: "success_rate", min: 0.5 }, { candidate: window(0, 0) }).verdict).toBe("inconclusive");
    expect(judge({ type: "success_rate", max_drop: 0.1, min_requests: 10 }, { candidate: window(50, 40), previous: window(3, 0) })).toMatchObject({
      verdict: "inconclusive",
      value: 0.2,
      message: expect.stringContaining("previous deployment-2 had 3 requests"),
    });
    expect(judge({ type: "latency", quantile: 0.5, max_increase_ratio: 2 }, { candidate: window(50, 0), previous: null }).verdict).toBe("inconclusive");
  });

  it("latency quantile against an absolute maximum and relative to the previous", () => {
    // candidate p99 = 0.5 × 1.99 = 0.995 s
    expect(judge({ type: "latency", quantile: 0.99, max_seconds: 0.5 }, { candidate: window(100, 0, 0.5) })).toMatchObject({
      name: "latency_p99",
      verdict: "fail",
      message: "latency_p99 0.995 s > 0.5 s (candidate deployment-3, 100 requests)",
    });
    // previous p50 = 0.15 s, ratio 2 → bound 0.3 s; candidate p50 0.45 s fails, 0.15 passes
    const previous = window(100, 0, 0.1);
    expect(judge({ type: "latency", quantile: 0.5, max_increase_ratio: 2 }, { candidate: window(100, 0, 0.3), previous })).toMatchObject({
      verdict: "fail",
      value: expect.closeTo(0.45, 9),
      message: "latency_p50 0.45 s > 2 × 0.15 s = 0.3 s (candidate deployment-3, 100 requests; previous deployment-2 0.15 s, 100 requests)",
    });
    expect(judge({ type: "latency", quantile: 0.5, max_increase_ratio: 2 }, { candidate: window(100, 0, 0.1), previous }).verdict).toBe("pass");
  });

  it("a PromQL value against its bounds; an empty or failed query is inconclusive", () => {
    const metric = { type: "prometheus", name: "error_ratio", query: "x", max: 0.05 };
    const with_ = (outcome: PrometheusOutcome) => ({ prometheus: new Map([["error_ratio", outcome]]) });
    expect(judge(metric, with_({ kind: "value", value: 0.2 }))).toEqual({ name: "error_ratio", verdict: "fail", value: 0.2, message: "error_ratio 0.2 > max 0.05 (prometheus)" });
    expect(judge(metric, with_({ kind: "value", value: 0.01 }))).toMatchObject({ verdict: "pass", message: "error_ratio 0.01 ≤ max 0.05 (prometheus)" });
    expect(judge({ ...metric, min: 0.001 }, with_({ kind: "value", value: 0 }))).toMatchObject({ verdict: "fail", message: "error_ratio 0 < min 0.001 (prometheus)" });
    expect(judge(metric, with_({ kind: "empty" }))).toMatchObject({ verdict: "inconclusive", value: null });
    expect(judge(metric, with_({ kind: "error", message: "connect ECONNREFUSED" }))).toMatchObject({ verdict: "inconclusive", message: "error_ratio inconclusive: connect ECONNREFUSED" });
  });

  it("shadow agreement: the worked example; too few comparisons (no shadow on the candidate) is inconclusive, never a pass", () => {
    expect(judge({ type: "shadow_agreement", min: 0.99 }, { shadow: { agreed: 360, compared: 400 } })).toEqual({
      name: "shadow_agreement",
      verdict: "fail",
      value: 0.9,
      message: "shadow_agreement 0.9 < 0.99 (candidate deployment-3, 360 of 400 mirrored requests agreed)",
    });
    expect(judge({ type: "shadow_agreement", min: 0.99 }, { shadow: { agreed: 400, compared: 400 } })).toMatchObject({ verdict: "pass", value: 1 });
    expect(judge({ type: "shadow_agreement", min: 0.99, min_comparisons: 50 }, { shadow: { agreed: 10, compared: 10 } })).toMatchObject({
      verdict: "inconclusive",
      value: null,
      message: "shadow_agreement inconclusive: 10 mirrored requests compared with candidate deployment-3, fewer than min_comparisons 50 (is the environment's shadow on the candidate?)",
    });
    expect(AnalysisMetric.safeParse({ type: "shadow_agreement" }).success).toBe(false);
  });
});
