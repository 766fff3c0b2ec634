/**
 * Issue 16: a real Prometheus (the Debian package) scrapes a real engine's GET /metrics with a
 * metrics key, as a user's scrape config would, and PromQL over what it stored gives the traffic
 * sent — the request count, a success rate and a latency quantile of the histograms, the queries
 * a promotion analysis would run — and the engine's own reading of its counters
 * (engine/metrics/request-window.ts) gives the same quantiles as PromQL. A scrape with an inference key is refused (403) and Prometheus
 * says so. Skips without a `prometheus` binary, naming why (fails instead under
 * MODELPLANE_TEST_PROMETHEUS=1, as in CI).
 */
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestWindow, snapshotSet } from "../../engine/metrics/index.js";
import { startTestEngine, waitFor, waitForPromotion, type TestEngine } from "../../testing/index.js";
import { prometheusSkipReason, startPrometheus, type RunningPrometheus } from "../support/prometheus-server.js";
import { ENGINE_OPTIONS, V1_COMMAND } from "./promotion-support.js";

const skipReason = prometheusSkipReason();

/** A predict request on its own connection: `small` takes the fast path, `70KiB` node:http. */
function post(url: string, apiKey: string, shape: "small" | "70KiB" | "not-json"): Promise<number> {
  const payload = shape === "not-json" ? "{not json" : JSON.stringify({ text: "a good day", pad: shape === "70KiB" ? "x".repeat(70 * 1024) : "" });
  return new Promise((resolve, reject) => {
    const headers = { "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)), authorization: `Api-Key ${apiKey}` };
    const req = httpRequest(url, { method: "POST", headers, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(payload);
  });
}

describe.skipIf(skipReason !== undefined)(`a real Prometheus scraping the engine${skipReason ? ` — skipped: ${skipReason}` : ""}`, () => {
  let engine: TestEngine;
  let prometheus: RunningPrometheus;
  let modelId: string;
  let v1: string;

  beforeAll(async () => {
    engine = await startTestEngine(ENGINE_OPTIONS);
    const { client } = engine;
    modelId = (await client.call("createModel", { body: { name: "scraped" } })).id;
    const params = { model_id: modelId, env_name: "production" };
    await client.call("patchEnvironment", { params, body: { autoscaling_settings: { min_replica: 1, max_replica: 1 } } });
    v1 = (await client.call("createDeployment", { params: { model_id: modelId }, body: { command: V1_COMMAND } })).id;
    const promotion = await client.call("promote", { params, body: { deployment_id: v1 } });
    await waitForPromotion(client, { modelId, environment: "production", promotionId: promotion.id }, { deadline: Date.now() + 90_000 });
    const metricsKey = (await client.createApiKey({ name: "prometheus", scope: "metrics" })).key;
    const inferenceKey = (await client.createApiKey({ name: "not-for-metrics", scope: "inference" })).key;
    const target = new URL(engine.url).host;
    prometheus = await startPrometheus({
      jobs: [
        { name: "modelplane", target, apiKey: metricsKey },
        { name: "wrong-key", target, apiKey: inferenceKey },
      ],
    });
  }, 180_000);
  afterAll(async () => {
    await prometheus?.stop();
    await engine?.close();
  });

  it("scrapes with the metrics key (up = 1); the job with an inference key is down with the engine's 403", { timeout: 90_000 }, async () => {
    // Prometheus discovers its static targets a few seconds after it is ready
    await waitFor(
      async () => {
        const targets = await prometheus.targets();
        return targets.length === 2 && targets.every((target) => target.health !== "unknown");
      },
      { timeoutMs: 60_000, intervalMs: 250, message: "both targets scraped once" },
    );
    const targets = await prometheus.targets();
    expect(targets.find((target) => target.job === "modelplane")).toMatchObject({ health: "up", lastError: "" });
    expect(targets.find((target) => target.job === "wrong-key")).toMatchObject({ health: "down", lastError: expect.stringMatching(/403/) });
    expect(await prometheus.query('up{job="modelplane"}')).toMatchObject([{ value: 1 }]);
  });

  it("PromQL over the scraped series: the 30 requests sent (fast path and node:http), their success rate and a p99 from the histogram", async () => {
    const url = `${engine.url}/models/${modelId}/production/predict`;
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push(await post(url, engine.apiKey, "small"));
    for (let i = 0; i < 6; i++) statuses.push(await post(url, engine.apiKey, "70KiB"));
    for (let i = 0; i < 4; i++) statuses.push(await post(url, engine.apiKey, "not-json"));
    expect(statuses.filter((status) => status === 200)).toHaveLength(26);
    expect(statuses.filter((status) => status === 400)).toHaveLength(4);

    const selector = `job="modelplane",model_id="${modelId}",deployment_id="${v1}",environment="production"`;
    const total = `sum(modelplane_inference_requests_total{${selector}})`;
    await waitFor(async () => (await prometheus.query(total))[0]?.value === 30, { timeoutMs: 30_000, message: "Prometheus to have scraped all 30 requests" });
    const byStatus = await prometheus.query(`sum by (status_code) (modelplane_inference_requests_total{${selector}})`);
    expect(Object.fromEntries(byStatus.map((entry) => [entry.metric.status_code, entry.value]))).toEqual({ "200": 26, "400": 4 });
    // the share of requests that were not 5xx, as a promotion analysis would ask for it
    const successRate = await prometheus.query(
      `sum(modelplane_inference_requests_total{${selector},status_code!~"5.."}) / sum(modelplane_inference_requests_total{${selector}})`,
    );
    expect(successRate[0]?.value).toBe(1);
    const count = await prometheus.query(`sum(modelplane_inference_end_to_end_response_time_seconds_count{${selector}})`);
    expect(count[0]?.value).toBe(30);
    const p99 = await prometheus.query(`histogram_quantile(0.99, sum by (le) (modelplane_inference_end_to_end_response_time_seconds_bucket{${selector}}))`);
    expect(p99[0]?.value).toBeGreaterThan(0);
    // every request here answered well within 5 s (the bucket bounds are 5 ms … 300 s)
    expect(p99[0]?.value).toBeLessThanOrEqual(5);
    // the engine's own reading of the same counters (what a built-in analysis uses) agrees with PromQL
    const empty = { statusCounts: new Map<number, number>(), endToEnd: { bounds: [], counts: [], sum: 0, count: 0 } };
    const window = requestWindow(empty, snapshotSet(engine.engine.metrics.requests, `${v1}.production`));
    expect(window.requests).toBe(30);
    expect(window.successRate).toBe(1);
    expect(window.latencyQuantile(0.99)).toBeCloseTo(p99[0]!.value, 9);
    const p50 = await prometheus.query(`histogram_quantile(0.5, sum by (le) (modelplane_inference_end_to_end_response_time_seconds_bucket{${selector}}))`);
    expect(window.latencyQuantile(0.5)).toBeCloseTo(p50[0]!.value, 9);
    const ready = await prometheus.query(`modelplane_replicas_ready{job="modelplane",replica_set="${v1}.production"}`);
    expect(ready.map((entry) => entry.value)).toEqual([1]);
    const promotion = await prometheus.query(`modelplane_promotion_status{job="modelplane",model_id="${modelId}",status="SUCCEEDED"}`);
    expect(promotion.map((entry) => entry.value)).toEqual([1]);
  }, 90_000);
});
