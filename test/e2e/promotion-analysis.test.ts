/**
 * Automated promotion analysis end to end (issue 16): a real engine, real replicas of the example
 * models, real load through the router. The engine measures the candidate's replica set with its
 * own router counters every second and rolls back, pauses or lets the promotion go on by itself.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Promotion } from "../../sdk/schemas/promotion.js";
import type { PromotionAnalysisInput } from "../../sdk/schemas/promotion-analysis.js";
import { PromotionSettingsPatch } from "../../sdk/schemas/promotion-settings.js";
import { startLoad, startTestEngine, waitFor, type LoadReport, type TestEngine } from "../../testing/index.js";
import { ENGINE_OPTIONS, followPromotion, modelOnV1 } from "./promotion-support.js";
import { assertCliBuilt, runCli } from "../cli/run-cli.js";

let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine(ENGINE_OPTIONS);
});
afterAll(async () => {
  await engine?.close();
});

function rollingWithAnalysis(surgePercent: number, analysis: PromotionAnalysisInput, stabilizationSeconds = 0): PromotionSettingsPatch {
  return PromotionSettingsPatch.parse({
    rolling_deploy: true,
    rolling_deploy_config: { max_surge_percent: surgePercent, max_unavailable_percent: 0, stabilization_time_seconds: stabilizationSeconds },
    analysis,
  });
}

/** Failed answers (5xx, no answer) by which deployment gave them; `none` when the router answered itself. */
function failuresByDeployment(report: LoadReport): Record<string, number> {
  const failed: Record<string, number> = {};
  for (const response of report.responses) {
    if (response.status !== 0 && response.status < 500) continue;
    const by = response.deploymentId ?? "none";
    failed[by] = (failed[by] ?? 0) + 1;
  }
  return failed;
}

function highestTraffic(seen: Promotion[]): number {
  return Math.max(...seen.map((promotion) => promotion.percent_traffic_to_new_version));
}

describe("promotion analysis under load", () => {
  it("rolls back by itself a candidate whose error rate rises after N requests, before it reaches 100 %, with the measured value in the reason", async () => {
    const setup = await modelOnV1(
      engine,
      "analysis-errors",
      4,
      rollingWithAnalysis(25, { interval_seconds: 1, metrics: [{ type: "success_rate", min: 0.95, min_requests: 10 }] }),
      // each candidate replica answers its first 40 predictions, then every second one with a 500
      { v2Env: { MODEL_ERROR_RATE: "0.5", MODEL_ERROR_AFTER_REQUESTS: "40" } },
    );
    const load = startLoad({ apiKey: engine.apiKey, url: setup.url, concurrency: 4, pauseMs: 5 });
    await waitFor(() => load.snapshot().sent > 50, { message: "load to start" });
    const started = await engine.client.call("promote", { params: setup.params, body: { deployment_id: setup.v2.id } });
    const { final, seen } = await followPromotion(engine, setup.model.id, started.id);
    const report = await load.stop();

    expect(final.status).toBe("FAILED");
    expect(final.error_message).toMatch(/^analysis failed at step [1-3]\/4: success_rate 0\.\d+ < 0\.95 \(candidate deployment-\d+, \d+ requests\)$/);
    const measured = Number(/success_rate (0\.\d+)/.exec(final.error_message!)![1]);
    expect(measured).toBeLessThan(0.95);
    expect(highestTraffic(seen)).toBeLessThan(100);
    expect(final.percent_traffic_to_new_version).toBe(0);
    expect(final.analysis).toMatchObject({ failed_runs: 1, dry_run: false });
    expect(final.analysis!.runs.at(-1)).toMatchObject({ verdict: "fail", metrics: [{ name: "success_rate", verdict: "fail", value: expect.closeTo(measured, 3) }] });
    // the previous deployment answered every request it got; only the candidate's own 500s failed
    const failed = failuresByDeployment(report);
    expect(failed[setup.v1.id] ?? 0).toBe(0);
    expect(failed.none ?? 0).toBe(0);
    expect(failed[setup.v2.id]).toBeGreaterThan(0);
    const environment = await engine.client.call("getEnvironment", { params: setup.params });
    expect(environment.current_deployment?.id).toBe(setup.v1.id);
    console.log(`error-rate rollback: ${final.error_message}; highest traffic ${highestTraffic(seen)} %; requests ${report.sent}, candidate 5xx ${failed[setup.v2.id]}`);
  });

  it("rolls back a candidate whose latency regressed against the previous deployment over the same window, no failed request", async () => {
    const setup = await modelOnV1(
      engine,
      "analysis-latency",
      2,
      rollingWithAnalysis(50, { interval_seconds: 1, metrics: [{ type: "latency", quantile: 0.5, max_increase_ratio: 3, min_requests: 5 }] }),
      { v2Env: { MODEL_LATENCY_MS: "300" } },
    );
    const load = startLoad({ apiKey: engine.apiKey, url: setup.url, concurrency: 4, pauseMs: 5 });
    await waitFor(() => load.snapshot().sent > 50, { message: "load to start" });
    const started = await engine.client.call("promote", { params: setup.params, body: { deployment_id: setup.v2.id } });
    const { final, seen } = await followPromotion(engine, setup.model.id, started.id);
    const report = await load.stop();

    expect(final.status).toBe("FAILED");
    expect(final.error_message).toMatch(
      /^analysis failed at step 1\/2: latency_p50 [\d.]+ s > 3 × [\d.]+ s = [\d.]+ s \(candidate deployment-\d+, \d+ requests; previous deployment-\d+ [\d.]+ s, \d+ requests\)$/,
    );
    const candidateP50 = Number(/latency_p50 ([\d.]+) s/.exec(final.error_message!)![1]);
    expect(candidateP50).toBeGreaterThanOrEqual(0.25);
    expect(highestTraffic(seen)).toBe(50);
    expect(failuresByDeployment(report)).toEqual({});
    console.log(`latency rollback: ${final.error_message}`);
  });

  it("a healthy candidate passes a window at every step and succeeds; no failed request", async () => {
    const setup = await modelOnV1(
      engine,
      "analysis-healthy",
      2,
      rollingWithAnalysis(50, {
        interval_seconds: 1,
        metrics: [
          { type: "success_rate", min: 0.99, min_requests: 5 },
          { type: "latency", quantile: 0.99, max_seconds: 2, min_requests: 5 },
        ],
      }),
    );
    const load = startLoad({ apiKey: engine.apiKey, url: setup.url, concurrency: 4, pauseMs: 5 });
    await waitFor(() => load.snapshot().sent > 50, { message: "load to start" });
    const started = await engine.client.call("promote", { params: setup.params, body: { deployment_id: setup.v2.id } });
    const { final } = await followPromotion(engine, setup.model.id, started.id);
    const report = await load.stop();

    expect(final.status, final.error_message ?? "").toBe("SUCCEEDED");
    const runs = final.analysis!.runs;
    // a passing window at each traffic level, 50 % and 100 %, before SUCCEEDED
    expect(new Set(runs.filter((run) => run.verdict === "pass").map((run) => run.percent_traffic_to_new_version))).toEqual(new Set([50, 100]));
    expect(final.analysis).toMatchObject({ failed_runs: 0 });
    expect(runs.every((run) => run.metrics.map((metric) => metric.name).join() === "success_rate,latency_p99")).toBe(true);
    expect(failuresByDeployment(report)).toEqual({});
    console.log(`healthy: ${runs.length} runs, ${final.analysis!.passed_runs} passed, ${final.analysis!.inconclusive_runs} inconclusive; last ${runs.at(-1)!.metrics.map((metric) => metric.message).join("; ")}`);
  });

  it("no traffic is never a pass: the promotion pauses with the reason, holds its split, and resumes by a person", async () => {
    const setup = await modelOnV1(
      engine,
      "analysis-quiet",
      2,
      rollingWithAnalysis(50, { interval_seconds: 1, inconclusive_limit: 1, metrics: [{ type: "success_rate", min: 0.95, min_requests: 5 }] }),
    );
    const started = await engine.client.call("promote", { params: setup.params, body: { deployment_id: setup.v2.id } });
    const promotionParams = { ...setup.params, promotion_id: started.id };
    const paused = await waitFor(
      async () => {
        const promotion = await engine.client.call("getPromotion", { params: promotionParams });
        return promotion.status === "PAUSED" || promotion.status === "SUCCEEDED" ? promotion : undefined;
      },
      { timeoutMs: 60_000, message: "the promotion to pause" },
    );
    expect(paused.status).toBe("PAUSED");
    expect(paused.percent_traffic_to_new_version).toBe(50);
    expect(paused.analysis).toMatchObject({ passed_runs: 0, inconclusive_in_a_row: 2 });
    expect(paused.analysis!.paused_reason).toMatch(/^analysis inconclusive 2 times in a row \(inconclusive_limit 1\) at step 1\/2: success_rate inconclusive: candidate deployment-\d+ had 0 requests, fewer than min_requests 5/);
    // held: three more intervals later it is still paused at 50 %
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const still = await engine.client.call("getPromotion", { params: promotionParams });
    expect(still).toMatchObject({ status: "PAUSED", percent_traffic_to_new_version: 50, analysis: { inconclusive_runs: 2 } });
    const { audit_logs: entries } = await engine.client.call("listAuditLogs", { params: { model_id: setup.model.id } });
    expect(entries.find((entry) => entry.kind === "promotion.paused" && entry.object_id === started.id)?.details).toMatchObject({
      gate: "analysis",
      reason: paused.analysis!.paused_reason,
    });
    const resumed = await engine.client.call("resumePromotion", { params: setup.params });
    expect(resumed.status).toBe("RAMPING_UP");
    expect(resumed.analysis).toMatchObject({ inconclusive_in_a_row: 0, paused_reason: null });
    // traffic now: the next windows pass and the promotion finishes
    const load = startLoad({ apiKey: engine.apiKey, url: setup.url, concurrency: 2, pauseMs: 5 });
    const { final } = await followPromotion(engine, setup.model.id, started.id);
    await load.stop();
    expect(final.status).toBe("SUCCEEDED");
  });

  it("a dry run records every window of a failing candidate and never fails or holds the promotion", async () => {
    const setup = await modelOnV1(
      engine,
      "analysis-dry-run",
      2,
      // a dry run holds no step: the stabilization keeps the candidate measured for a few windows
      rollingWithAnalysis(50, { interval_seconds: 1, dry_run: true, metrics: [{ type: "success_rate", min: 0.95, min_requests: 5 }] }, 4),
      { v2Env: { MODEL_ERROR_RATE: "0.5" } },
    );
    const load = startLoad({ apiKey: engine.apiKey, url: setup.url, concurrency: 4, pauseMs: 5 });
    await waitFor(() => load.snapshot().sent > 50, { message: "load to start" });
    const started = await engine.client.call("promote", { params: setup.params, body: { deployment_id: setup.v2.id } });
    const { final } = await followPromotion(engine, setup.model.id, started.id);
    await load.stop();

    expect(final.status).toBe("SUCCEEDED");
    expect(final.error_message).toBeNull();
    expect(final.analysis!.dry_run).toBe(true);
    expect(final.analysis!.failed_runs).toBeGreaterThan(0);
    expect(final.analysis!.runs.some((run) => run.verdict === "fail" && /^success_rate 0\.\d+ < 0\.95/.test(run.metrics[0]!.message))).toBe(true);
  });

  it("a manual gate holds the promotion PAUSED before 100 % until `modelplane approve`; the wait and the approval are in the audit log", async () => {
    assertCliBuilt();
    const setup = await modelOnV1(engine, "analysis-gate", 2, PromotionSettingsPatch.parse({
      rolling_deploy: true,
      rolling_deploy_config: { max_surge_percent: 50, max_unavailable_percent: 0 },
      confirm_promotion: true,
    }));
    const load = startLoad({ apiKey: engine.apiKey, url: setup.url, concurrency: 2, pauseMs: 5 });
    const started = await engine.client.call("promote", { params: setup.params, body: { deployment_id: setup.v2.id } });
    expect(started.approval).toBe("pending");
    const promotionParams = { ...setup.params, promotion_id: started.id };
    const waiting = await waitFor(
      async () => {
        const promotion = await engine.client.call("getPromotion", { params: promotionParams });
        return promotion.status !== "RELEASING" && promotion.status !== "RAMPING_UP" ? promotion : undefined;
      },
      { timeoutMs: 60_000, message: "the promotion to reach the gate" },
    );
    expect(waiting).toMatchObject({ status: "PAUSED", approval: "waiting", percent_traffic_to_new_version: 50 });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await engine.client.call("getPromotion", { params: promotionParams })).toMatchObject({ status: "PAUSED", percent_traffic_to_new_version: 50 });
    await expect(engine.client.call("resumePromotion", { params: setup.params })).rejects.toThrow(/waits for approval/);
    const approved = await runCli(["approve", setup.model.id, "production", "--wait"], { MODELPLANE_ENDPOINT: engine.url, MODELPLANE_API_KEY: engine.apiKey });
    const report = await load.stop();
    expect(approved.code, approved.stderr).toBe(0);
    const final = await engine.client.call("getPromotion", { params: promotionParams });
    expect(final).toMatchObject({ status: "SUCCEEDED", approval: "approved" });
    expect(failuresByDeployment(report)).toEqual({});
    const { audit_logs: entries } = await engine.client.call("listAuditLogs", { params: { model_id: setup.model.id } });
    const paused = entries.find((entry) => entry.kind === "promotion.paused" && entry.object_id === started.id);
    expect(paused?.details).toMatchObject({ gate: "confirm_promotion", percent_traffic_to_new_version: 50 });
    expect(entries.some((entry) => entry.kind === "promotion.action" && entry.details.action === "approve")).toBe(true);
  });

  it("a failing pre-rollout evaluation stops the promotion before any traffic shifts; a passing one lets it through; both recorded and audited", async () => {
    // An evaluation suite: it predicts through the candidate's per-deployment endpoint it is sent,
    // then passes or fails as the test says.
    let verdict = 500;
    const evaluated: Array<{ endpoint: string; status: number; version: unknown }> = [];
    const suite = createServer((req, res) => {
      let text = "";
      req.on("data", (chunk: Buffer) => (text += chunk.toString()));
      req.on("end", () => {
        void (async () => {
          const body = JSON.parse(text) as { endpoint: string };
          const answer = await fetch(`${engine.url}${body.endpoint}`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Api-Key ${engine.apiKey}` },
            body: JSON.stringify({ text: "a good day" }),
          });
          evaluated.push({ endpoint: body.endpoint, status: answer.status, version: ((await answer.json()) as { version?: unknown }).version });
          res.writeHead(verdict).end(verdict === 200 ? "accuracy 0.93" : "accuracy 0.61 < 0.8");
        })();
      });
    });
    await new Promise<void>((resolve) => suite.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(suite.address() as AddressInfo).port}/evaluate`;
    try {
      const setup = await modelOnV1(engine, "analysis-webhook", 2, PromotionSettingsPatch.parse({
        rolling_deploy: true,
        rolling_deploy_config: { max_surge_percent: 50, max_unavailable_percent: 0 },
        webhooks: [{ type: "pre-rollout", name: "eval-suite", url, retries: 1, timeout_seconds: 30 }],
      }));
      const load = startLoad({ apiKey: engine.apiKey, url: setup.url, concurrency: 2, pauseMs: 5 });
      await waitFor(() => load.snapshot().sent > 20, { message: "load to start" });
      const first = await engine.client.call("promote", { params: setup.params, body: { deployment_id: setup.v2.id } });
      const failed = await followPromotion(engine, setup.model.id, first.id);
      const report = await load.stop();
      expect(failed.final.status).toBe("FAILED");
      expect(failed.final.error_message).toBe(
        "pre-rollout webhook eval-suite failed, no traffic was shifted to the candidate: answered 500: accuracy 0.61 < 0.8 (last of 2 attempts)",
      );
      expect(highestTraffic(failed.seen)).toBe(0);
      expect(report.byDeployment[setup.v2.id]).toBeUndefined();
      expect(failuresByDeployment(report)).toEqual({});
      expect(failed.final.webhooks).toMatchObject([{ name: "eval-suite", passed: false, attempts: 2, http_status: 500 }]);
      // the suite reached the candidate through its per-deployment endpoint, before any traffic shift
      expect(evaluated[0]).toEqual({ endpoint: `/models/${setup.model.id}/deployment/${setup.v2.id}/predict`, status: 200, version: "v2" });
      const { audit_logs: entries } = await engine.client.call("listAuditLogs", { params: { model_id: setup.model.id } });
      expect(entries.find((entry) => entry.kind === "promotion.webhook" && entry.object_id === first.id)?.details).toMatchObject({ name: "eval-suite", passed: false });

      verdict = 200;
      const second = await engine.client.call("promote", { params: setup.params, body: { deployment_id: setup.v2.id } });
      const passed = await followPromotion(engine, setup.model.id, second.id);
      expect(passed.final.status).toBe("SUCCEEDED");
      expect(passed.final.webhooks).toMatchObject([{ name: "eval-suite", passed: true, attempts: 1, http_status: 200 }]);
    } finally {
      suite.close();
    }
  });

  it("a failing rollout webhook fails the promotion before its second shift; the post-rollout webhook is told the outcome after the end, changes nothing, and is recorded and audited", async () => {
    const bodies: Array<Record<string, unknown>> = [];
    const receiver = createServer((req, res) => {
      let text = "";
      req.on("data", (chunk: Buffer) => (text += chunk.toString()));
      req.on("end", () => {
        const body = JSON.parse(text) as Record<string, unknown>;
        bodies.push(body);
        if (body.type === "rollout") res.writeHead(503).end("smoke p99 2.1 s > 1 s");
        else res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    try {
      // N = 2, surge 50 %: two shifts (50 %, then 100 %); the rollout gate is before the second
      const setup = await modelOnV1(engine, "analysis-rollout-hooks", 2, PromotionSettingsPatch.parse({
        rolling_deploy: true,
        rolling_deploy_config: { max_surge_percent: 50, max_unavailable_percent: 0 },
        webhooks: [
          { type: "rollout", name: "smoke", url, retries: 0, timeout_seconds: 30 },
          { type: "post-rollout", name: "notify", url, retries: 0, timeout_seconds: 30 },
        ],
      }));
      const load = startLoad({ apiKey: engine.apiKey, url: setup.url, concurrency: 2, pauseMs: 5 });
      await waitFor(() => load.snapshot().sent > 20, { message: "load to start" });
      const started = await engine.client.call("promote", { params: setup.params, body: { deployment_id: setup.v2.id } });
      const followed = await followPromotion(engine, setup.model.id, started.id);
      const report = await load.stop();
      expect(followed.final.status).toBe("FAILED");
      expect(followed.final.error_message).toBe(
        "rollout webhook smoke failed before step 2 (traffic was at 50 %), traffic moved back to the previous deployment: answered 503: smoke p99 2.1 s > 1 s (last of 1 attempts)",
      );
      expect(highestTraffic(followed.seen)).toBe(50);
      expect(failuresByDeployment(report)).toEqual({});
      // the post-rollout answer is recorded after the end (it never holds the outcome up): poll for it
      const promotionParams = { ...setup.params, promotion_id: started.id };
      const recorded = await waitFor(
        async () => {
          const promotion = await engine.client.call("getPromotion", { params: promotionParams });
          return promotion.webhooks.some((result) => result.type === "post-rollout") ? promotion : undefined;
        },
        { timeoutMs: 30_000, message: "the post-rollout answer on the promotion" },
      );
      expect(recorded.status).toBe("FAILED");
      expect(recorded.error_message).toBe(followed.final.error_message);
      expect(recorded.webhooks).toMatchObject([
        { name: "smoke", type: "rollout", passed: false, attempts: 1, http_status: 503 },
        { name: "notify", type: "post-rollout", passed: true, attempts: 1, http_status: 204 },
      ]);
      expect(bodies.map((body) => body.type)).toEqual(["rollout", "post-rollout"]);
      expect(bodies[0]).toMatchObject({ name: "smoke", promotion_id: started.id, deployment_id: setup.v2.id, step: 2, percent_traffic_to_new_version: 50 });
      expect(bodies[1]).toMatchObject({ name: "notify", promotion_id: started.id, outcome: "FAILED", error_message: followed.final.error_message });
      const { audit_logs: entries } = await engine.client.call("listAuditLogs", { params: { model_id: setup.model.id } });
      const audited = entries.filter((entry) => entry.kind === "promotion.webhook" && entry.object_id === started.id).map((entry) => `${String(entry.details.type)}:${String(entry.details.passed)}`);
      expect(audited.sort()).toEqual(["post-rollout:true", "rollout:false"]);
    } finally {
      receiver.close();
    }
  });
});
