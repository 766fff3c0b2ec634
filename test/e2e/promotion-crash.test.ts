/**
 * kill -9 of the engine in the middle of a rolling deploy: the compiled `modelplane serve` runs a
 * 4-replica rolling promotion under load, dies by SIGKILL once a step > 0 is persisted, and is
 * started again on the same data dir. The promotion resumes from its persisted step, not from 0,
 * and succeeds; every replica process of the dead engine is gone (the runtime's orphan guard);
 * requests to both engines never fail.
 */
import { execFileSync } from "node:child_process";
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Promotion } from "../../sdk/schemas/promotion.js";
import { ModelplaneClient, startLoad, waitFor, waitForPromotion, type LoadReport } from "../../testing/index.js";
import { compileEngineCli, spawnEngine, type EngineProcess } from "../support/compiled-engine.js";
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
  if (mainJs) await rm(mainJs.replace(/\/engine\/cli\/main\.js$/, ""), { recursive: true, force: true });
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

    const loadBeforeKill = startLoad({ url: `${first.engine.url}/models/${model.id}/production/predict`, concurrency: 4 });
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
    const loadAfterRestart = startLoad({ url: `${second.engine.url}/models/${model.id}/production/predict`, concurrency: 4 });
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
