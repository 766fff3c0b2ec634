/**
 * Open-loop load at a fixed rate, for the latency columns of bench/router and bench/shadow:
 * requests are sent on schedule whether or not earlier ones have answered, so a slow target cannot
 * slow the load down and hide its own latency (closed-loop clients measure their own waiting).
 * Latency is measured from the actual send to the end of the response body.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { Pool } from "undici";

export interface FixedRateLoad {
  /** the target, e.g. http://127.0.0.1:8080/models/bench/production/predict */
  url: string;
  requestsPerSecond: number;
  seconds: number;
  /** every request is a POST of this body with these headers */
  body: string;
  headers: Record<string, string>;
}

export interface FixedRateLatencies {
  p50Ms: number;
  p99Ms: number;
  /** requests answered with another status than 200, or not answered */
  failed: number;
}

/** Sends requestsPerSecond × seconds requests on schedule (64 keep-alive connections at most). */
export async function fixedRateLatencies(load: FixedRateLoad): Promise<FixedRateLatencies> {
  const { origin, pathname } = new URL(load.url);
  const pool = new Pool(origin, { connections: 64, keepAliveTimeout: 30_000 });
  const total = load.requestsPerSecond * load.seconds;
  const intervalMs = 1000 / load.requestsPerSecond;
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  let failed = 0;
  let sent = 0;
  const startedAt = performance.now();
  while (sent < total) {
    // every request due by now: a late timer sends the backlog at once, as an open loop must
    const due = Math.min(total, Math.floor((performance.now() - startedAt) / intervalMs) + 1);
    for (; sent < due; sent++) {
      const sentAt = performance.now();
      pending.push(
        pool
          .request({ path: pathname, method: "POST", body: load.body, headers: load.headers })
          .then(async ({ statusCode, body }) => {
            await body.dump();
            if (statusCode !== 200) failed++;
            latencies.push(performance.now() - sentAt);
          })
          .catch(() => {
            failed++;
          }),
      );
    }
    await sleep(1);
  }
  await Promise.all(pending);
  await pool.close();
  latencies.sort((a, b) => a - b);
  const percentile = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? Number.NaN;
  return { p50Ms: percentile(50), p99Ms: percentile(99), failed };
}
