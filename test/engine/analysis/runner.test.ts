import { describe, expect, it } from "vitest";
import { AnalysisRunner } from "../../../engine/analysis/runner.js";
import { fillQuery, queryPrometheus } from "../../../engine/analysis/prometheus-query.js";
import { RequestMetrics } from "../../../engine/metrics/request-metrics.js";
import { replicaSetId } from "../../../engine/runtime/runtime.js";
import type { PromotionState } from "../../../engine/rollout/index.js";
import { PromotionAnalysis } from "../../../sdk/index.js";
import { settingsWith, start } from "../rollout/support.js";

const target = { promotionId: "prom-1", modelId: "mdl_a", environmentName: "production", candidateName: "deployment-3", previousName: "deployment-2" };

function measuringState(analysis: PromotionAnalysis, windowStartsAt: number): PromotionState {
  const started = start(settingsWith({ rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 25 }, analysis }), 4);
  return {
    ...started,
    status: "RAMPING_UP",
    percentTrafficToNewVersion: 25,
    analysis: { ...started.analysis!, firstTrafficAt: windowStartsAt, windowStartsAt },
  };
}

function record(metrics: RequestMetrics, deploymentId: string, status: number, count: number, milliseconds = 10): void {
  const series = metrics.seriesFor({ modelId: "mdl_a", deploymentId, replicaSetId: replicaSetId(deploymentId, "production"), environment: "production", promoting: true });
  for (let index = 0; index < count; index += 1) series.record(status, 0, 1, milliseconds);
}

describe("the analysis runner", () => {
  it("judges the candidate's and the previous deployment's sets over the same window, only once it is a whole interval long", async () => {
    const requests = new RequestMetrics();
    const runner = new AnalysisRunner({ requests });
    const state = measuringState(
      PromotionAnalysis.parse({ interval_seconds: 2, metrics: [{ type: "success_rate", max_drop: 0.1, min_requests: 10 }] }),
      10_000,
    );
    record(requests, "dep-candidate", 500, 50); // before the window: not counted
    expect(await runner.measure(target, state, 9_000)).toBeUndefined();
    expect(runner.nextDueAt("prom-1", state)).toBe(10_000);
    expect(await runner.measure(target, state, 10_100)).toBeUndefined(); // opens
    expect(runner.nextDueAt("prom-1", state)).toBe(12_100);
    record(requests, "dep-candidate", 200, 30);
    record(requests, "dep-candidate", 503, 10);
    record(requests, "dep-previous", 200, 40);
    expect(await runner.measure(target, state, 11_000)).toBeUndefined();
    const judged = await runner.measure(target, state, 12_100);
    expect(judged).toEqual({
      startedAt: 10_100,
      endedAt: 12_100,
      metrics: [
        {
          name: "success_rate",
          verdict: "fail",
          value: 0.75,
          message: "success_rate 0.75 < 1 − 0.1 = 0.9 (candidate deployment-3, 40 requests; previous deployment-2 1, 40 requests)",
        },
      ],
    });
    // the next window starts where this one ended: nothing new → too few requests
    const next = await runner.measure(target, state, 14_100);
    expect(next?.metrics[0]?.verdict).toBe("inconclusive");
  });

  it("drops the open window while not measuring, so a resumed promotion measures a fresh one", async () => {
    const requests = new RequestMetrics();
    const runner = new AnalysisRunner({ requests });
    const analysis = PromotionAnalysis.parse({ interval_seconds: 1, metrics: [{ type: "success_rate", min: 0.9, min_requests: 1 }] });
    const state = measuringState(analysis, 0);
    await runner.measure(target, state, 0);
    const paused = { ...state, status: "PAUSED" as const, analysis: { ...state.analysis!, windowStartsAt: null } };
    expect(await runner.measure(target, paused, 5_000)).toBeUndefined();
    expect(runner.nextDueAt("prom-1", paused)).toBeNull();
    const resumed = { ...state, analysis: { ...state.analysis!, windowStartsAt: 6_000 } };
    expect(await runner.measure(target, resumed, 6_000)).toBeUndefined();
    record(requests, "dep-candidate", 200, 3);
    expect((await runner.measure(target, resumed, 7_000))?.metrics[0]).toMatchObject({ verdict: "pass", value: 1 });
  });

  it("queries Prometheus with the placeholders filled in; errors and empty results are outcomes", async () => {
    expect(fillQuery('sum(rate(x{deployment_id="{{candidate_deployment_id}}"}[{{interval}}])) {{unknown}}', { candidate_deployment_id: "dep_3", interval: "30s" })).toBe(
      'sum(rate(x{deployment_id="dep_3"}[30s])) {{unknown}}',
    );
    const seen: string[] = [];
    const answer = (body: unknown, status = 200): typeof fetch =>
      (async (url: string | URL | Request) => {
        seen.push(String(url));
        return new Response(JSON.stringify(body), { status });
      }) as typeof fetch;
    const vector = { status: "success", data: { resultType: "vector", result: [{ metric: {}, value: [1, "0.25"] }] } };
    expect(await queryPrometheus({ url: "http://prom:9090", query: "up", at: 1_500, timeoutMs: 100, fetch: answer(vector) })).toEqual({ kind: "value", value: 0.25 });
    expect(seen[0]).toBe("http://prom:9090/api/v1/query?query=up&time=1.500");
    expect(await queryPrometheus({ url: "http://prom:9090", query: "up", at: 0, timeoutMs: 100, fetch: answer({ status: "success", data: { resultType: "vector", result: [] } }) })).toEqual({ kind: "empty" });
    expect(await queryPrometheus({ url: "http://prom:9090", query: "up", at: 0, timeoutMs: 100, fetch: answer({ status: "success", data: { resultType: "scalar", result: [1, "NaN"] } }) })).toEqual({ kind: "empty" });
    expect(await queryPrometheus({ url: "http://prom:9090", query: "up(", at: 0, timeoutMs: 100, fetch: answer({ status: "error", error: "parse error" }, 400) })).toEqual({
      kind: "error",
      message: "prometheus answered 400: parse error",
    });
    expect(await queryPrometheus({ url: "http://127.0.0.1:1", query: "up", at: 0, timeoutMs: 1000 })).toMatchObject({ kind: "error", message: expect.stringContaining("unreachable") });
  });
});
