/**
 * Router benchmark: the same upstream replica measured directly, through the modelplane router
 * (one process, N processes with node:cluster, and one process with the fast path off, i.e.
 * node:http + undici only) and through nginx (1 and N workers), in one run.
 *
 *   npx tsc -p bench/router/tsconfig.json && node dist/bench/router/run.js
 *
 * Needs `wrk` and `nginx` on PATH (Debian: apt-get install -y nginx wrk). Knobs (env):
 *   BENCH_ROUNDS=3        rounds; each round measures every target once, in turn (every other
 *                         round in reverse order), so a target is compared with the others under
 *                         the same background load; the report gives medians over rounds (of
 *                         values, and of per-round ratios)
 *   BENCH_DURATION_S=5    saturation run per target and round (wrk -t 2 -c 32)
 *   BENCH_RATE=1000       fixed request rate of the latency run (requests/s, open loop)
 *   BENCH_RATE_S=4        duration of the latency run
 *   BENCH_WORKERS=2       processes of the multi-process router and nginx variants
 *   BENCH_ONLY=keys       only the direct replica and the two 1-process fast-path routers, with and
 *                         without the key check (what the check costs, in a 1-minute run)
 *   BENCH_ONLY=metrics    only the direct replica and the 1-process routers (fast path, and
 *                         node:http only) with and without the request metrics (what counting costs)
 * Prints a markdown table (paste it into RESULTS.md).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { fixedRateLatencies } from "../support/fixed-rate.js";

const rounds = Number(process.env["BENCH_ROUNDS"] ?? "3");
const durationSeconds = Number(process.env["BENCH_DURATION_S"] ?? "5");
const fixedRate = Number(process.env["BENCH_RATE"] ?? "1000");
const fixedRateSeconds = Number(process.env["BENCH_RATE_S"] ?? "4");
const workers = Number(process.env["BENCH_WORKERS"] ?? "2");
const only = process.env["BENCH_ONLY"];
const REQUEST_BODY = JSON.stringify({ text: "what a great movie, I love it" });
/** Every request carries it, so the routers with and without the key check parse, remove and
 * forward the same bytes; the one with the check also looks it up (a live inference key). */
const API_KEY = "mpk_bench0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";
const AUTHORIZATION = `Api-Key ${API_KEY}`;

/** A minimal model replica: the cheapest possible upstream makes proxy overhead most visible. */
const UPSTREAM_SCRIPT = `
const http = require("node:http");
const body = JSON.stringify({ label: "positive", score: 0.9, version: "v1" });
const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 30000;
server.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
`;

interface Target {
  name: string;
  url: string;
  /** process group of the proxy (every router process or nginx worker), for its CPU time */
  processGroup?: number;
}

interface Measurement {
  target: string;
  requestsPerSecond: number;
  /** proxy CPU (user + system, all its processes) per request during the saturation run */
  cpuMicrosecondsPerRequest: number;
  wrkErrors: string;
  p50Ms: number;
  p99Ms: number;
  rateErrors: number;
}

const children: ChildProcess[] = [];
process.on("exit", () => {
  for (const child of children) if (child.pid !== undefined) try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ }
});

function start(command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"], detached: true });
  children.push(child);
  return child;
}

async function waitForPort(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const response = await fetch(url, { method: "POST", body: REQUEST_BODY, headers: { authorization: AUTHORIZATION } });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within 10 s`);
    await sleep(50);
  }
}

async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function nginxConfig(dir: string, listenPort: number, upstreamPort: number, workerProcesses: number): string {
  return `
daemon off;
master_process on;
user root;
worker_processes ${workerProcesses};
pid ${dir}/nginx-${listenPort}.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  # The same 90/10 split the router does (current/candidate), both on the one replica.
  upstream backend {
    server 127.0.0.1:${upstreamPort} weight=9;
    server localhost:${upstreamPort} weight=1;
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${listenPort};
    keepalive_timeout 30s;
    keepalive_requests 1000000;
    location = /models/bench/production/predict {
      proxy_pass http://backend/predict;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # Stream like the router does, instead of spooling bodies.
      proxy_request_buffering off;
      proxy_buffering off;
      add_header x-modelplane-deployment-id $upstream_addr;
    }
  }
}
`;
}

/** CPU seconds (user + system) used so far by every process of a process group (Linux /proc).
 * Unlike throughput, this barely depends on what else the machine is running. */
function processGroupCpuSeconds(pgid: number): number {
  const ticksPerSecond = 100; // USER_HZ on Linux
  let ticks = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // Fields after "(comm)": state ppid pgrp … utime is the 14th field overall, stime the 15th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) !== pgid) continue;
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / ticksPerSecond;
}

function wrk(url: string, seconds: number, luaScript: string): { requestsPerSecond: number; requests: number; errors: string } {
  const result = spawnSync("wrk", ["-t", "2", "-c", "32", "-d", `${seconds}s`, "-s", luaScript, url], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`wrk failed: ${result.stderr}`);
  const match = /Requests\/sec:\s+([\d.]+)/.exec(result.stdout);
  const total = /(\d+) requests in/.exec(result.stdout);
  const errors = [/Socket errors:.*/.exec(result.stdout)?.[0], /Non-2xx or 3xx responses: \d+/.exec(result.stdout)?.[0]]
    .filter((line) => line !== undefined)
    .join("; ");
  return { requestsPerSecond: match ? Number(match[1]) : Number.NaN, requests: total ? Number(total[1]) : Number.NaN, errors };
}

async function measure(target: Target, luaScript: string): Promise<Measurement> {
  process.stderr.write(`  measuring ${target.name} …\n`);
  wrk(target.url, 1, luaScript); // warm-up: JIT, connection pools
  const cpuBefore = target.processGroup === undefined ? 0 : processGroupCpuSeconds(target.processGroup);
  const saturation = wrk(target.url, durationSeconds, luaScript);
  const cpuSeconds = target.processGroup === undefined ? Number.NaN : processGroupCpuSeconds(target.processGroup) - cpuBefore;
  await sleep(500);
  const load = { url: target.url, requestsPerSecond: fixedRate, body: REQUEST_BODY, headers: { "content-type": "application/json", authorization: AUTHORIZATION } };
  await fixedRateLatencies({ ...load, seconds: 1 }); // warm-up of this client's own code paths
  const latency = await fixedRateLatencies({ ...load, seconds: fixedRateSeconds });
  return {
    target: target.name,
    requestsPerSecond: saturation.requestsPerSecond,
    cpuMicrosecondsPerRequest: (cpuSeconds / saturation.requests) * 1e6,
    wrkErrors: saturation.errors,
    p50Ms: latency.p50Ms,
    p99Ms: latency.p99Ms,
    rateErrors: latency.failed,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "modelplane-bench-"));
  const luaScript = join(dir, "post.lua");
  writeFileSync(
    luaScript,
    `wrk.method = "POST"\nwrk.body = '${REQUEST_BODY}'\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "${AUTHORIZATION}"\n`,
  );
  const routerScript = join(dirname(fileURLToPath(import.meta.url)), "router-server.js");
  try {
    const upstreamPort = await freePort();
    start(process.execPath, ["-e", UPSTREAM_SCRIPT], { PORT: String(upstreamPort) });
    const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;
    await waitForPort(`${upstreamUrl}/predict`);

    const targets: Target[] = [{ name: "direct to replica", url: `${upstreamUrl}/predict` }];
    const routers = [
      { name: "modelplane router, 1 process", workers: 1, fastPath: true, keyCheck: true, metrics: true },
      // the same without the key check (only the bench turns it off): what the check costs
      { name: "modelplane router, 1 process, no key check", workers: 1, fastPath: true, keyCheck: false, metrics: true },
      // the same without the request metrics (only the bench turns them off): what counting costs
      { name: "modelplane router, 1 process, no metrics", workers: 1, fastPath: true, keyCheck: true, metrics: false },
      { name: `modelplane router, ${workers} processes`, workers, fastPath: true, keyCheck: true, metrics: true },
      // What large and chunked bodies take (and all requests took before the fast path).
      { name: "modelplane router, node:http path only", workers: 1, fastPath: false, keyCheck: true, metrics: true },
      { name: "modelplane router, node:http path only, no metrics", workers: 1, fastPath: false, keyCheck: true, metrics: false },
    ].filter((router) => {
      if (only === "keys") return router.workers === 1 && router.fastPath && router.metrics;
      if (only === "metrics") return router.workers === 1 && router.keyCheck;
      return true;
    });
    for (const router of routers) {
      const port = await freePort();
      const child = start(process.execPath, [routerScript], {
        UPSTREAM_URL: upstreamUrl,
        PORT: String(port),
        ROUTER_WORKERS: String(router.workers),
        ROUTER_FAST_PATH: router.fastPath ? "1" : "0",
        ...(router.keyCheck ? { ROUTER_API_KEY: API_KEY } : {}),
        ROUTER_METRICS: router.metrics ? "1" : "0",
      });
      targets.push({
        name: router.name,
        url: `http://127.0.0.1:${port}/models/bench/production/predict`,
        ...(child.pid === undefined ? {} : { processGroup: child.pid }),
      });
    }
    for (const nginxWorkers of only === "keys" || only === "metrics" ? [] : [1, workers]) {
      const port = await freePort();
      const config = join(dir, `nginx-${nginxWorkers}.conf`);
      writeFileSync(config, nginxConfig(dir, port, upstreamPort, nginxWorkers));
      const nginx = start("nginx", ["-c", config, "-p", dir]);
      targets.push({
        name: `nginx, ${nginxWorkers} worker${nginxWorkers > 1 ? "s" : ""}`,
        url: `http://127.0.0.1:${port}/models/bench/production/predict`,
        ...(nginx.pid === undefined ? {} : { processGroup: nginx.pid }),
      });
    }
    for (const target of targets) await waitForPort(target.url);

    const results: Measurement[][] = [];
    for (let round = 0; round < rounds; round++) {
      process.stderr.write(`round ${round + 1} of ${rounds}\n`);
      // Every other round in reverse order, so that a pair compared (with/without a feature) is
      // not always measured in the same order as the machine's background load drifts.
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      const measured = new Map<Target, Measurement>();
      for (const target of order) measured.set(target, await measure(target, luaScript));
      results.push(targets.map((target) => measured.get(target)!));
    }
    report(results);
  } finally {
    for (const child of children) if (child.pid !== undefined) try { process.kill(-child.pid, "SIGTERM"); } catch { /* gone */ }
    await sleep(200);
    rmSync(dir, { recursive: true, force: true });
  }
}

function cpuCell(microseconds: number): string {
  return Number.isNaN(microseconds) ? "—" : `${microseconds.toFixed(0)} µs`;
}

function signedMs(ms: number): string {
  return `${ms >= 0 ? "+" : "−"}${Math.abs(ms).toFixed(2)} ms`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Medians over rounds; ratios are taken within each round, then the median of those. */
function report(rounds: Measurement[][]): void {
  const targetNames = rounds[0]!.map((measurement) => measurement.target);
  const column = (index: number, value: (measurement: Measurement) => number) => rounds.map((round) => value(round[index]!));
  const lines = [
    `| target | req/s at saturation (wrk -t2 -c32 -d${durationSeconds}s), median [all rounds] | proxy CPU per request | p50 at ${fixedRate} req/s | p99 at ${fixedRate} req/s | errors |`,
    "|---|---|---|---|---|---|",
  ];
  targetNames.forEach((name, index) => {
    const throughput = column(index, (m) => m.requestsPerSecond);
    const errors = rounds.flatMap((round) => [round[index]!.wrkErrors, round[index]!.rateErrors > 0 ? `${round[index]!.rateErrors} at fixed rate` : ""]).filter(Boolean);
    lines.push(
      `| ${name} | ${median(throughput).toFixed(0)} [${throughput.map((value) => value.toFixed(0)).join(", ")}] | ${cpuCell(median(column(index, (m) => m.cpuMicrosecondsPerRequest)))} | ${median(column(index, (m) => m.p50Ms)).toFixed(2)} ms | ${median(column(index, (m) => m.p99Ms)).toFixed(2)} ms | ${errors.join("; ") || "none"} |`,
    );
  });
  lines.push("");
  const indexOf = (prefix: string) => targetNames.flatMap((name, index) => (name.startsWith(prefix) ? [index] : []));
  const ratio = (a: number, b: number) => median(rounds.map((round) => round[a]!.requestsPerSecond / round[b]!.requestsPerSecond));
  const delta = (a: number, b: number, value: (m: Measurement) => number) => median(rounds.map((round) => value(round[a]!) - value(round[b]!)));
  for (const router of indexOf("modelplane")) {
    lines.push(`- ${targetNames[router]}: ${ratio(router, 0).toFixed(2)}× direct throughput; p50 ${signedMs(delta(router, 0, (m) => m.p50Ms))}, p99 ${signedMs(delta(router, 0, (m) => m.p99Ms))} vs direct`);
    for (const nginx of indexOf("nginx")) {
      lines.push(`  - vs ${targetNames[nginx]}: ${ratio(router, nginx).toFixed(2)}× throughput; p50 ${signedMs(delta(router, nginx, (m) => m.p50Ms))}, p99 ${signedMs(delta(router, nginx, (m) => m.p99Ms))}`);
    }
  }
  const cpu = (index: number) => median(rounds.map((round) => round[index]!.cpuMicrosecondsPerRequest));
  /** one feature on against off, in the same rounds: throughput ratio, CPU per request, latency */
  const compare = (what: string, on: string, off: string) => {
    const with_ = targetNames.indexOf(on);
    const without = targetNames.indexOf(off);
    if (with_ === -1 || without === -1) return;
    const cpuRatios = rounds.map((round) => round[with_]!.cpuMicrosecondsPerRequest / round[without]!.cpuMicrosecondsPerRequest);
    lines.push(
      `- ${what}: ${ratio(with_, without).toFixed(3)}× the throughput without (per-round ratios ${rounds.map((round) => (round[with_]!.requestsPerSecond / round[without]!.requestsPerSecond).toFixed(3)).join(", ")}); CPU ${cpuCell(cpu(with_))} vs ${cpuCell(cpu(without))} per request (per-round ratios ${cpuRatios.map((value) => value.toFixed(3)).join(", ")}, median ${median(cpuRatios).toFixed(3)}); p50 ${signedMs(delta(with_, without, (m) => m.p50Ms))}, p99 ${signedMs(delta(with_, without, (m) => m.p99Ms))}`,
    );
  };
  compare("key check on the fast path", "modelplane router, 1 process", "modelplane router, 1 process, no key check");
  compare("request metrics on the fast path", "modelplane router, 1 process", "modelplane router, 1 process, no metrics");
  compare("request metrics on the node:http path", "modelplane router, node:http path only", "modelplane router, node:http path only, no metrics");
  console.log(lines.join("\n"));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
