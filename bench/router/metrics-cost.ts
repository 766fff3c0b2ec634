/**
 * What counting one predict request costs the router, in isolation: the work the fast path adds
 * per request with metrics on — finding the request's series (one map lookup), three
 * `performance.now()` reads (routed, response head, end) and recording the status and both
 * latencies — against the same loop without it. Steadier than the throughput run on a shared
 * machine, where other load moves req/s by ±20 % between rounds.
 *
 *   npx tsc -p bench/router/tsconfig.json && node dist/bench/router/metrics-cost.js
 */
import { performance } from "node:perf_hooks";
import { RequestMetrics, type RoutedSet } from "../../engine/metrics/request-metrics.js";

const ITERATIONS = Number(process.env["BENCH_ITERATIONS"] ?? "2000000");
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? "5");

// Ten sets, as a model with a few deployments and environments has; requests spread over them.
const routes: RoutedSet[] = Array.from({ length: 10 }, (_, index) => ({
  modelId: "mdl_0123456789abcdef",
  deploymentId: `dep_${index}`,
  replicaSetId: `dep_${index}.production`,
  environment: "production",
  promoting: index % 3 === 0,
}));

function withMetrics(metrics: RequestMetrics): number {
  let sink = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const series = metrics.seriesFor(routes[i % routes.length]!);
    const startedAt = performance.now();
    const headAt = performance.now();
    series.record(i % 50 === 0 ? 500 : 200, startedAt, headAt, performance.now());
    sink += i;
  }
  return sink;
}

function withoutMetrics(): number {
  let sink = 0;
  for (let i = 0; i < ITERATIONS; i++) sink += routes[i % routes.length]!.replicaSetId.length + i;
  return sink;
}

const perCall: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const metrics = new RequestMetrics();
  let started = performance.now();
  withoutMetrics();
  const baseline = performance.now() - started;
  started = performance.now();
  withMetrics(metrics);
  const counted = performance.now() - started;
  perCall.push(((counted - baseline) * 1000) / ITERATIONS);
}
perCall.sort((a, b) => a - b);
console.log(
  `request metrics per request: median ${perCall[Math.floor(perCall.length / 2)]!.toFixed(3)} µs over ${ROUNDS} rounds of ${ITERATIONS} [${perCall.map((value) => value.toFixed(3)).join(", ")}]`,
);
