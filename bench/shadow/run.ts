/**
 * What a shadow costs the primary (issue 17): the router in front of a primary replica answering
 * in PRIMARY_MS, at a fixed request rate (open loop), measured side by side in one run with
 *   off        no shadow configured
 *   slow       100 % mirrored to a shadow 10× slower than the primary
 *   refused    100 % mirrored to a shadow that is down (connection refused)
 *   hung       100 % mirrored to a shadow that accepts and never answers (copies time out: 2 s)
 * Each round measures every variant once, in turn (every other round in reverse), so they share the
 * background load; the table gives medians over rounds. Per variant: primary p50/p99 and the p99's
 * change against `off`, failed primary requests, copies compared / shed / failed, router RSS.
 *
 *   npx tsc -p bench/shadow/tsconfig.json && node dist/bench/shadow/run.js
 *
 * Knobs (env): BENCH_ROUNDS=3, BENCH_RATE=500 (requests/s), BENCH_RATE_S=10, PRIMARY_MS=2.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { fixedRateLatencies } from "../support/fixed-rate.js";

const rounds = Number(process.env["BENCH_ROUNDS"] ?? "3");
const rate = Number(process.env["BENCH_RATE"] ?? "500");
const rateSeconds = Number(process.env["BENCH_RATE_S"] ?? "10");
const primaryMs = Number(process.env["PRIMARY_MS"] ?? "2");
const REQUEST_BODY = JSON.stringify({ text: "what a great movie, I love it" });

/** A replica answering after DELAY_MS; HANG=1: reads the request and never answers. */
const REPLICA_SCRIPT = `
const http = require("node:http");
const body = JSON.stringify({ label: "positive", score: 0.9 });
const delay = Number(process.env.DELAY_MS);
const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    if (process.env.HANG === "1") return;
    setTimeout(() => {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    }, delay);
  });
});
server.keepAliveTimeout = 30000;
server.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
`;

type Variant = "off" | "slow" | "refused" | "hung";
const VARIANTS: readonly Variant[] = ["off", "slow", "refused", "hung"];

interface Measurement {
  variant: Variant;
  p50Ms: number;
  p99Ms: number;
  failed: number;
  counts: Record<string, number>;
  rssMiB: number;
}

const children: ChildProcess[] = [];
process.on("exit", () => {
  for (const child of children) if (child.pid !== undefined) try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ }
});

function start(command: string, args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"], detached: true });
  children.push(child);
  return child;
}

function stopChild(child: ChildProcess): void {
  if (child.pid !== undefined) try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ }
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

async function waitFor200(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const response = await fetch(url, { method: "POST", body: REQUEST_BODY, headers: { "content-type": "application/json" } });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within 10 s`);
    await sleep(50);
  }
}

async function replica(delayMs: number, hang = false): Promise<string> {
  const port = await freePort();
  start(process.execPath, ["-e", REPLICA_SCRIPT], { PORT: String(port), DELAY_MS: String(delayMs), HANG: hang ? "1" : "0" });
  const url = `http://127.0.0.1:${port}`;
  if (!hang) await waitFor200(`${url}/predict`);
  else await sleep(300);
  return url;
}

async function measure(variant: Variant, primaryUrl: string, shadows: Record<Exclude<Variant, "off">, string>): Promise<Measurement> {
  const port = await freePort();
  const router = start(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), "shadow-router.js")], {
    PORT: String(port),
    PRIMARY_URL: primaryUrl,
    SHADOW_MODE: variant === "off" ? "off" : "on",
    ...(variant === "off" ? {} : { SHADOW_URL: shadows[variant] }),
  });
  const url = `http://127.0.0.1:${port}/models/bench/production/predict`;
  try {
    await waitFor200(url);
    const load = { url, requestsPerSecond: rate, body: REQUEST_BODY, headers: { "content-type": "application/json" } };
    await fixedRateLatencies({ ...load, seconds: 1 }); // warm-up
    const latency = await fixedRateLatencies({ ...load, seconds: rateSeconds });
    await sleep(500);
    const stats = (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { counts: Record<string, number>; rssBytes: number };
    return { variant, ...latency, counts: stats.counts, rssMiB: stats.rssBytes / 2 ** 20 };
  } finally {
    stopChild(router);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function main(): Promise<void> {
  const primaryUrl = await replica(primaryMs);
  const shadows = {
    slow: await replica(primaryMs * 10),
    refused: `http://127.0.0.1:${await freePort()}`,
    hung: await replica(0, true),
  };
  const results: Measurement[][] = [];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
    const measured: Measurement[] = [];
    for (const variant of order) measured.push(await measure(variant, primaryUrl, shadows));
    results.push(measured);
    process.stderr.write(`round ${round + 1}/${rounds}: ${measured.map((m) => `${m.variant} p99 ${m.p99Ms.toFixed(2)} ms`).join(", ")}\n`);
  }
  const byVariant = (variant: Variant) => results.map((round) => round.find((m) => m.variant === variant)!);
  const offP99 = median(byVariant("off").map((m) => m.p99Ms));
  console.log(`primary ${primaryMs} ms, ${rate} requests/s for ${rateSeconds} s, ${rounds} rounds (medians); shadow: 100 %, max_concurrency 8, max_queue 64, timeout 2 s\n`);
  console.log("| variant | p50 ms | p99 ms | Δp99 vs off | failed primary | copies compared | shed | shadow_error | router RSS MiB |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const variant of VARIANTS) {
    const ms = byVariant(variant);
    const p99 = median(ms.map((m) => m.p99Ms));
    const sum = (key: string) => ms.reduce((total, m) => total + (m.counts[key] ?? 0), 0);
    console.log(
      `| ${variant} | ${median(ms.map((m) => m.p50Ms)).toFixed(2)} | ${p99.toFixed(2)} | ${variant === "off" ? "—" : `${p99 - offP99 >= 0 ? "+" : ""}${(p99 - offP99).toFixed(2)}`} | ${ms.reduce((total, m) => total + m.failed, 0)} | ${sum("agreed") + sum("disagreed")} | ${sum("shed")} | ${sum("shadow_error")} | ${median(ms.map((m) => m.rssMiB)).toFixed(0)} |`,
    );
  }
}

await main();
process.exit(0);
