/**
 * Two full engines (API + data plane, each with its own replicas) on one PostgreSQL: a promotion
 * started through engine A is driven by exactly one engine (the lease), and when A is closed the
 * other engine takes it over and finishes it on its own replicas.
 *
 * Scope: each engine runs its own replica processes and router, so "driving" means deciding the
 * steps (persisted, shared) and applying them to the driver's own replicas; the other engine's
 * data plane serves from its own replicas and learns the result when it takes over. A kill -9 of
 * the driver is covered by the same code path after the lease's time-to-live (10 s by default,
 * 3 s here) instead of the immediate release on close.
 */
import { describe, expect, it } from "vitest";
import { readLease } from "../../engine/store/leases.js";
import { waitFor, waitForPromotion, type TestEngine } from "../../testing/index.js";
import { enginesOnPostgres } from "../support/engines-on-postgres.js";
import { ENGINE_OPTIONS, predict, V1_COMMAND, V2_COMMAND } from "./promotion-support.js";

const bed = enginesOnPostgres("multi-engine");

async function startEngineOn(databaseUrl: string, name: string, log: string[]): Promise<TestEngine> {
  return bed.startEngine(databaseUrl, name, { ...ENGINE_OPTIONS, promotionLeaseTtlMs: 3_000, log: (line) => log.push(line) });
}

describe.skipIf(bed.skipReason !== undefined)("two engines on one PostgreSQL", () => {
  it("exactly one engine drives a promotion; when it is closed the other takes over and finishes it", async () => {
    const databaseUrl = await bed.database("multi_engine");
    const logA: string[] = [];
    const logB: string[] = [];
    const a = await startEngineOn(databaseUrl, "a", logA);
    const model = await a.client.call("createModel", { body: { name: "shared" } });
    const params = { model_id: model.id, env_name: "production" };
    await a.client.call("patchEnvironment", { params, body: { autoscaling_settings: { min_replica: 2, max_replica: 2 } } });
    const v1 = await a.client.call("createDeployment", { params: { model_id: model.id }, body: { command: V1_COMMAND } });
    const first = await a.client.call("promote", { params, body: { deployment_id: v1.id } });
    await waitForPromotion(a.client, { modelId: model.id, environment: "production", promotionId: first.id }, { deadline: Date.now() + 60_000 });
    await a.client.call("patchEnvironment", {
      params,
      body: { promotion_settings: { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 50, max_unavailable_percent: 0, stabilization_time_seconds: 4 } } },
    });
    const v2 = await a.client.call("createDeployment", { params: { model_id: model.id }, body: { command: V2_COMMAND } });
    // B starts on the same database: it serves production from its own v1 replicas
    const b = await startEngineOn(databaseUrl, "b", logB);
    await waitFor(async () => (await predict(`${b.url}/models/${model.id}/production/predict`)).deploymentId === v1.id, { timeoutMs: 30_000, message: "B serving v1" });

    const promotion = await a.client.call("promote", { params, body: { deployment_id: v2.id } });
    const leaseName = `promotion:${promotion.id}`;
    const atFirstStep = await waitFor(async () => {
      const p = await b.client.call("getPromotion", { params: { ...params, promotion_id: promotion.id } });
      return p.step >= 1 && p.status === "RAMPING_UP" ? p : undefined;
    }, { timeoutMs: 60_000, message: "first step" });
    // B has scanned (every 2 s) and tried the lease several times by now; A holds it, only A wrote
    await waitFor(async () => (await readLease(b.engine.store, leaseName)) !== undefined, { timeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 2_500)); // at least one more scan by B: an absence needs a window
    const progressLines = (log: string[]) => log.filter((line) => line.startsWith(`production → ${v2.name} (${v2.id}): `));
    expect(progressLines(logA).length).toBeGreaterThan(0);
    expect(progressLines(logB)).toEqual([]);
    const leaseWhileA = await readLease(b.engine.store, leaseName);
    expect(leaseWhileA?.epoch).toBe(1);

    const closedAt = Date.now();
    await a.close();
    const final = await waitForPromotion(b.client, { modelId: model.id, environment: "production", promotionId: promotion.id }, { deadline: Date.now() + 90_000 });
    const takeoverMs = Date.now() - closedAt;
    expect(final.status).toBe("SUCCEEDED");
    expect(final.step).toBeGreaterThanOrEqual(atFirstStep.step);
    expect(progressLines(logB).length).toBeGreaterThan(0);
    const leaseAfter = await readLease(b.engine.store, leaseName);
    expect(leaseAfter!.epoch).toBe(2);
    expect(leaseAfter!.holder).not.toBe(leaseWhileA!.holder);
    // B finished it on its own replicas: production through B answers from v2
    await waitFor(async () => (await predict(`${b.url}/models/${model.id}/production/predict`)).deploymentId === v2.id, { timeoutMs: 30_000, message: "B serving v2" });
    for (let i = 0; i < 10; i++) expect((await predict(`${b.url}/models/${model.id}/production/predict`)).deploymentId).toBe(v2.id);
    console.log(`two engines: A closed at step ${atFirstStep.step}/${atFirstStep.total_steps}; B finished the promotion ${takeoverMs} ms later`);
  });
});
