/**
 * What a shadow costs the primary (issue 17): the router in front of a primary replica answering
 * in PRIMARY_MS, at a fixed request rate (open loop), measured side by side in one run with
 *   off        no shadow configured
 *   slow       100 % mirrored to a shadow 10× slower than the primary
 *   refused    100 % mirrored to a shadow that is down (connection refused)
 *   hung       100 % mirrored to a shadow that accepts and never answers (copies time out: 2 s)
 * Each round measures every variant once, each on a fresh router process, in an order rotated by
 * one each round (every variant takes every position), so the variants share the machine's
 * background load; a p99 is compared with `off`'s of the same round. Per variant:
 *   - primary p50 and p99 (medians over rounds), the median over rounds of the p99's change against
 *     `off` in that round, and each round's p99: the spread a reader needs (on a shared machine it
 *     is wider than the effect);
 *   - the router's event-loop delay p99 and max in each round: a stall of the router's own loop
 *     delays every request behind it, a loaded machine stalls the whole process;
 *   - the router's CPU time per primary request: what mirroring costs, steadier than latency on a
 *     shared machine;
 *   - failed primary requests, copies compared / shed / shadow_error / backed_off (sums over
 *     rounds), router RSS after each round (median and max).
 *
 *   npx tsc -p bench/shadow/tsconfig.json && node dist/bench/shadow/run.js
 *
 * Knobs (env): BENCH_ROUNDS=5, BENCH_RATE_S=10 (seconds measured per variant and round, after 1 s
 * of warm-up), BENCH_RATE=500 (requests/s), PRIMARY_MS=2, BENCH_VARIANTS=off,slow,refused,hung
 * (off is always measured), BENCH_SHADOW_BACKOFF=off (the router never backs off a shadow: what
 * the back-off saves, in a run set against one without it). The defaults take ≈ 5 rounds × 4 variants × 13 s ≈ 4.5 min; a smoke
 * run: BENCH_ROUNDS=2 BENCH_RATE_S=4 BENCH_RATE=200.
 */
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { fixedRateLatencies } from "../support/fixed-rate.js";
import { freePort, median, replica, REQUEST_BODY, startNode, stopChild, waitFor200 } from "./bench-processes.js";

const rounds = Number(process.env["BENCH_ROUNDS"] ?? "5");
const rate = Number(process.env["BENCH_RATE"] ?? "500");
const rateSeconds = Number(process.env["BENCH_RATE_S"] ?? "10");
const primaryMs = Number(process.env["PRIMARY_MS"] ?? "2");

type Variant = "off" | "slow" | "refused" | "hung";
const ALL_VARIANTS: readonly Variant[] = ["off", "slow", "refused", "hung"];
/** BENCH_VARIANTS=off,hung: only those (off is always measured: the others are compared with it) */
const VARIANTS: readonly Variant[] = ((): Variant[] => {
  const asked = process.env["BENCH_VARIANTS"]?.split(",").map((name) => name.trim());
  if (asked === undefined) return [...ALL_VARIANTS];
  const unknown = asked.filter((name) => !ALL_VARIANTS.includes(name as Variant));
  if (unknown.length > 0) throw new Error(`BENCH_VARIANTS: unknown ${unknown.join(", ")} (known: ${ALL_VARIANTS.join(", ")})`);
  return ALL_VARIANTS.filter((variant) => variant === "off" || asked.includes(variant));
})();

/** What bench/shadow/shadow-router.ts answers on GET /stats. */
interface RouterStats {
  counts: Record<string, number>;
  rssBytes: number;
  /** the router's event-loop delay and CPU time (user + system) during the measured run (since POST /stats/reset) */
  loopDelayMs: { p99: number; max: number };
  cpuMicroseconds: number;
}

interface Measurement {
  variant: Variant;
  p50Ms: number;
  p99Ms: number;
  failed: number;
  counts: Record<string, number>;
  rssMiB: number;
  loopDelayMs: { p99: number; max: number };
  /** router CPU per primary request during the measured run */
  cpuMicrosecondsPerRequest: number;
}

async function measure(variant: Variant, primaryUrl: string, shadows: Record<Exclude<Variant, "off">, string>): Promise<Measurement> {
  const port = await freePort();
  const router = startNode([join(dirname(fileURLToPath(import.meta.url)), "shadow-router.js")], {
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
    await (await fetch(`http://127.0.0.1:${port}/stats/reset`, { method: "POST" })).arrayBuffer();
    const latency = await fixedRateLatencies({ ...load, seconds: rateSeconds });
    // read at once: the copies still ending after the run are not the run's
    const during = (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as RouterStats;
    await sleep(500);
    const stats = (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as RouterStats;
    return {
      variant,
      ...latency,
      counts: stats.counts,
      rssMiB: stats.rssBytes / 2 ** 20,
      loopDelayMs: during.loopDelayMs,
      cpuMicrosecondsPerRequest: during.cpuMicroseconds / (rate * rateSeconds),
    };
  } finally {
    stopChild(router);
  }
}

/** The variants in the order of round `round`: rotated by one each round. */
function orderOf(round: number): Variant[] {
  const shift = round % VARIANTS.length;
  return [...VARIANTS.slice(shift), ...VARIANTS.slice(0, shift)];
}

function signed(ms: number): string {
  return `${ms >= 0 ? "+" : "−"}${Math.abs(ms).toFixed(2)}`;
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
    const measured: Measurement[] = [];
    for (const variant of orderOf(round)) measured.push(await measure(variant, primaryUrl, shadows));
    results.push(measured);
    process.stderr.write(`round ${round + 1}/${rounds}: ${measured.map((m) => `${m.variant} p99 ${m.p99Ms.toFixed(2)} ms`).join(", ")}\n`);
  }
  const inRound = (round: Measurement[], variant: Variant) => round.find((m) => m.variant === variant)!;
  const byVariant = (variant: Variant) => results.map((round) => inRound(round, variant));
  console.log(
    `primary ${primaryMs} ms, ${rate} requests/s for ${rateSeconds} s per variant and round, ${rounds} rounds; shadow: 100 %, max_concurrency 8, max_queue 64, timeout 2 s\n`,
  );
  console.log(
    "| variant | p50 ms | p99 ms | Δp99 vs off (median of per-round Δ) | p99 per round (ms) | router loop delay p99 / max per round (ms) | router CPU µs per request (median) [per round] | failed primary | compared | shed | shadow_error | backed_off | router RSS MiB (median, max) |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const variant of VARIANTS) {
    const ms = byVariant(variant);
    const deltas = results.map((round) => inRound(round, variant).p99Ms - inRound(round, "off").p99Ms);
    const sum = (key: string) => ms.reduce((total, m) => total + (m.counts[key] ?? 0), 0);
    const rss = ms.map((m) => m.rssMiB);
    console.log(
      [
        variant,
        median(ms.map((m) => m.p50Ms)).toFixed(2),
        median(ms.map((m) => m.p99Ms)).toFixed(2),
        variant === "off" ? "—" : `${signed(median(deltas))} [${deltas.map(signed).join(", ")}]`,
        ms.map((m) => m.p99Ms.toFixed(2)).join(", "),
        ms.map((m) => `${m.loopDelayMs.p99.toFixed(1)}/${m.loopDelayMs.max.toFixed(1)}`).join(", "),
        `${median(ms.map((m) => m.cpuMicrosecondsPerRequest)).toFixed(0)} [${ms.map((m) => m.cpuMicrosecondsPerRequest.toFixed(0)).join(", ")}]`,
        ms.reduce((total, m) => total + m.failed, 0),
        sum("agreed") + sum("disagreed"),
        sum("shed"),
        sum("shadow_error"),
        sum("backed_off"),
        `${median(rss).toFixed(0)}, ${Math.max(...rss).toFixed(0)}`,
      ]
        .map(String)
        .reduce((line, cell) => `${line} ${cell} |`, "|"),
    );
  }
}

await main();
process.exit(0);
