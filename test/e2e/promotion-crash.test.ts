/**
 * kill -9 of the engine in the middle of a rolling deploy: the compiled `modelplane serve` runs a
 * 4-replica rolling promotion under load, dies by SIGKILL once a step > 0 is persisted, and is
 * started again on the same data dir. The promotion resumes from its persisted step, not from 0,
 * and succeeds; every replica process of the dead engine is gone (the runtime's orphan guard);
 * requests to both engines never fail.
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Promotion } from "../../sdk/schemas/promotion.js";
import { ModelplaneClient, startLoad, waitFor, waitForPromotion, type LoadReport } from "../../testing/index.js";
import { compileEngineCli, removeCompiledEngineCli, spawnEngine, type EngineProcess } from "../support/compiled-engine.js";
import { createPgliteTemplate, type PgliteTemplate } from "../support/pglite-template.js";
import { runtimeUnderTest } from "./runtime-under-test.js";

const API_KEY = "promotion-crash-test-key";
const runtime = runtimeUnderTest();

let template: PgliteTemplate;
let mainJs: string;
const engines: EngineProcess[] = [];

beforeAll(async () => {
  if (runtime.skipReason !== undefined) return;
  [template, mainJs] = await Promise.all([createPgliteTemplate(), compileEngineCli(), runtime.engineOptions("crash")]);
});
afterAll(async () => {
  for (const engine of engines) if (engine.child.exitCode === null && engine.child.signalCode === null) engine.child.kill("SIGTERM");
  await Promise.all(engines.map((engine) => engine.exited));
  await template?.cleanup();
  if (mainJs) await removeCompiledEngineCli(mainJs);
  await runtime.cleanup();
});

/** Every descendant pid of `root` (the replicas' /bin/sh supervisors and the node servers under them). */
function descendantsOf(root: number): number[] {
  const table = execFileSync("ps", ["-eo", "pid=,ppid="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [pid, ppid] of table) {
      if (ppid === parent) {
        found.push(pid);
        queue.push(pid);
      }
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** POST one predict and say which deployment answered (null without an answer). */
async function predictOnce(url: string): Promise<string | null> {
  try {
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: `Api-Key ${API_KEY}` }, body: JSON.stringify({ text: "a good day" }), signal: AbortSignal.timeout(60_000) });
    await response.arrayBuffer();
    return response.status === 200 ? response.headers.get("x-modelplane-deployment-id") : null;
  } catch {
    return null;
  }
}

function expectNoFailures(report: LoadReport, minimum: number) {
  expect(report.failures, `failed requests: ${JSON.stringify(report.failures)}`).toEqual([]);
  expect(report.sent).toBeGreaterThan(minimum);
}

async function startServe(dataDir: string): Promise<{ engine: EngineProcess; client: ModelplaneClient }> {
  const engine = await spawnEngine(mainJs, ["--port", "0", "--data-dir", dataDir, ...runtime.serveArgs()], { MODELPLANE_API_KEY: API_KEY });
  engines.push(engine);
  return { engine, client: new ModelplaneClient({ endpoint: engine.url, apiKey: API_KEY }) };
}

describe.skipIf(runtime.skipReason !== undefined)(`kill -9 of the engine during a rolling deploy (${runtime.name}${runtime.skipReason ? `: ${runtime.skipReason}` : ""})`, () => {
  it(runtime.name === "process" ? "resumes from the persisted step after a restart on the same data dir and succeeds; old replicas are gone" : "resumes from the persisted step, adopting the pods that outlived the engine (none restarted, none duplicated), and succeeds", { timeout: 240_000 }, async () => {
    const dataDir = await template.freshDataDir();
    const first = await startServe(dataDir);
    const model = await first.client.call("createModel", { body: { name: "crash" } });
    const params = { model_id: model.id, env_name: "production" };
    await first.client.call("patchEnvironment", { params, body: { autoscaling_settings: { min_replica: 4, max_replica: 4 } } });
    const v1 = await first.client.call("createDeployment", { params: { model_id: model.id }, body: runtime.runnable("v1") });
    const initial = await first.client.call("promote", { params, body: { deployment_id: v1.id } });
    await waitForPromotion(first.client, { modelId: model.id, environment: "production", promotionId: initial.id }, { deadline: Date.now() + 60_000 });
    // 4 steps of 25% with 4 s of stabilization each: ~16 s of rollout, room to kill in the middle
    await first.client.call("patchEnvironment", {
      params,
      body: { promotion_settings: { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 25, max_unavailable_percent: 0, stabilization_time_seconds: 4 } } },
    });
    const v2 = await first.client.call("createDeployment", { params: { model_id: model.id }, body: runtime.runnable("v2") });

    const loadBeforeKill = startLoad({ apiKey: API_KEY, url: `${first.engine.url}/models/${model.id}/production/predict`, concurrency: 4 });
    await waitFor(() => loadBeforeKill.snapshot().succeeded >= 20, { timeoutMs: 30_000, message: "load on v1 to start" });
    const promotion = await first.client.call("promote", { params, body: { deployment_id: v2.id } });
    expect(promotion.kind).toBe("ROLLING");
    const beforeKill = await waitFor(
      async () => {
        const seen = await first.client.call("getPromotion", { params: { ...params, promotion_id: promotion.id } });
        return seen.step >= 1 && seen.step < seen.total_steps && seen.status === "RAMPING_UP" ? seen : undefined;
      },
      { timeoutMs: 60_000, message: "a persisted step > 0" },
    );
    const replicaPids = runtime.name === "process" ? descendantsOf(first.engine.child.pid!) : [];
    // 4 previous + the candidate's first replica: processes (a supervisor shell plus a node server each) or pods
    if (runtime.name === "process") expect(replicaPids.length).toBeGreaterThanOrEqual(5);
    const podsAtKill = await runtime.livePods();
    if (runtime.name === "kubernetes") expect((podsAtKill.get(v1.id)?.length ?? 0) + (podsAtKill.get(v2.id)?.length ?? 0)).toBeGreaterThanOrEqual(5);
    first.engine.child.kill("SIGKILL");
    await first.engine.exited;
    const reportBeforeKill = await loadBeforeKill.stop();
    // requests answered before the kill all succeeded; the ones cut by the kill itself have no answer
    const answeredBeforeKill = reportBeforeKill.responses.filter((response) => response.status !== 0);
    expect(answeredBeforeKill.filter((response) => response.status >= 500)).toEqual([]);
    expect(answeredBeforeKill.length, JSON.stringify(reportBeforeKill.responses.slice(0, 5))).toBeGreaterThan(20);
    await waitFor(() => replicaPids.every((pid) => !alive(pid)), { timeoutMs: 15_000, message: "the dead engine's replicas to exit" });
    // pods outlive the engine: the same ones, still there
    if (runtime.name === "kubernetes") expect(await runtime.livePods()).toEqual(podsAtKill);

    const restartedAt = Date.now();
    const second = await startServe(dataDir);
    if (runtime.name === "kubernetes") {
      // adopted as they are: every pod of before the kill still runs (none restarted), and nothing was
      // duplicated — at most the one pod of the next step (the reconciler may already have taken it)
      const adopted = await runtime.livePods();
      const count = (pods: Map<string, string[]>) => [v1.id, v2.id].reduce((sum, id) => sum + (pods.get(id)?.length ?? 0), 0);
      for (const id of [v1.id, v2.id]) expect(adopted.get(id) ?? []).toEqual(expect.arrayContaining(podsAtKill.get(id) ?? []));
      expect(count(adopted)).toBeLessThanOrEqual(count(podsAtKill) + 1);
    }
    const afterRestart = await second.client.call("getPromotion", { params: { ...params, promotion_id: promotion.id } });
    expect(afterRestart.status).not.toMatch(/SUCCEEDED|FAILED|CANCELED/);
    expect(afterRestart.step).toBeGreaterThanOrEqual(beforeKill.step);
    const loadAfterRestart = startLoad({ apiKey: API_KEY, url: `${second.engine.url}/models/${model.id}/production/predict`, concurrency: 4 });
    const seen: Promotion[] = [];
    let firstMoveAfterRestartMs: number | undefined;
    const final = await waitForPromotion(
      second.client,
      { modelId: model.id, environment: "production", promotionId: promotion.id },
      {
        pollMs: 100,
        deadline: Date.now() + 90_000,
        onProgress: (p) => {
          seen.push(p);
          if (firstMoveAfterRestartMs === undefined && p.step > afterRestart.step) firstMoveAfterRestartMs = Date.now() - restartedAt;
        },
      },
    );
    const reportAfterRestart = await loadAfterRestart.stop();
    expect(final.status).toBe("SUCCEEDED");
    // never back to step 0: every step seen after the restart is at least the one persisted before the kill
    expect(Math.min(...seen.map((p) => p.step))).toBeGreaterThanOrEqual(beforeKill.step);
    expect((await second.client.call("listPromotions", { params })).promotions.map((p) => p.status)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    expectNoFailures(reportAfterRestart, 50);
    const environment = await second.client.call("getEnvironment", { params });
    expect(environment.current_deployment?.id).toBe(v2.id);
    expect(reportAfterRestart.responses.slice(-20).every((response) => response.deploymentId === v2.id)).toBe(true);
    console.log(
      `kill -9 at step ${beforeKill.step}/${beforeKill.total_steps} (${beforeKill.percent_traffic_to_new_version}%); restarted engine ` +
        `found step ${afterRestart.step}, next step after ${firstMoveAfterRestartMs ?? "?"} ms, finished ${Date.now() - restartedAt} ms after restart; ` +
        `${reportAfterRestart.sent} requests after restart, ${reportAfterRestart.failed} failed`,
    );
  });
});

describe.skipIf(runtime.skipReason !== undefined || runtime.name !== "process")("exact progress across two kill -9 restarts of the engine (process)", () => {
  it("total_steps stays 4, every (step, traffic) seen is a step of the plan, traffic never goes back, and the first requests after each restart follow the persisted split", { timeout: 480_000 }, async () => {
    const dataDir = await template.freshDataDir();
    let current = await startServe(dataDir);
    const model = await current.client.call("createModel", { body: { name: "restarts" } });
    const params = { model_id: model.id, env_name: "production" };
    const url = () => `${current.engine.url}/models/${model.id}/production/predict`;
    await current.client.call("patchEnvironment", { params, body: { autoscaling_settings: { min_replica: 4, max_replica: 4 } } });
    const v1 = await current.client.call("createDeployment", { params: { model_id: model.id }, body: runtime.runnable("v1") });
    const initial = await current.client.call("promote", { params, body: { deployment_id: v1.id } });
    await waitForPromotion(current.client, { modelId: model.id, environment: "production", promotionId: initial.id }, { deadline: Date.now() + 60_000 });
    // 4 steps of 25% with 5 s of stabilization each: room for two kills in the middle
    await current.client.call("patchEnvironment", {
      params,
      body: { promotion_settings: { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 25, max_unavailable_percent: 0, stabilization_time_seconds: 5 } } },
    });
    const v2 = await current.client.call("createDeployment", { params: { model_id: model.id }, body: runtime.runnable("v2") });
    const promotion = await current.client.call("promote", { params, body: { deployment_id: v2.id } });
    const promotionParams = { ...params, promotion_id: promotion.id };

    // every state any engine reported, in order (polled every 100 ms, across the restarts)
    const seen: Promotion[] = [promotion];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        try {
          const state = await current.client.call("getPromotion", { params: promotionParams });
          const last = seen[seen.length - 1]!;
          if (state.step !== last.step || state.total_steps !== last.total_steps || state.percent_traffic_to_new_version !== last.percent_traffic_to_new_version || state.status !== last.status) seen.push(state);
        } catch {
          // the engine is down between a kill and its restart
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();

    const restarts: string[] = [];
    for (const killAtStep of [1, 2]) {
      const persisted = await waitFor(
        async () => {
          const state = await current.client.call("getPromotion", { params: promotionParams });
          return state.step >= killAtStep && state.step < state.total_steps && state.status === "RAMPING_UP" ? state : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 100, message: `a persisted step ≥ ${killAtStep}` },
      );
      current.engine.child.kill("SIGKILL");
      await current.engine.exited;
      current = await startServe(dataDir);
      // The very first requests to the restarted engine: the router must already split them by the
      // persisted percentage (held until the cold replicas are ready), not send them all to v1.
      const burst = await Promise.all(Array.from({ length: 40 }, () => predictOnce(url())));
      expect(burst.filter((answer) => answer === null), "every request of the burst answered").toEqual([]);
      const share = burst.filter((answer) => answer === v2.id).length / burst.length;
      const after = await current.client.call("getPromotion", { params: promotionParams });
      restarts.push(`killed at ${persisted.step}/${persisted.total_steps} (${persisted.percent_traffic_to_new_version}%), v2 answered ${Math.round(share * 100)}% of the first 40 requests after the restart, then ${after.step}/${after.total_steps} (${after.percent_traffic_to_new_version}%)`);
      expect(after.total_steps).toBe(persisted.total_steps);
      expect(after.step).toBeGreaterThanOrEqual(persisted.step);
      expect(after.percent_traffic_to_new_version).toBeGreaterThanOrEqual(persisted.percent_traffic_to_new_version);
      // 40 requests at ≥ 25%: none to v2 has a chance of 0.75^40 ≈ 1e-5
      expect(share, restarts[restarts.length - 1]).toBeGreaterThan(0);
      expect(Math.abs(share - persisted.percent_traffic_to_new_version / 100), restarts[restarts.length - 1]).toBeLessThan(0.25);
    }

    const final = await waitForPromotion(current.client, { modelId: model.id, environment: "production", promotionId: promotion.id }, { pollMs: 100, deadline: Date.now() + 120_000 });
    polling = false;
    await poller;
    seen.push(final);
    expect(final.status).toBe("SUCCEEDED");
    const plan = new Set(["0/4 at 0%", "1/4 at 25%", "2/4 at 50%", "3/4 at 75%", "4/4 at 100%"]);
    const pairs = seen.map((state) => `${state.step}/${state.total_steps} at ${state.percent_traffic_to_new_version}%`);
    for (const pair of pairs) expect(plan, pairs.join(", ")).toContain(pair);
    const forward = seen.filter((state) => state.status === "RELEASING" || state.status === "RAMPING_UP").map((state) => state.percent_traffic_to_new_version);
    for (let i = 1; i < forward.length; i += 1) expect(forward[i], forward.join(" → ")).toBeGreaterThanOrEqual(forward[i - 1]!);
    console.log(`two kill -9 restarts: ${restarts.join("; ")}; seen ${[...new Set(pairs)].join(" → ")}`);
  });
});
