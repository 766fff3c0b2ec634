/**
 * The leader autoscales on the load of every engine, not only its own (README "Several engines on
 * one PostgreSQL"): engine A (a real `serve` child process, started first: it leads) and engine B
 * (in this process, following) on one PostgreSQL. Load is sent only through B — as a load balancer
 * would send A's share elsewhere — and A's autoscaler, which sees none of it on its own router,
 * scales production up from B's reports, then back down once the load stops. Then one caller through
 * each engine: with processes each engine's replicas serve its own router's requests, so the count
 * follows the busiest engine's load, not the sum.
 */
import { describe, expect, it } from "vitest";
import { ModelplaneClient } from "../../sdk/index.js";
import { waitFor, waitForPromotion } from "../../testing/index.js";
import { enginesOnPostgres } from "../support/engines-on-postgres.js";
import { ENGINE_OPTIONS, predict, V1_COMMAND } from "./promotion-support.js";

const API_KEY = "autoscaler-multi-engine-key";
/** Each request holds a replica this long: 6 callers keep ~6 in flight on B. */
const LATENCY_MS = 500;
const CALLERS = 6;
const bed = enginesOnPostgres("autoscale", { childEngines: true });

describe.skipIf(bed.skipReason !== undefined)("two engines on one PostgreSQL: the leader autoscales on every engine's load", () => {
  it("load sent only through follower B scales leader A's production up to max, and back to min after it stops", { timeout: 300_000 }, async () => {
    const databaseUrl = await bed.database("autoscale");
    const a = await bed.spawnEngine(databaseUrl, "a", API_KEY);
    const clientA = new ModelplaneClient({ endpoint: a.url, apiKey: API_KEY });
    const b = await bed.startEngine(databaseUrl, "b", { ...ENGINE_OPTIONS, apiKey: API_KEY, promotionLeaseTtlMs: 3_000, storeResyncMs: 5_000 });
    const { dataPlane, store } = b.engine;
    expect(dataPlane.leadership.isLeader()).toBe(false);

    // Production: 1 to 3 replicas, one request per replica at 70 % (so 6 in flight call for ceil(6 / 0.7) = 9,
    // clamped to 3), a 10-s window, no scale-down delay.
    const model = await clientA.call("createModel", { body: { name: "load-through-b" } });
    const params = { model_id: model.id, env_name: "production" };
    await clientA.call("patchEnvironment", {
      params,
      body: { autoscaling_settings: { min_replica: 1, max_replica: 3, concurrency_target: 1, target_utilization_percentage: 70, autoscaling_window: 10, scale_down_delay: 0 } },
    });
    const v1 = await clientA.call("createDeployment", { params: { model_id: model.id }, body: { command: V1_COMMAND, env: { MODEL_LATENCY_MS: String(LATENCY_MS) } } });
    const promotion = await clientA.call("promote", { params, body: { deployment_id: v1.id } });
    await waitForPromotion(clientA, { modelId: model.id, environment: "production", promotionId: promotion.id }, { deadline: Date.now() + 90_000 });
    const setId = `${v1.id}.production`;
    const viaB = `${b.url}/models/${model.id}/production/predict`;
    await waitFor(async () => (await predict(viaB, undefined, API_KEY)).status === 200, { timeoutMs: 30_000, intervalMs: 50, message: "B serving production" });
    const desired = async (): Promise<number | undefined> =>
      (await store.query<{ desired: number }>("SELECT desired FROM replica_sets WHERE id = $1", [setId]))[0]?.desired;
    // Settled at min: no load yet, and the promotion's and the probe's requests are long out of the window.
    await waitFor(async () => (await desired()) === 1, { timeoutMs: 30_000, intervalMs: 100, message: "production at 1 replica before the load" });

    // 1. Load through B only. A's router receives none of it.
    const load = { answered: 0, failed: 0 };
    let loading = true;
    const call = (url: string) => async () => {
      while (loading) {
        const answer = await predict(url, undefined, API_KEY).catch(() => undefined);
        if (answer?.status === 200) load.answered++;
        else load.failed++;
      }
    };
    const loadStartedAt = Date.now();
    let callers = Array.from({ length: CALLERS }, call(viaB));
    const firstUpMs = await waitFor(async () => ((await desired()) ?? 0) >= 2 && Date.now() - loadStartedAt, { timeoutMs: 30_000, intervalMs: 50, message: "A scaling production above 1" });
    const atMaxMs = await waitFor(async () => (await desired()) === 3 && Date.now() - loadStartedAt, { timeoutMs: 30_000, intervalMs: 50, message: "A scaling production to 3" });
    // B runs the leader's count on its own replicas.
    const bReadyMs = await waitFor(() => dataPlane.runtime.observe(setId).ready === 3 && Date.now() - loadStartedAt, { timeoutMs: 60_000, intervalMs: 50, message: "B running 3 ready replicas" });
    const [reported] = await store.query<{ engine_id: string; in_flight: number; age_ms: number }>(
      "SELECT engine_id, in_flight, (extract(epoch FROM now() - sampled_at) * 1000)::double precision AS age_ms FROM engine_load WHERE replica_set_id = $1",
      [setId],
    );
    expect(reported?.engine_id).toBe(dataPlane.leadership.holder);
    expect(reported!.in_flight).toBeGreaterThan(3);
    expect(reported!.age_ms).toBeLessThan(6_000);
    // Still 3 a few seconds on: the reports keep coming while the load lasts.
    const holdUntil = Date.now() + 4_000;
    const heldCounts: number[] = [];
    while (Date.now() < holdUntil) {
      heldCounts.push((await desired()) ?? 0);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(Math.min(...heldCounts)).toBe(3);

    // 2. The load stops: back to 1 once the window has forgotten it.
    loading = false;
    await Promise.all(callers);
    const answeredThroughB = load.answered;
    const loadStoppedAt = Date.now();
    const downMs = await waitFor(async () => (await desired()) === 1 && Date.now() - loadStoppedAt, { timeoutMs: 60_000, intervalMs: 50, message: "A scaling production back to 1" });

    // 2b. One caller through each engine: each engine's own replicas (processes) serve ~1 in flight, which
    // calls for ceil(1 / 0.7) = 2 replicas on each. Added up (what shared Kubernetes pods would carry)
    // it would be ceil(2 / 0.7) = 3: the leader takes the busiest engine's load, so 2.
    const viaA = `${a.url}/models/${model.id}/production/predict`;
    loading = true;
    const evenStartedAt = Date.now();
    callers = [call(viaA)(), call(viaB)()];
    const evenUpMs = await waitFor(async () => (await desired()) === 2 && Date.now() - evenStartedAt, { timeoutMs: 30_000, intervalMs: 50, message: "A scaling production to 2 on an even load" });
    // until the 10-s window holds only this load, and the reports' lag past it
    const evenCounts: number[] = [];
    while (Date.now() < evenStartedAt + 14_000) {
      evenCounts.push((await desired()) ?? 0);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    loading = false;
    await Promise.all(callers);
    expect(Math.max(...evenCounts)).toBe(2);
    await waitFor(async () => (await desired()) === 1, { timeoutMs: 60_000, intervalMs: 50, message: "A scaling production back to 1 after the even load" });
    expect(load.failed).toBe(0);

    // 3. A row of an engine that stopped reporting: ignored (production stays at 1) and deleted by the leader.
    await store.query(
      "INSERT INTO engine_load (engine_id, replica_set_id, in_flight, requests, sampled_at) VALUES ('engine-gone', $1, 50, 1000, now() - interval '10 seconds')",
      [setId],
    );
    const insertedAt = Date.now();
    await waitFor(async () => (await store.query("SELECT 1 FROM engine_load WHERE engine_id = 'engine-gone'")).length === 0, { timeoutMs: 10_000, intervalMs: 50, message: "the leader deleting the expired row" });
    const expiredDeletedMs = Date.now() - insertedAt;
    expect(await desired()).toBe(1);

    console.log(
      `load through B only (${CALLERS} callers, ${LATENCY_MS} ms each, ${answeredThroughB} answered; ${load.answered} in all, ${load.failed} failed): ` +
        `A scaled production above 1 after ${firstUpMs} ms and to 3 after ${atMaxMs} ms; B ran 3 ready replicas after ${bReadyMs} ms; ` +
        `B's report: ${reported!.in_flight.toFixed(2)} in flight, ${Math.round(reported!.age_ms)} ms old; ` +
        `back to 1 ${downMs} ms after the load stopped; one caller through each engine: 2 after ${evenUpMs} ms, at most ${Math.max(...evenCounts)} over 14 s; ` +
        `an expired row deleted after ${expiredDeletedMs} ms`,
    );
  });
});
