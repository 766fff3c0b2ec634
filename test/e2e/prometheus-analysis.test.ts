/**
 * A PromQL promotion analysis against a real Prometheus (the Debian package) that scrapes the
 * engine's GET /metrics (issue 16): the query reads the candidate's 5xx ratio from what Prometheus
 * stored, with the candidate's id filled into it, and the promotion fails on it with the value in
 * its reason. Skips without a `prometheus` binary, naming why (fails under MODELPLANE_TEST_PROMETHEUS=1).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PromotionSettingsPatch } from "../../sdk/schemas/promotion-settings.js";
import { startLoad, startTestEngine, waitFor, type TestEngine } from "../../testing/index.js";
import { prometheusSkipReason, startPrometheus, type RunningPrometheus } from "../support/prometheus-server.js";
import { ENGINE_OPTIONS, followPromotion, modelOnV1 } from "./promotion-support.js";

const skipReason = prometheusSkipReason();

/** The candidate's share of 5xx answers over the last 10 s, as the engine exported them. */
const CANDIDATE_ERROR_RATIO =
  'sum(rate(modelplane_inference_requests_total{deployment_id="{{candidate_deployment_id}}",environment="{{environment}}",status_code=~"5.."}[10s]))' +
  ' / sum(rate(modelplane_inference_requests_total{deployment_id="{{candidate_deployment_id}}",environment="{{environment}}"}[10s]))';

describe.skipIf(skipReason !== undefined)(`PromQL analysis against a real Prometheus${skipReason ? ` — skipped: ${skipReason}` : ""}`, () => {
  let engine: TestEngine;
  let prometheus: RunningPrometheus;

  beforeAll(async () => {
    engine = await startTestEngine(ENGINE_OPTIONS);
    const metricsKey = (await engine.client.createApiKey({ name: "prometheus", scope: "metrics" })).key;
    prometheus = await startPrometheus({ jobs: [{ name: "modelplane", target: new URL(engine.url).host, apiKey: metricsKey }] });
  }, 180_000);
  afterAll(async () => {
    await prometheus?.stop();
    await engine?.close();
  });

  it("fails a candidate whose 5xx ratio, read from Prometheus, is above the bound; the value is in error_message", { timeout: 150_000 }, async () => {
    const setup = await modelOnV1(
      engine,
      "promql-analysis",
      2,
      PromotionSettingsPatch.parse({
        rolling_deploy: true,
        rolling_deploy_config: { max_surge_percent: 50, max_unavailable_percent: 0 },
        analysis: {
          interval_seconds: 2,
          // Prometheus needs a few scrapes of the candidate's series before the ratio exists: empty is inconclusive
          inconclusive_limit: 20,
          metrics: [{ type: "prometheus", name: "candidate_error_ratio", query: CANDIDATE_ERROR_RATIO, url: prometheus.url, max: 0.05 }],
        },
      }),
      { v2Env: { MODEL_ERROR_RATE: "0.5" } },
    );
    await waitFor(async () => (await prometheus.query('up{job="modelplane"}')).some((sample) => sample.value === 1), {
      timeoutMs: 60_000,
      intervalMs: 250,
      message: "Prometheus to scrape the engine",
    });
    const load = startLoad({ apiKey: engine.apiKey, url: setup.url, concurrency: 4, pauseMs: 5 });
    await waitFor(() => load.snapshot().sent > 30, { message: "load to start" });
    const started = await engine.client.call("promote", { params: setup.params, body: { deployment_id: setup.v2.id } });
    const { final } = await followPromotion(engine, setup.model.id, started.id);
    const report = await load.stop();

    expect(final.status).toBe("FAILED");
    expect(final.error_message).toMatch(/^analysis failed at step 1\/2: candidate_error_ratio 0\.\d+ > max 0\.05 \(prometheus\)$/);
    const ratio = Number(/candidate_error_ratio (0\.\d+)/.exec(final.error_message!)![1]);
    // every second answer of the candidate is a 500
    expect(ratio).toBeGreaterThan(0.3);
    expect(ratio).toBeLessThan(0.7);
    expect(report.responses.filter((response) => response.deploymentId === setup.v1.id && response.status >= 500)).toEqual([]);
    const runs = final.analysis!.runs;
    console.log(`PromQL analysis: ${runs.length} runs (${final.analysis!.inconclusive_runs} inconclusive before Prometheus had the series); ${final.error_message}`);
  });
});
