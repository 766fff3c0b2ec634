/**
 * The data plane during a rolling deploy: one engine (embedded PGlite, process replicas), a model
 * whose production runs 4 replicas, a closed-loop load of 8 concurrent predict requests through
 * the engine's port, and rolling promotions back and forth between two versions (25 % surge,
 * 1 s stabilization). Each round measures a steady window with no promotion, then one rollout;
 * the report gives both, so what a rollout costs the traffic is in one table.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/rollout/run.js
 *
 * Knobs (env): BENCH_ROUNDS=3, BENCH_STEADY_S=5. The load generator runs in the engine's process
 * (as in the quickstart), so both figures include its CPU. Prints a markdown table.
 */
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { startLoad, startTestEngine, waitForPromotion, type LoadResponse } from "../../testing/index.js";

const rounds = Number(process.env["BENCH_ROUNDS"] ?? "3");
const steadySeconds = Number(process.env["BENCH_STEADY_S"] ?? "5");
const models = fileURLToPath(new URL("../../../examples/models/", import.meta.url));

interface Window {
  phase: "steady" | "rollout";
  seconds: number;
  responses: LoadResponse[];
  /** CPU of the engine's process (engine and load generator), percent of one core */
  cpuPercent: number;
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

async function measure<T>(phase: Window["phase"], url: string, during: () => Promise<T>): Promise<Window> {
  const load = startLoad({ url, concurrency: 8 });
  const ticks = processTicks();
  const started = Date.now();
  await during();
  const seconds = (Date.now() - started) / 1000;
  const cpuPercent = (processTicks() - ticks) / seconds;
  const report = await load.stop();
  return { phase, seconds, responses: report.responses, cpuPercent };
}

async function main(): Promise<void> {
  const engine = await startTestEngine({});
  try {
    const { client } = engine;
    const model = await client.call("createModel", { body: { name: "bench-rollout" } });
    const params = { model_id: model.id, env_name: "production" };
    await client.call("patchEnvironment", {
      params,
      body: {
        autoscaling_settings: { min_replica: 4, max_replica: 4 },
        promotion_settings: { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 25, max_unavailable_percent: 0, stabilization_time_seconds: 1 } },
      },
    });
    const versions = await Promise.all(
      ["sentiment-v1", "sentiment-v2"].map((name) =>
        client.call("createDeployment", { params: { model_id: model.id }, body: { command: ["node", `${models}${name}/server.js`] } }),
      ),
    );
    const promote = async (deploymentId: string) => {
      const promotion = await client.call("promote", { params, body: { deployment_id: deploymentId } });
      const final = await waitForPromotion(client, { modelId: model.id, environment: "production", promotionId: promotion.id });
      if (final.status !== "SUCCEEDED") throw new Error(`promotion ${promotion.id} ended ${final.status}`);
    };
    await promote(versions[0]!.id);
    const url = `${engine.url}/models/${model.id}/production/predict`;
    const windows: Window[] = [];
    for (let round = 0; round < rounds; round++) {
      process.stderr.write(`round ${round + 1} of ${rounds}\n`);
      windows.push(await measure("steady", url, () => new Promise((resolve) => setTimeout(resolve, steadySeconds * 1000))));
      windows.push(await measure("rollout", url, () => promote(versions[(round + 1) % 2]!.id)));
    }
    report(windows);
  } finally {
    await engine.close();
  }
}

function report(windows: Window[]): void {
  const lines = [
    "| phase | duration | requests/s | p50 | p99 | max | failed | engine process CPU |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const phase of ["steady", "rollout"] as const) {
    const chosen = windows.filter((window) => window.phase === phase);
    const each = (value: (window: Window) => number) => median(chosen.map(value));
    const latency = (q: number) => (window: Window) => percentile(window.responses.map((response) => response.latencyMs), q);
    lines.push(
      `| ${phase} | ${each((w) => w.seconds).toFixed(1)} s | ${each((w) => w.responses.length / w.seconds).toFixed(0)} | ${each(latency(0.5))} ms | ${each(latency(0.99))} ms | ${each((w) => Math.max(...w.responses.map((r) => r.latencyMs)))} ms | ${chosen.reduce((sum, w) => sum + w.responses.filter((r) => r.status !== 200).length, 0)} | ${each((w) => w.cpuPercent).toFixed(0)} % |`,
    );
  }
  console.log(`Medians over ${rounds} rounds (latency in whole ms, from send to end of body; closed loop, 8 concurrent).\n`);
  console.log(lines.join("\n"));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
