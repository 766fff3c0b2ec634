/**
 * The data plane during a rolling deploy, per runtime: one engine (embedded PGlite), a model whose
 * production runs 4 replicas, a closed-loop load of 8 concurrent predict requests through the
 * engine's port, and rolling promotions back and forth between two versions (25 % surge, 1 s
 * stabilization: 4 steps). Each round measures a steady window with no promotion, then one
 * rollout. Per runtime it also measures the physical minimum of that rollout: 4 steps of (one
 * replica's start until ready + the stabilization), a replica's start timed on the runtime itself.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/rollout/run.js
 *   eval "$(scripts/kubernetes/cluster.sh env)" && BENCH_RUNTIMES=process,kubernetes node dist/bench/rollout/run.js
 *
 * Knobs (env): BENCH_ROUNDS=3, BENCH_STEADY_S=5, BENCH_RUNTIMES=process (comma-separated: process,
 * kubernetes). Kubernetes reads the test cluster's MODELPLANE_KUBECONFIG and MODELPLANE_IMAGE_SENTIMENT_V1/V2
 * (images imported on the node, pull policy Never) and works in a namespace of its own, deleted after.
 * The load generator runs in the engine's process (as in the quickstart), so the CPU figure includes
 * it. Prints markdown tables.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ModelplaneOptions } from "../../engine/main.js";
import type { Runtime, Workload } from "../../engine/runtime/runtime.js";
import { startLoad, startTestEngine, waitFor, waitForPromotion, type LoadResponse } from "../../testing/index.js";

const rounds = Number(process.env["BENCH_ROUNDS"] ?? "3");
const steadySeconds = Number(process.env["BENCH_STEADY_S"] ?? "5");
const runtimes = (process.env["BENCH_RUNTIMES"] ?? "process").split(",").map((name) => name.trim());
const models = fileURLToPath(new URL("../../../examples/models/", import.meta.url));
const REPLICAS = 4;
const SURGE_PERCENT = 25;
const STABILIZATION_S = 1;
/** 4 replicas moved one at a time (25 % surge of 4) */
const STEPS = Math.ceil(100 / SURGE_PERCENT);
const START_SAMPLES = 3;

interface Window {
  phase: "steady" | "rollout";
  seconds: number;
  responses: LoadResponse[];
  /** CPU of the engine's process (engine and load generator), percent of one core */
  cpuPercent: number;
}

interface RuntimeRun {
  runtime: string;
  windows: Window[];
  /** one replica from setDesired to ready, on the runtime directly: each sample */
  replicaStartMs: number[];
}

/** How each runtime runs the example models, and the engine options that select it. */
interface RuntimeSetup {
  engineOptions: Partial<ModelplaneOptions>;
  deployment(version: "v1" | "v2"): { command: string[] } | { image: string; port: number };
  workload(version: "v1" | "v2"): Workload;
  cleanup(): Promise<void>;
}

async function setUp(runtime: string): Promise<RuntimeSetup> {
  if (runtime === "process") {
    const command = (version: string) => ["node", `${models}sentiment-${version}/server.js`];
    return {
      engineOptions: {},
      deployment: (version) => ({ command: command(version) }),
      workload: (version) => ({ kind: "process", command: command(version) }),
      cleanup: async () => undefined,
    };
  }
  if (runtime !== "kubernetes") throw new Error(`BENCH_RUNTIMES: unknown runtime ${runtime}`);
  const kubeconfigPath = process.env["MODELPLANE_KUBECONFIG"];
  const images = { v1: process.env["MODELPLANE_IMAGE_SENTIMENT_V1"], v2: process.env["MODELPLANE_IMAGE_SENTIMENT_V2"] };
  if (!kubeconfigPath || !images.v1 || !images.v2) {
    throw new Error('kubernetes needs MODELPLANE_KUBECONFIG and MODELPLANE_IMAGE_SENTIMENT_V1/V2: eval "$(scripts/kubernetes/cluster.sh env)"');
  }
  const { CoreV1Api, KubeConfig } = await import("@kubernetes/client-node");
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const namespace = `mp-bench-rollout-${randomBytes(3).toString("hex")}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await waitFor(() => core.readNamespacedServiceAccount({ name: "default", namespace }).then(() => true, () => false), { message: "the namespace's default service account" });
  const image = (version: "v1" | "v2") => images[version]!;
  return {
    engineOptions: { kubernetes: { kubeconfigPath, namespace, settings: { imagePullPolicy: "Never" } } },
    deployment: (version) => ({ image: image(version), port: 8080 }),
    workload: (version) => ({ kind: "container", image: image(version), port: 8080 }),
    cleanup: async () => {
      await core.deleteNamespace({ name: namespace });
    },
  };
}

/** user + system time of this process, in clock ticks (USER_HZ = 100 on Linux) */
function processTicks(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function median(values: number[]): number {
  return percentile(values, 0.5);
}

async function measure<T>(phase: Window["phase"], url: string, apiKey: string, during: () => Promise<T>): Promise<Window> {
  const load = startLoad({ apiKey, url, concurrency: 8 });
  const ticks = processTicks();
  const started = Date.now();
  await during();
  const seconds = (Date.now() - started) / 1000;
  const cpuPercent = (processTicks() - ticks) / seconds;
  const report = await load.stop();
  return { phase, seconds, responses: report.responses, cpuPercent };
}

/** One replica of a fresh set, from setDesired until the runtime reports it ready (the physical start of a replica). */
async function replicaStartMs(runtime: Runtime, workload: Workload, sample: number): Promise<number> {
  const id = `dep_benchstart${sample}`;
  const started = Date.now();
  runtime.setDesired(
    {
      id,
      owner: { modelId: "mdl_bench", modelName: "bench", deploymentId: id, deploymentName: `start-${sample}`, environment: null },
      workload,
      env: {},
      secrets: {},
      readinessPath: "/health",
      revision: "1",
    },
    1,
  );
  await waitFor(() => runtime.readyReplicas(id).length === 1, { timeoutMs: 120_000, intervalMs: 10, message: `replica of ${id} ready` });
  const ms = Date.now() - started;
  await runtime.remove(id);
  return ms;
}

async function run(runtimeName: string): Promise<RuntimeRun> {
  const setup = await setUp(runtimeName);
  try {
    const engine = await startTestEngine({ ...setup.engineOptions });
    try {
      const replicaStarts: number[] = [];
      for (let sample = 0; sample < START_SAMPLES; sample++) replicaStarts.push(await replicaStartMs(engine.engine.dataPlane.runtime, setup.workload("v1"), sample));
      const { client } = engine;
      const model = await client.call("createModel", { body: { name: "bench-rollout" } });
      const params = { model_id: model.id, env_name: "production" };
      await client.call("patchEnvironment", {
        params,
        body: {
          autoscaling_settings: { min_replica: REPLICAS, max_replica: REPLICAS },
          promotion_settings: { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: SURGE_PERCENT, max_unavailable_percent: 0, stabilization_time_seconds: STABILIZATION_S } },
        },
      });
      const versions = await Promise.all(
        (["v1", "v2"] as const).map((version) => client.call("createDeployment", { params: { model_id: model.id }, body: setup.deployment(version) })),
      );
      const promote = async (deploymentId: string) => {
        const promotion = await client.call("promote", { params, body: { deployment_id: deploymentId } });
        const final = await waitForPromotion(client, { modelId: model.id, environment: "production", promotionId: promotion.id }, { deadline: Date.now() + 300_000 });
        if (final.status !== "SUCCEEDED") throw new Error(`promotion ${promotion.id} ended ${final.status}`);
      };
      await promote(versions[0]!.id);
      const url = `${engine.url}/models/${model.id}/production/predict`;
      const windows: Window[] = [];
      for (let round = 0; round < rounds; round++) {
        process.stderr.write(`${runtimeName}: round ${round + 1} of ${rounds}\n`);
        windows.push(await measure("steady", url, engine.apiKey, () => new Promise((resolve) => setTimeout(resolve, steadySeconds * 1000))));
        windows.push(await measure("rollout", url, engine.apiKey, () => promote(versions[(round + 1) % 2]!.id)));
      }
      return { runtime: runtimeName, windows, replicaStartMs: replicaStarts };
    } finally {
      await engine.close();
    }
  } finally {
    await setup.cleanup();
  }
}

function report(runs: RuntimeRun[]): void {
  console.log(`Medians over ${rounds} rounds (latency in whole ms, from send to end of body; closed loop, 8 concurrent).\n`);
  const rolloutLines = [
    `| runtime | rollout (${REPLICAS} replicas, ${STEPS} steps) | physical minimum: ${STEPS} × (replica start + ${STABILIZATION_S} s) | replica start (${START_SAMPLES} samples) | overhead per step |`,
    "|---|---|---|---|---|",
  ];
  const trafficLines = ["| runtime | phase | duration | requests/s | p50 | p99 | max | failed | engine process CPU |", "|---|---|---|---|---|---|---|---|---|"];
  for (const run of runs) {
    const start = median(run.replicaStartMs);
    const minimum = STEPS * (start / 1000 + STABILIZATION_S);
    const rollout = median(run.windows.filter((window) => window.phase === "rollout").map((window) => window.seconds));
    rolloutLines.push(
      `| ${run.runtime} | ${rollout.toFixed(1)} s | ${minimum.toFixed(1)} s | ${(start / 1000).toFixed(2)} s (${run.replicaStartMs.map((ms) => (ms / 1000).toFixed(2)).join(", ")}) | ${((rollout - minimum) / STEPS).toFixed(2)} s |`,
    );
    for (const phase of ["steady", "rollout"] as const) {
      const chosen = run.windows.filter((window) => window.phase === phase);
      const each = (value: (window: Window) => number) => median(chosen.map(value));
      const latency = (q: number) => (window: Window) => percentile(window.responses.map((response) => response.latencyMs), q);
      trafficLines.push(
        `| ${run.runtime} | ${phase} | ${each((w) => w.seconds).toFixed(1)} s | ${each((w) => w.responses.length / w.seconds).toFixed(0)} | ${each(latency(0.5))} ms | ${each(latency(0.99))} ms | ${each((w) => Math.max(...w.responses.map((r) => r.latencyMs)))} ms | ${chosen.reduce((sum, w) => sum + w.responses.filter((r) => r.status !== 200).length, 0)} | ${each((w) => w.cpuPercent).toFixed(0)} % |`,
      );
    }
  }
  console.log(rolloutLines.join("\n"));
  console.log("");
  console.log(trafficLines.join("\n"));
}

async function main(): Promise<void> {
  const runs: RuntimeRun[] = [];
  for (const runtime of runtimes) runs.push(await run(runtime));
  report(runs);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
