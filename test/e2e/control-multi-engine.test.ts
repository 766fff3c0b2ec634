/**
 * Level-triggered control across engines (issue 14's fourth must-show): engine A (a real `serve`
 * child process) and engine B (in this process, so the test can read its router) on one
 * PostgreSQL, each running its own replica processes at the counts the leader stored.
 *
 * - a deployment created through A is routed and served by B (NOTIFY, not B's own API);
 * - B's router follows every step of a rolling promotion A drives, within 1 s;
 * - the stored counts and the deployment rows move one way only while A leads (one writer: with
 *   both engines writing their own view they flip);
 * - kill -9 of A mid-rollout: B takes the control lease and the promotion's, and finishes it.
 */
import { describe, expect, it } from "vitest";
import { ModelplaneClient } from "../../sdk/index.js";
import { readLease } from "../../engine/store/leases.js";
import { waitFor, waitForPromotion } from "../../testing/index.js";
import { enginesOnPostgres } from "../support/engines-on-postgres.js";
import { ENGINE_OPTIONS, predict, V1_COMMAND, V2_COMMAND } from "./promotion-support.js";

const API_KEY = "control-multi-engine-key";
const bed = enginesOnPostgres("control", { childEngines: true });

interface Sample {
  at: number;
  step: number;
  percent: number;
  status: string;
}

describe.skipIf(bed.skipReason !== undefined)("two engines on one PostgreSQL: one writer, every engine follows the store", () => {
  it("B routes what A creates, follows each step A drives within 1 s, and finishes the rollout after kill -9 of A", { timeout: 300_000 }, async () => {
    const databaseUrl = await bed.database("control");
    const a = await bed.spawnEngine(databaseUrl, "a", API_KEY);
    const clientA = new ModelplaneClient({ endpoint: a.url, apiKey: API_KEY });
    const b = await bed.startEngine(databaseUrl, "b", { ...ENGINE_OPTIONS, apiKey: API_KEY, promotionLeaseTtlMs: 3_000, storeResyncMs: 5_000 });
    const { dataPlane } = b.engine;
    const store = b.engine.store;
    // A started first: it leads; B follows.
    expect(dataPlane.leadership.isLeader()).toBe(false);
    expect((await readLease(store, "control"))?.holder).toMatch(/^engine-/);

    // 1. Created through A, routed and served by B.
    const model = await clientA.call("createModel", { body: { name: "two-engines" } });
    const params = { model_id: model.id, env_name: "production" };
    await clientA.call("patchEnvironment", { params, body: { autoscaling_settings: { min_replica: 4, max_replica: 4 } } });
    const createdAt = Date.now();
    const v1 = await clientA.call("createDeployment", { params: { model_id: model.id }, body: { command: V1_COMMAND } });
    await waitFor(() => dataPlane.routesDeployment(model.id, v1.id), { timeoutMs: 2_000, intervalMs: 10, message: "B routing the deployment created through A within 2 s" });
    const routedMs = Date.now() - createdAt;
    const viaB = `${b.url}/models/${model.id}/deployment/${v1.id}/predict`;
    await waitFor(async () => (await predict(viaB, undefined, API_KEY)).status === 200, { timeoutMs: 30_000, intervalMs: 20, message: "B serving the deployment" });
    const servedMs = Date.now() - createdAt;
    // B reports the load it served (engine/autoscaler/cluster-load.ts) and A's autoscaler counts it, as
    // it would its own: the first promotion scales v1's own set to 0 and A scales it back to 1 while the
    // probe above is in its 60-s window. Wait for B's report to be idle (at most 2 report periods), so
    // that A has read it before the promotion and that move is over before the rollout below.
    await waitFor(async () => (await store.query<{ in_flight: number }>("SELECT in_flight FROM engine_load WHERE replica_set_id = $1", [v1.id]))[0]?.in_flight === 0, {
      timeoutMs: 10_000,
      intervalMs: 50,
      message: "B's load report of the probe",
    });

    const first = await clientA.call("promote", { params, body: { deployment_id: v1.id } });
    await waitForPromotion(clientA, { modelId: model.id, environment: "production", promotionId: first.id }, { deadline: Date.now() + 60_000 });
    await clientA.call("patchEnvironment", {
      params,
      body: { promotion_settings: { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 25, max_unavailable_percent: 0, stabilization_time_seconds: 2 } } },
    });
    const v2 = await clientA.call("createDeployment", { params: { model_id: model.id }, body: { command: V2_COMMAND } });

    // 2. A drives the rollout; B's router is sampled against the stored promotion.
    const promotion = await clientA.call("promote", { params, body: { deployment_id: v2.id } });
    const stored: Sample[] = [];
    const routed: Sample[] = [];
    const v1Desired: number[] = [];
    const setCounts = new Map<string, number[]>();
    let killedAt: number | undefined;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [row] = await store.query<{ step: number; percent_traffic_to_new_version: number; status: string }>(
          "SELECT step, percent_traffic_to_new_version, status FROM promotions WHERE id = $1",
          [promotion.id],
        );
        const at = Date.now();
        if (row) stored.push({ at, step: row.step, percent: row.percent_traffic_to_new_version, status: row.status });
        const route = dataPlane.routeOf(model.id, "production");
        if (route) routed.push({ at, step: -1, percent: route.candidateDeploymentId === v2.id ? route.percentToCandidate : route.currentDeploymentId === v2.id ? 100 : 0, status: "" });
        if (killedAt === undefined) {
          const [v1Row] = await store.query<{ replicas_desired: number }>("SELECT replicas_desired FROM deployments WHERE id = $1", [v1.id]);
          if (v1Row) v1Desired.push(v1Row.replicas_desired);
          for (const set of await store.query<{ id: string; desired: number }>("SELECT id, desired FROM replica_sets WHERE id IN ($1, $2)", [`${v1.id}.production`, `${v2.id}.production`])) {
            setCounts.set(set.id, [...(setCounts.get(set.id) ?? []), set.desired]);
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();

    // 3. kill -9 of A once the rollout is half-way.
    await waitFor(async () => stored.at(-1)?.step !== undefined && stored.at(-1)!.step >= 2 && stored.at(-1)!.status === "RAMPING_UP", { timeoutMs: 120_000, intervalMs: 20, message: "step 2" });
    const killedAtStep = stored.at(-1)!.step;
    killedAt = Date.now();
    a.child.kill("SIGKILL");
    await a.exited;
    const final = await waitForPromotion(b.client, { modelId: model.id, environment: "production", promotionId: promotion.id }, { deadline: Date.now() + 120_000 });
    const finishedMs = Date.now() - killedAt;
    sampling = false;
    await sampler;
    expect(final.status).toBe("SUCCEEDED");
    expect(dataPlane.leadership.isLeader()).toBe(true);
    expect((await readLease(store, "control"))?.holder).toBe(dataPlane.leadership.holder);
    expect((await readLease(store, `promotion:${promotion.id}`))?.epoch).toBe(2);

    // B's router followed each stored traffic change within 1 s (both sampled every 25 ms).
    const changes: Sample[] = [];
    for (const sample of stored) if (changes.at(-1)?.percent !== sample.percent) changes.push(sample);
    const lags = changes.map((change) => {
      const seen = routed.find((sample) => sample.at >= change.at && sample.percent === change.percent);
      return seen === undefined ? Number.POSITIVE_INFINITY : seen.at - change.at;
    });
    expect(changes.map((change) => change.percent)).toEqual([...changes.map((change) => change.percent)].sort((x, y) => x - y));
    expect(changes.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...lags)).toBeLessThanOrEqual(1_000);

    // One writer while A led: the leader's counts only ever move one way during a ramp-up.
    const isMonotonic = (values: number[], direction: 1 | -1) => values.every((value, i) => i === 0 || (value - values[i - 1]!) * direction >= 0);
    expect(v1Desired.length).toBeGreaterThan(10);
    expect(isMonotonic(v1Desired, -1)).toBe(true);
    expect(isMonotonic(setCounts.get(`${v2.id}.production`) ?? [], 1)).toBe(true);
    expect(isMonotonic(setCounts.get(`${v1.id}.production`) ?? [], -1)).toBe(true);

    // B serves production from v2 on its own replicas.
    const production = `${b.url}/models/${model.id}/production/predict`;
    await waitFor(async () => (await predict(production, undefined, API_KEY)).deploymentId === v2.id, { timeoutMs: 30_000, message: "B serving v2" });
    for (let i = 0; i < 10; i++) expect((await predict(production, undefined, API_KEY)).deploymentId).toBe(v2.id);
    console.log(
      `two engines: B routed A's new deployment after ${routedMs} ms and served it after ${servedMs} ms; ` +
        `B's router followed ${changes.length} traffic changes (${changes.map((c) => c.percent).join(" → ")} %) with lags ${lags.join(", ")} ms; ` +
        `A killed at step ${killedAtStep}, B finished the rollout ${finishedMs} ms later`,
    );
  });
});
