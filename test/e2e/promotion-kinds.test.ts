/**
 * The promotion kinds and forced endings end to end with real replicas under load: canary ramp,
 * instant, rolling in max-unavailable mode, rolling with replica overhead, force roll forward
 * (while ramping up and while ramping down). Every scenario asserts zero failed requests.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad, startTestEngine, waitFor, type TestEngine } from "../../testing/index.js";
import { ENGINE_OPTIONS, expectNoFailures, followPromotion, modelOnV1 } from "./promotion-support.js";

let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine(ENGINE_OPTIONS);
});
afterAll(async () => engine?.close());

describe("canary ramp", () => {
  it("starts once the candidate has min_replica ready, then 10 stages of 10% over ramp_up_duration_seconds", async () => {
    const { model, params, v2, url } = await modelOnV1(engine, "canary", 2, { ramp_up_while_promoting: true, ramp_up_duration_seconds: 10 });
    const load = startLoad({ apiKey: engine.apiKey, url, concurrency: 4 });
    await waitFor(() => load.snapshot().succeeded >= 20, { message: "load to start" });
    const startedAt = Date.now();
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: v2.id } });
    expect(promotion.kind).toBe("CANARY");
    const { final, seen } = await followPromotion(engine, model.id, promotion.id);
    const tookMs = Date.now() - startedAt;
    const report = await load.stop();
    expect(final.status).toBe("SUCCEEDED");
    expectNoFailures(report);
    expect([...new Set(seen.map((p) => p.percent_traffic_to_new_version))]).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    // no traffic before the candidate has the environment's min_replica (2) ready
    const firstShift = seen.find((p) => p.percent_traffic_to_new_version > 0)!;
    expect(firstShift.replicas.candidate.ready).toBeGreaterThanOrEqual(2);
    // 10 stages, one every 1 s: the last stage comes ≥ 9 s after the first
    const stageTimes = seen.filter((p, i) => i > 0 && p.percent_traffic_to_new_version !== seen[i - 1]!.percent_traffic_to_new_version).map((p) => Date.parse(p.updated_at));
    expect(stageTimes.at(-1)! - stageTimes[0]!).toBeGreaterThanOrEqual(9_000);
    expect((await engine.client.call("getEnvironment", { params })).current_deployment?.id).toBe(v2.id);
    console.log(`canary 2 replicas, 10 s ramp: promote → SUCCEEDED in ${tookMs} ms, ${report.sent} requests, 0 failed`);
  });
});

describe("instant promotion", () => {
  it("moves all traffic at once when the candidate has its replicas ready", async () => {
    const { model, params, v1, v2, url } = await modelOnV1(engine, "instant", 2);
    const load = startLoad({ apiKey: engine.apiKey, url, concurrency: 4 });
    await waitFor(() => load.snapshot().succeeded >= 20, { message: "load to start" });
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: v2.id } });
    expect(promotion.kind).toBe("INSTANT");
    const { final, seen } = await followPromotion(engine, model.id, promotion.id);
    const mark = load.snapshot().durationMs;
    await waitFor(() => load.snapshot().responses.filter((r) => r.at > mark + 200).length >= 30, { message: "answers after the switch" });
    const report = await load.stop();
    expect(final.status).toBe("SUCCEEDED");
    expectNoFailures(report);
    expect([...new Set(seen.map((p) => p.percent_traffic_to_new_version))]).toEqual([0, 100]);
    // traffic moved only once the candidate had both replicas ready
    expect(seen.find((p) => p.percent_traffic_to_new_version === 100)!.replicas.candidate.ready).toBe(2);
    expect(report.byDeployment[v1.id]).toBeGreaterThan(0);
    expect(report.responses.filter((r) => r.at > mark + 200).every((r) => r.deploymentId === v2.id)).toBe(true);
  });
});

describe("rolling deploy, max-unavailable mode", () => {
  it("removes previous replicas before adding candidate ones: never more than N replicas, zero failed requests", async () => {
    const { model, params, v2, url } = await modelOnV1(engine, "unavailable", 4, {
      rolling_deploy: true,
      rolling_deploy_config: { max_surge_percent: 0, max_unavailable_percent: 25, stabilization_time_seconds: 0 },
    });
    const load = startLoad({ apiKey: engine.apiKey, url, concurrency: 4 });
    await waitFor(() => load.snapshot().succeeded >= 20, { message: "load to start" });
    const startedAt = Date.now();
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: v2.id } });
    expect(promotion.kind).toBe("ROLLING");
    const { final, seen } = await followPromotion(engine, model.id, promotion.id);
    const tookMs = Date.now() - startedAt;
    const report = await load.stop();
    expect(final.status).toBe("SUCCEEDED");
    expectNoFailures(report);
    for (const p of seen) expect(p.replicas.candidate.desired + p.replicas.previous.desired, JSON.stringify(p.replicas)).toBeLessThanOrEqual(4);
    // the first move takes a previous replica away before any candidate replica is asked for
    expect(seen[0]!.replicas.previous.desired).toBe(3);
    expect([...new Set(seen.map((p) => p.percent_traffic_to_new_version))]).toEqual([0, 25, 50, 75, 100]);
    console.log(`rolling 4 replicas, 25% max unavailable, no stabilization: ${tookMs} ms, ${report.sent} requests, 0 failed`);
  });
});

describe("rolling deploy with replica_overhead_percent", () => {
  it("pre-provisions the overhead on the previous deployment before any traffic moves", async () => {
    const { model, params, v2, url } = await modelOnV1(engine, "overhead", 2, {
      rolling_deploy: true,
      rolling_deploy_config: { max_surge_percent: 50, max_unavailable_percent: 0, stabilization_time_seconds: 0, replica_overhead_percent: 50 },
    });
    const load = startLoad({ apiKey: engine.apiKey, url, concurrency: 4 });
    await waitFor(() => load.snapshot().succeeded >= 20, { message: "load to start" });
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: v2.id } });
    expect(promotion.phase).toBe("provisioning_overhead");
    expect(promotion.replicas.previous.desired).toBe(3);
    expect(promotion.replicas.candidate.desired).toBe(0);
    const { final, seen } = await followPromotion(engine, model.id, promotion.id);
    const report = await load.stop();
    expect(final.status).toBe("SUCCEEDED");
    expectNoFailures(report);
    // the candidate was asked for replicas only once the 3rd previous replica was ready
    const firstCandidateAsk = seen.find((p) => p.replicas.candidate.desired > 0)!;
    expect(firstCandidateAsk.replicas.previous.ready).toBe(3);
    // N = 2, overhead 1, surge 1: never more than 4 replicas asked for
    for (const p of seen) expect(p.replicas.candidate.desired + p.replicas.previous.desired).toBeLessThanOrEqual(4);
  });
});

describe("force roll forward", () => {
  const rolling = { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 50, max_unavailable_percent: 0, stabilization_time_seconds: 60 } };

  it("while RAMPING_UP: SUCCEEDED at once, all traffic to the candidate, zero failed requests", async () => {
    const { model, params, v2, url } = await modelOnV1(engine, "force-forward", 2, rolling);
    const load = startLoad({ apiKey: engine.apiKey, url, concurrency: 4 });
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: v2.id } });
    await waitFor(async () => (await engine.client.call("getPromotion", { params: { ...params, promotion_id: promotion.id } })).percent_traffic_to_new_version >= 50, { timeoutMs: 60_000, message: "first shift" });
    const forced = await engine.client.call("forceRollForwardPromotion", { params });
    expect(forced.status).toBe("SUCCEEDED");
    expect(forced.percent_traffic_to_new_version).toBe(100);
    const mark = load.snapshot().durationMs;
    await waitFor(() => load.snapshot().responses.filter((r) => r.at > mark + 300).length >= 30, { message: "answers after the force" });
    const report = await load.stop();
    expectNoFailures(report);
    expect(report.responses.filter((r) => r.at > mark + 300).every((r) => r.deploymentId === v2.id)).toBe(true);
    const environment = await engine.client.call("getEnvironment", { params });
    expect(environment.current_deployment?.id).toBe(v2.id);
    expect(environment.in_progress_promotion?.status).toBe("SUCCEEDED");
    // the candidate is brought up to N even though it was forced with 1 of 2
    await waitFor(async () => (await engine.client.call("getDeployment", { params: { model_id: model.id, deployment_id: v2.id } })).replicas.ready === 2, { timeoutMs: 30_000, message: "candidate at 2 ready" });
  });

  it("while RAMPING_DOWN after a graceful cancel: SUCCEEDED, the candidate serves everything", async () => {
    // Slow starters hold the rollout where the test needs it: v2's 2nd replica takes 3 s, and a
    // previous (v1) replica asked back by the ramp-down takes 6 s, so RAMPING_DOWN lasts that long.
    const { params, v2, url } = await modelOnV1(
      engine,
      "forward-from-down",
      2,
      { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 50, max_unavailable_percent: 0, stabilization_time_seconds: 0 } },
      { v1Env: { MODEL_STARTUP_DELAY_MS: "6000" }, v2Env: { MODEL_STARTUP_DELAY_MS: "3000" } },
    );
    const load = startLoad({ apiKey: engine.apiKey, url, concurrency: 4 });
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: v2.id } });
    // first step done: 50% on v2, the previous scaled down to 1, v2's 2nd replica starting
    await waitFor(async () => {
      const p = await engine.client.call("getPromotion", { params: { ...params, promotion_id: promotion.id } });
      return p.status === "RAMPING_UP" && p.replicas.previous.desired === 1 && p.replicas.candidate.desired === 2;
    }, { timeoutMs: 60_000, intervalMs: 20, message: "previous scaled down to 1" });
    const canceled = await engine.client.call("cancelPromotion", { params });
    expect(canceled.status).toBe("RAMPING_DOWN");
    expect((await engine.client.call("getPromotion", { params: { ...params, promotion_id: promotion.id } })).status).toBe("RAMPING_DOWN");
    const forced = await engine.client.call("forceRollForwardPromotion", { params });
    expect(forced.status).toBe("SUCCEEDED");
    const mark = load.snapshot().durationMs;
    await waitFor(() => load.snapshot().responses.filter((r) => r.at > mark + 300).length >= 30, { message: "answers after the force" });
    const report = await load.stop();
    expectNoFailures(report);
    expect(report.responses.filter((r) => r.at > mark + 300).every((r) => r.deploymentId === v2.id)).toBe(true);
    expect((await engine.client.call("getEnvironment", { params })).current_deployment?.id).toBe(v2.id);
    // a second force on the finished promotion is a conflict
    await expect(engine.client.call("forceRollForwardPromotion", { params })).rejects.toThrow(/no promotion in progress/);
  });
});
