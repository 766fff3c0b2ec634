/**
 * The router's CPU per shadow copy (issue 17), small enough for a shared machine: the router of
 * ./shadow-router.ts in front of a PRIMARY_MS primary, without a shadow ("off") and mirroring
 * 100 % to a shadow 10× slower ("on"), interleaved for BENCH_ROUNDS rounds; each measures the
 * router's CPU time (user + system) over BENCH_RATE_S seconds at BENCH_RATE requests/s. A copy's
 * CPU is the median over rounds of on − off per request. Latency is not measured here (see
 * ./run.ts, which needs a quiet machine). BENCH_CPU_PROF=dir: the routers write V8 CPU profiles
 * (node --cpu-prof) to dir/on and dir/off, to read where a copy's time goes. BENCH_ROUTER_B=path:
 * another build's shadow-router.js, mirroring too ("on B") in the same rounds (before/after).
 *
 *   npx tsc -p bench/shadow/tsconfig.json && nice -n 10 node dist/bench/shadow/copy-cpu.js
 */
import { once } from "node:events";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { fixedRateLatencies } from "../support/fixed-rate.js";
import { freePort, median, replica, REQUEST_BODY, startNode, waitFor200 } from "./bench-processes.js";

const rounds = Number(process.env["BENCH_ROUNDS"] ?? "4");
const rate = Number(process.env["BENCH_RATE"] ?? "300");
const rateSeconds = Number(process.env["BENCH_RATE_S"] ?? "4");
const primaryMs = Number(process.env["PRIMARY_MS"] ?? "2");
const profileDir = process.env["BENCH_CPU_PROF"];
/** another build's shadow-router.js (e.g. of the commit before a change): measured as "on B" in
 * the same rounds, so both builds share the machine's load */
const routerB = process.env["BENCH_ROUTER_B"];
const ROUTER = join(dirname(fileURLToPath(import.meta.url)), "shadow-router.js");

/** The router's CPU µs per request over the measured run, and the copies compared. */
async function measure(shadow: boolean, primaryUrl: string, shadowUrl: string, script = ROUTER): Promise<{ cpuPerRequest: number; compared: number }> {
  const port = await freePort();
  const profile = profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${join(profileDir, shadow ? "on" : "off")}`];
  const router = startNode([...profile, script], {
    PORT: String(port),
    PRIMARY_URL: primaryUrl,
    SHADOW_MODE: shadow ? "on" : "off",
    SHADOW_URL: shadowUrl,
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    const load = { url: `${base}/models/bench/production/predict`, requestsPerSecond: rate, body: REQUEST_BODY, headers: { "content-type": "application/json" } };
    await waitFor200(load.url);
    await fixedRateLatencies({ ...load, seconds: 1 }); // warm-up
    await (await fetch(`${base}/stats/reset`, { method: "POST" })).arrayBuffer();
    const { failed } = await fixedRateLatencies({ ...load, seconds: rateSeconds });
    await sleep(200); // the last copies end (their CPU is the run's)
    const stats = (await (await fetch(`${base}/stats`)).json()) as { cpuMicroseconds: number; counts: Record<string, number> };
    if (failed > 0) process.stderr.write(`${failed} primary requests failed\n`);
    return { cpuPerRequest: stats.cpuMicroseconds / (rate * rateSeconds), compared: (stats.counts["agreed"] ?? 0) + (stats.counts["disagreed"] ?? 0) };
  } finally {
    const exited = once(router, "exit");
    router.kill("SIGTERM"); // process.exit: --cpu-prof writes its profile
    await exited;
  }
}

const primaryUrl = await replica(primaryMs);
const shadowUrl = await replica(primaryMs * 10);
type Variant = "off" | "on" | "on B";
const variants: Variant[] = routerB === undefined ? ["off", "on"] : ["off", "on", "on B"];
const deltas: Record<"on" | "on B", number[]> = { on: [], "on B": [] };
for (let round = 0; round < rounds; round++) {
  // the order rotates: each variant takes each position
  const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
  const cpu = new Map<Variant, number>();
  const line: string[] = [];
  for (const variant of order) {
    const measured = await measure(variant !== "off", primaryUrl, shadowUrl, variant === "on B" ? routerB : ROUTER);
    cpu.set(variant, measured.cpuPerRequest);
    line.push(`${variant} ${measured.cpuPerRequest.toFixed(0)} µs/request${variant === "off" ? "" : ` (${measured.compared} compared)`}`);
  }
  for (const variant of ["on", "on B"] as const) if (cpu.has(variant)) deltas[variant].push(cpu.get(variant)! - cpu.get("off")!);
  console.log(`round ${round + 1}: ${line.join(", ")}`);
}
for (const variant of ["on", "on B"] as const) {
  const values = deltas[variant];
  if (values.length === 0) continue;
  console.log(`${rate} requests/s × ${rateSeconds} s, ${rounds} rounds: router CPU per copy (${variant}), median ${median(values).toFixed(0)} µs [${values.map((d) => d.toFixed(0)).join(", ")}]`);
}
process.exit(0);
