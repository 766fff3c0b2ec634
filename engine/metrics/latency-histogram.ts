/**
 * A fixed-bucket histogram cheap enough for the router's fast path: one observation is a short
 * scan of the bounds and three stores into preallocated memory — no label hashing, no allocation
 * (prom-client's `observe(labels, value)` hashes its labels on every call). Counts are kept per
 * bucket, not cumulative; the Prometheus export adds them up at scrape time.
 */

/** Seconds. From 5 ms (a replica on the same host answering a small request) to 5 min (the
 * router's default replica timeout); the upper bounds cover model calls of seconds to minutes. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export class LatencyHistogram {
  /** per-bucket counts; the last slot is +Inf */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[] = LATENCY_BUCKETS_SECONDS) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(seconds: number): void {
    const { bounds } = this;
    let index = 0;
    while (index < bounds.length && seconds > bounds[index]!) index++;
    this.counts[index]! += 1;
    this.sum += seconds;
    this.count += 1;
  }

  /** Cumulative counts per upper bound, the last for +Inf (equal to `count`). */
  cumulative(): number[] {
    const result: number[] = [];
    let running = 0;
    for (const value of this.counts) {
      running += value;
      result.push(running);
    }
    return result;
  }
}
