/**
 * What a replica set's requests looked like over a window of time, from two snapshots of the
 * router's counters — the measurement a promotion analysis needs (issue 16: success rate and
 * latency quantiles of the candidate's set, absolute or against the previous deployment's over the
 * same window) without a Prometheus server. Pure arithmetic over counters: take a snapshot at the
 * window's start, another at its end, subtract.
 */
import type { LatencyHistogram } from "./latency-histogram.js";
import { CLIENT_CLOSED_REQUEST, type RequestMetrics } from "./request-metrics.js";

/** A set's counters at one instant, summed over its rollout phases. */
export interface SetSnapshot {
  /** status code → requests */
  statusCounts: ReadonlyMap<number, number>;
  /** per-bucket (not cumulative) end-to-end counts, the last for +Inf; `bounds` as the histogram's */
  endToEnd: { bounds: readonly number[]; counts: readonly number[]; sum: number; count: number };
}

export function snapshotSet(metrics: RequestMetrics, replicaSetId: string): SetSnapshot {
  const statusCounts = new Map<number, number>();
  let histogram: { bounds: readonly number[]; counts: number[]; sum: number; count: number } | undefined;
  for (const series of metrics.seriesOfSet(replicaSetId)) {
    for (const [status, count] of series.statusCounts) statusCounts.set(status, (statusCounts.get(status) ?? 0) + count);
    histogram = addHistogram(histogram, series.endToEnd);
  }
  return { statusCounts, endToEnd: histogram ?? { bounds: [], counts: [], sum: 0, count: 0 } };
}

function addHistogram(into: { bounds: readonly number[]; counts: number[]; sum: number; count: number } | undefined, histogram: LatencyHistogram) {
  const target = into ?? { bounds: histogram.bounds, counts: new Array<number>(histogram.counts.length).fill(0), sum: 0, count: 0 };
  histogram.counts.forEach((value, index) => (target.counts[index]! += value));
  target.sum += histogram.sum;
  target.count += histogram.count;
  return target;
}

export interface RequestWindow {
  /** requests that ended in the window */
  requests: number;
  /** of those, answered 5xx (the router's own 502/503/504 included) */
  serverErrors: number;
  /** whose client left before any answer (499): neither a success nor a failure of the deployment */
  clientClosed: number;
  /** non-5xx share of the requests answered (client-closed ones left out); undefined with none */
  successRate: number | undefined;
  /** the end-to-end latency quantile `q` (0–1) in seconds, interpolated within its bucket as
   * Prometheus' histogram_quantile does; undefined with no request */
  latencyQuantile(q: number): number | undefined;
}

/** The window between two snapshots of the same set (`before` taken first). */
export function requestWindow(before: SetSnapshot, after: SetSnapshot): RequestWindow {
  let requests = 0;
  let serverErrors = 0;
  let clientClosed = 0;
  for (const [status, count] of after.statusCounts) {
    const delta = count - (before.statusCounts.get(status) ?? 0);
    requests += delta;
    if (status >= 500 && status <= 599) serverErrors += delta;
    if (status === CLIENT_CLOSED_REQUEST) clientClosed += delta;
  }
  const answered = requests - clientClosed;
  const { bounds } = after.endToEnd;
  const counts = after.endToEnd.counts.map((value, index) => value - (before.endToEnd.counts[index] ?? 0));
  return {
    requests,
    serverErrors,
    clientClosed,
    successRate: answered > 0 ? (answered - serverErrors) / answered : undefined,
    latencyQuantile: (q) => bucketQuantile(bounds, counts, q),
  };
}

/**
 * The q-quantile of per-bucket counts (the last bucket is +Inf), as Prometheus' histogram_quantile:
 * find the bucket holding the rank q·total, interpolate linearly between its bounds (the first
 * bucket from 0); a rank in +Inf answers the highest finite bound. Worked example: bounds
 * [0.1, 0.5], counts [6, 3, 1] (10 requests), q = 0.5 → rank 5 in the first bucket → 0.1 · 5/6 ≈
 * 0.083 s; q = 0.9 → rank 9, the second bucket's last → 0.5 s; q = 0.99 → rank 9.9 in +Inf → 0.5 s.
 */
export function bucketQuantile(bounds: readonly number[], counts: readonly number[], q: number): number | undefined {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be within 0..1, got ${q}`);
  const total = counts.reduce((sum, value) => sum + value, 0);
  if (total === 0) return undefined;
  const rank = q * total;
  let below = 0;
  for (let index = 0; index < counts.length; index++) {
    const inBucket = counts[index]!;
    if (below + inBucket >= rank && inBucket > 0) {
      if (index >= bounds.length) return bounds[bounds.length - 1];
      const lower = index === 0 ? 0 : bounds[index - 1]!;
      return lower + (bounds[index]! - lower) * ((rank - below) / inBucket);
    }
    below += inBucket;
  }
  return bounds[bounds.length - 1];
}
