/**
 * Promotions end to end with real replicas under steady load: rolling deploys, graceful and forced
 * cancel, a failing candidate. Every scenario asserts zero failed requests. Runs on processes, and
 * on Kubernetes pods as the `kubernetes` vitest project (see runtime-under-test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Promotion } from "../../sdk/schemas/promotion.js";
import { PromotionNotSucceededError } from "../../sdk/wait.js";
import { startLoad, startTestEngine, waitFor, waitForPromotion, type LoadReport, type TestEngine } from "../../testing/index.js";
import { runtimeUnderTest } from "./runtime-under-test.js";

const runtime = runtimeUnderTest();
let engine: TestEngine;

beforeAll(async () => {
  if (runtime.skipReason !== undefined) return;
  engine = await startTestEngine({
    runtime: { startupTimeoutMs: 5_000, stopGracePeriodMs: 2_000 },
    promotionReadyTimeoutMs: runtime.name === "kubernetes" ? 60_000 : 30_000,
    ...(await runtime.engineOptions("promotions")),
  });
});
afterAll(async () => {
  await engine?.close();
  await runtime.cleanup();
});

/** A model whose production runs v1 on `replicas` fixed replicas, with rolling settings. */
async function modelOnV1(name: string, replicas: number, rolling: Record<string, number>) {
  const { client } = engine;
  const model = await client.call("createModel", { body: { name } });
  const params = { model_id: model.id, env_name: "production" };
  await client.call("patchEnvironment", {
    params,
    body: { autoscaling_settings: { min_replica: replicas, max_replica: replicas } },
  });
  const v1 = await client.call("createDeployment", { params: { model_id: model.id }, body: runtime.runnable("v1") });
  const first = await client.call("promote", { params, body: { deployment_id: v1.id } });
  await waitForPromotion(client, { modelId: model.id, environment: "production", promotionId: first.id });
  await client.call("patchEnvironment", {
    params,
    body: { promotion_settings: { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 25, max_unavailable_percent: 0, ...rolling } } },
  });
  return { model, params, v1, url: `${engine.url}/models/${model.id}/production/predict` };
}

function expectNoFailures(report: LoadReport) {
  expect(report.failures, `failed requests: ${JSON.stringify(report.failures)}`).toEqual([]);
  expect(report.sent).toBeGreaterThan(50);
}

describe.skipIf(runtime.skipReason !== undefined)(`rolling deploy under load (${runtime.name}${runtime.skipReason ? `: ${runtime.skipReason}` : ""})`, () => {
  it("moves 4 replicas with 25% surge step by step, zero failed requests, traffic share follows the percentage", async () => {
    const { model, params, v1, url } = await modelOnV1("rolling", 4, { stabilization_time_seconds: 1 });
    const v2 = await engine.client.call("createDeployment", { params: { model_id: model.id }, body: runtime.runnable("v2") });
    const load = startLoad({ apiKey: engine.apiKey, url, concurrency: 8 });
    await waitFor(() => load.snapshot().sent > 50, { message: "load to start" });
    const started = load.snapshot().durationMs;
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: v2.id } });
    expect(promotion.kind).toBe("ROLLING");
    const seen: Array<{ at: number; percent: number; status: string; candidate: number; previous: number }> = [];
    const final = await waitForPromotion(
      engine.client,
      { modelId: model.id, environment: "production", promotionId: promotion.id },
      {
        pollMs: 50,
        onProgress: (p: Promotion) =>
          seen.push({ at: load.snapshot().durationMs, percent: p.percent_traffic_to_new_version, status: p.status, candidate: p.replicas.candidate.desired, previous: p.replicas.previous.desired }),
      },
    );
    const report = await load.stop();
    expect(final.status).toBe("SUCCEEDED");
    expectNoFailures(report);

    // traffic went 25 → 50 → 75 → 100 and never exceeded the surge bound: 4 + 1 replicas
    // (the first report may already be at 25%: v2's first replica was warm from its creation)
    expect([...new Set(seen.map((s) => s.percent))].filter((percent) => percent > 0)).toEqual([25, 50, 75, 100]);
    for (const s of seen) expect(s.candidate + s.previous).toBeLessThanOrEqual(5);

    // during each 1 s stabilization the share of answers from v2 matches the percentage
    const shifts = seen.filter((s, i) => i > 0 && s.percent !== seen[i - 1]!.percent && s.percent < 100);
    for (const shift of shifts) {
      const window = report.responses.filter((r) => r.at > shift.at + 100 && r.at < shift.at + 800 && r.deploymentId);
      if (window.length < 40) continue;
      const share = window.filter((r) => r.deploymentId === v2.id).length / window.length;
      expect(Math.abs(share - shift.percent / 100), `share ${share} at ${shift.percent}%`).toBeLessThan(0.2);
    }
    // before the promotion everything came from v1, at the end everything from v2
    expect(report.responses.filter((r) => r.at < started).every((r) => r.deploymentId === v1.id)).toBe(true);
    const environment = await engine.client.call("getEnvironment", { params });
    expect(environment.current_deployment?.id).toBe(v2.id);
    // the finished promotion stays in in_progress_promotion with its terminal status until the next one
    expect(environment.in_progress_promotion).toMatchObject({ id: promotion.id, status: "SUCCEEDED", percent_traffic_to_new_version: 100 });
    expect(environment.in_progress_promotion?.finished_at).not.toBeNull();
    expect(environment.candidate_deployment).toBeNull();
    const history = await engine.client.call("listPromotions", { params });
    expect(history.promotions.map((p) => p.status)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
  });

  it("a graceful cancel ramps back down (RAMPING_DOWN then CANCELED) with zero failed requests", async () => {
    const { model, params, v1, url } = await modelOnV1("cancel", 4, { stabilization_time_seconds: 3 });
    const v2 = await engine.client.call("createDeployment", { params: { model_id: model.id }, body: runtime.runnable("v2") });
    const load = startLoad({ apiKey: engine.apiKey, url, concurrency: 8 });
    await waitFor(() => load.snapshot().sent > 50, { message: "load to start" });
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: v2.id } });
    await waitFor(async () => {
      const environment = await engine.client.call("getEnvironment", { params });
      return (environment.in_progress_promotion?.percent_traffic_to_new_version ?? 0) >= 25;
    }, { message: "first traffic shift" });
    const canceled = await engine.client.call("cancelPromotion", { params });
    expect(canceled.status).toBe("RAMPING_DOWN");
    const final = await waitForPromotion(engine.client, { modelId: model.id, environment: "production", promotionId: promotion.id }).catch((e: unknown) => (e as PromotionNotSucceededError).promotion);
    const report = await load.stop();
    expect(final.status).toBe("CANCELED");
    expectNoFailures(report);
    const environment = await engine.client.call("getEnvironment", { params });
    expect(environment.current_deployment?.id).toBe(v1.id);
    const after = startLoad({ apiKey: engine.apiKey, url, concurrency: 2 });
    await waitFor(() => after.snapshot().sent >= 20);
    expect(Object.keys((await after.stop()).byDeployment)).toEqual([v1.id]);
  });

  it("force cancel returns all traffic to the previous deployment at once, zero failed requests", async () => {
    const { model, params, v1, url } = await modelOnV1("force-cancel", 4, { stabilization_time_seconds: 3 });
    const v2 = await engine.client.call("createDeployment", { params: { model_id: model.id }, body: runtime.runnable("v2") });
    const load = startLoad({ apiKey: engine.apiKey, url, concurrency: 8 });
    await engine.client.call("promote", { params, body: { deployment_id: v2.id } });
    await waitFor(async () => ((await engine.client.call("getEnvironment", { params })).in_progress_promotion?.percent_traffic_to_new_version ?? 0) >= 25, { message: "first traffic shift" });
    const canceled = await engine.client.call("forceCancelPromotion", { params });
    expect(canceled.status).toBe("CANCELED");
    expect(canceled.percent_traffic_to_new_version).toBe(0);
    const mark = load.snapshot().durationMs;
    await waitFor(() => load.snapshot().responses.filter((r) => r.at > mark + 200).length > 50);
    const report = await load.stop();
    expectNoFailures(report);
    expect(report.responses.filter((r) => r.at > mark + 200).every((r) => r.deploymentId === v1.id)).toBe(true);
    // a second action on an ended promotion is a conflict naming the situation
    await expect(engine.client.call("pausePromotion", { params })).rejects.toThrow(/no promotion in progress/);
  });

  it("pause holds the traffic split until resume", async () => {
    const { model, params, url } = await modelOnV1("pause", 4, { stabilization_time_seconds: 1 });
    const v2 = await engine.client.call("createDeployment", { params: { model_id: model.id }, body: runtime.runnable("v2") });
    const load = startLoad({ apiKey: engine.apiKey, url, concurrency: 4 });
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: v2.id } });
    await waitFor(async () => ((await engine.client.call("getEnvironment", { params })).in_progress_promotion?.percent_traffic_to_new_version ?? 0) >= 25);
    const paused = await engine.client.call("pausePromotion", { params });
    expect(paused.status).toBe("PAUSED");
    await expect(engine.client.call("pausePromotion", { params })).rejects.toThrow(/PAUSED/);
    const pinned = paused.percent_traffic_to_new_version;
    // well past the 1 s stabilization: still pinned
    const until = Date.now() + 2500;
    await waitFor(() => Date.now() > until, { intervalMs: 250 });
    const still = (await engine.client.call("getEnvironment", { params })).in_progress_promotion;
    expect(still?.status).toBe("PAUSED");
    expect(still?.percent_traffic_to_new_version).toBe(pinned);
    expect((await engine.client.call("resumePromotion", { params })).status).toBe("RAMPING_UP");
    const final = await waitForPromotion(engine.client, { modelId: model.id, environment: "production", promotionId: promotion.id });
    expect(final.status).toBe("SUCCEEDED");
    expectNoFailures(await load.stop());
  });
});

describe.skipIf(runtime.skipReason !== undefined)(`failing candidates (${runtime.name})`, () => {
  it("a candidate that crash-loops fails the promotion: FAILED with the reason, all traffic on v1, zero failed requests", async () => {
    const { model, params, v1, url } = await modelOnV1("crashing", 2, {});
    const broken = await engine.client.call("createDeployment", {
      params: { model_id: model.id },
      body: { ...runtime.runnable("v2"), env: { MODEL_CRASH_AFTER_MS: "1" } },
    });
    const load = startLoad({ apiKey: engine.apiKey, url, concurrency: 4 });
    await waitFor(() => load.snapshot().sent > 50, { message: "load to start" });
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: broken.id } });
    const error = await waitForPromotion(engine.client, { modelId: model.id, environment: "production", promotionId: promotion.id }).catch((e: unknown) => e);
    const report = await load.stop();
    expect(error).toBeInstanceOf(PromotionNotSucceededError);
    const final = (error as PromotionNotSucceededError).promotion;
    expect(final.status).toBe("FAILED");
    expect(final.error_message).toMatch(/exit|crash|fail/i);
    expect(final.percent_traffic_to_new_version).toBe(0);
    expectNoFailures(report);
    expect(Object.keys(report.byDeployment)).toEqual([v1.id]);
    expect((await engine.client.call("getEnvironment", { params })).current_deployment?.id).toBe(v1.id);
  });

  it("a candidate that never becomes ready fails with the readiness reason", async () => {
    const { model, params, v1, url } = await modelOnV1("never-ready", 2, {});
    const broken = await engine.client.call("createDeployment", {
      params: { model_id: model.id },
      body: { ...runtime.runnable("v2"), env: { MODEL_FAIL_READINESS: "1" } },
    });
    const load = startLoad({ apiKey: engine.apiKey, url, concurrency: 2 });
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: broken.id } });
    const final = await waitForPromotion(engine.client, { modelId: model.id, environment: "production", promotionId: promotion.id }, { deadline: Date.now() + 90_000 }).catch((e: unknown) => (e as PromotionNotSucceededError).promotion);
    const report = await load.stop();
    expect(final.status).toBe("FAILED");
    expect(final.error_message).toMatch(/ready/i);
    expectNoFailures(report);
    expect(Object.keys(report.byDeployment)).toEqual([v1.id]);
  });
});
