/**
 * One deployment-controller resync at a given size, measured alone: statements (counting-sql.ts),
 * wall time, the longest event-loop stall while it runs, and the latency of service reads issued
 * at 200/s during it (a stand-in for the API: the same store and event loop, without HTTP).
 * The store is filled through the service (ControlPlane), no engine running: BENCH_DEPLOYMENTS
 * deployments, 10 per model, each model's production, staging and dev served by one of them (a
 * secret on production), an in-progress promotion into production in one model of three. Then a
 * leader's controller on a hollow runtime resyncs at start (restore), settles, and resyncs twice
 * more (steady: what the periodic resync costs); a follower's controller resyncs once.
 *
 *   npx tsc -p bench/scale/tsconfig.json
 *   BENCH_DEPLOYMENTS=1000 BENCH_STORE=postgres node dist/bench/scale/resync.js
 *
 * Knobs (env): BENCH_DEPLOYMENTS=1000, BENCH_STORE=postgres|pglite, BENCH_RATE=200 (reads/s during a resync).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { Autoscaler } from "../../engine/autoscaler/index.js";
import type { Leadership } from "../../engine/control/control-lease.js";
import { DeploymentController } from "../../engine/control/deployment-controller.js";
import { createPromotionExecutor } from "../../engine/promotions/executor.js";
import { RoutingTable } from "../../engine/router/index.js";
import { ControlPlane } from "../../engine/service/control-plane.js";
import { openStore } from "../../engine/store/open-store.js";
import type { Sql } from "../../engine/store/sql.js";
import { startTestPostgres } from "../../test/support/postgres.js";
import { instrumentSql } from "./counting-sql.js";
import { HollowRuntime } from "./hollow-runtime.js";

const DEPLOYMENTS = Number(process.env["BENCH_DEPLOYMENTS"] ?? "1000");
const STORE = process.env["BENCH_STORE"] ?? "postgres";
const RATE = Number(process.env["BENCH_RATE"] ?? "200");
const PER_MODEL = 10;
const FOLLOWING: Leadership = { isLeader: () => false, fence: () => undefined };

const log = (line: string) => process.stderr.write(`[resync ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function populate(sql: Sql): Promise<Array<{ modelId: string; deploymentId: string }>> {
  const service = new ControlPlane({ sql, promotionExecutor: createPromotionExecutor({ currentReplicas: () => 1, readyReplicas: () => 0 }) });
  const deployments: Array<{ modelId: string; deploymentId: string }> = [];
  const models = Math.ceil(DEPLOYMENTS / PER_MODEL);
  let next = 0;
  const worker = async () => {
    while (next < models) {
      const m = next++;
      const model = await service.createModel({ name: `model-${m}` });
      await service.createEnvironment(model.id, { name: "staging" });
      await service.createEnvironment(model.id, { name: "dev" });
      await service.putVariable(model.id, "production", "API_TOKEN", { value: `token-${m}`, secret: true });
      const ids: string[] = [];
      for (let d = 0; d < PER_MODEL; d++) ids.push((await service.createDeployment(model.id, { command: ["model"] } as never)).id);
      for (const [name, id] of [["production", ids[0]], ["staging", ids[1]], ["dev", ids[2]]] as const) {
        await sql.query("UPDATE environments SET current_deployment_id = $3 WHERE model_id = $1 AND name = $2", [model.id, name, id!]);
      }
      if (m % 3 === 0) await service.promote(model.id, "production", { deployment_id: ids[3]! });
      for (const id of ids) deployments.push({ modelId: model.id, deploymentId: id });
      if (m % 50 === 0) log(`${m}/${models} models`);
    }
  };
  await Promise.all(Array.from({ length: sql.kind === "postgres" ? 8 : 1 }, worker));
  return deployments;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "modelplane-resync-bench-"));
  const postgres = STORE === "postgres" ? await startTestPostgres() : undefined;
  const sql = await openStore({ dataDir, ...(postgres ? { databaseUrl: postgres.url } : {}) });
  try {
    const began = performance.now();
    const deployments = await populate(sql);
    log(`${deployments.length} deployments in ${((performance.now() - began) / 1000).toFixed(0)} s`);
    const service = new ControlPlane({ sql, promotionExecutor: createPromotionExecutor({ currentReplicas: () => 1, readyReplicas: () => 0 }) });
    const counting = instrumentSql(sql);
    // The shapes the service's reads run: left out of the resync's statements (the controller runs none of them).
    await service.getDeployment(deployments[0]!.modelId, deployments[0]!.deploymentId);
    const serviceShapes = new Set(counting.counts().byShape.keys());
    const stall = monitorEventLoopDelay({ resolution: 1 });
    stall.enable();

    /** One resync measured: statements while it ran (and its writes, awaited after), time, stall, reads' latency. */
    const measure = async (what: string, controller: DeploymentController, options: { restore?: boolean }, settle: () => Promise<void>) => {
      counting.reset();
      stall.reset();
      const latencies: number[] = [];
      let done = false;
      const reads: Promise<void>[] = [];
      const start = performance.now();
      const load = (async () => {
        for (let i = 0; !done; i++) {
          const due = start + (i * 1000) / RATE;
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
          if (done) break;
          const target = deployments[(i * 7919) % deployments.length]!;
          reads.push(service.getDeployment(target.modelId, target.deploymentId).then(() => void latencies.push(performance.now() - due)));
        }
      })();
      await controller.resync(options);
      const wallMs = performance.now() - start;
      const maxStallMs = stall.max / 1e6;
      done = true;
      await load;
      await Promise.all(reads);
      await settle();
      const counts = counting.counts();
      for (const shape of serviceShapes) counts.byShape.delete(shape);
      const statements = [...counts.byShape.values()].reduce((sum, n) => sum + n, 0);
      const sorted = latencies.sort((a, b) => a - b);
      const top = [...counts.byShape.entries()].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([shape, n]) => `${n}× ${shape.slice(0, 60)}`);
      console.log(
        `| ${STORE} | ${deployments.length} | ${what} | ${statements} | ${wallMs.toFixed(0)} ms | ${maxStallMs.toFixed(0)} ms | ` +
          `${latencies.length}: p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms, max ${(sorted[sorted.length - 1] ?? Number.NaN).toFixed(1)} ms |`,
      );
      log(`${what}: ${top.join("; ")}`);
    };

    const engine = (leadership?: Leadership) => {
      const runtime = new HollowRuntime({ readyAfterMs: 5, stopAfterMs: 1 });
      const autoscaler = new Autoscaler({ source: { inFlightForSet: () => 0 } });
      const controller = new DeploymentController({ sql, runtime, table: new RoutingTable(), autoscaler, ...(leadership ? { leadership } : {}), log: (line) => log(line) });
      return { runtime, autoscaler, controller };
    };
    console.log("| store | deployments | resync | statements | wall time | longest event-loop stall | service reads at 200/s during it |");
    console.log("|---|---|---|---|---|---|---|");
    const leader = engine();
    // the start's writes (every set's count, every deployment's observation) go on after it returns, at most
    // 4 at once: wait for them (about 4 ms a deployment)
    await measure("leader, at start (restore)", leader.controller, { restore: true }, () => sleep(Math.max(3000, 4 * DEPLOYMENTS)));
    await measure("leader, steady", leader.controller, {}, () => sleep(1000));
    await measure("leader, steady again", leader.controller, {}, () => sleep(1000));
    const follower = engine(FOLLOWING);
    await measure("follower, first", follower.controller, {}, () => sleep(500));
    await measure("follower, steady", follower.controller, {}, () => sleep(500));
    for (const { autoscaler, controller, runtime } of [leader, follower]) {
      autoscaler.close();
      await controller.close();
      await runtime.stopAll();
    }
  } finally {
    await sql.close();
    await postgres?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
