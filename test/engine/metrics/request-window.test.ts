import { describe, expect, it } from "vitest";
import { RequestMetrics } from "../../../engine/metrics/request-metrics.js";
import { bucketQuantile, requestWindow, snapshotSet } from "../../../engine/metrics/request-window.js";

describe("bucketQuantile (Prometheus' histogram_quantile over per-bucket counts)", () => {
  it.each([
    // the worked example of the function's comment: bounds [0.1, 0.5], counts [6, 3, 1]
    [0.5, 0.1 * (5 / 6)],
    [0.9, 0.5],
    [0.99, 0.5],
    [0, 0],
    [0.6, 0.1],
    [0.75, 0.1 + 0.4 * (1.5 / 3)],
  ])("q = %s → %s", (q, expected) => {
    expect(bucketQuantile([0.1, 0.5], [6, 3, 1], q)).toBeCloseTo(expected, 12);
  });

  it("no observation: undefined (no data is never a value); a quantile outside 0..1 is refused", () => {
    expect(bucketQuantile([0.1, 0.5], [0, 0, 0], 0.5)).toBeUndefined();
    expect(() => bucketQuantile([0.1], [1, 0], 1.5)).toThrow(/0\.\.1/);
  });

  it("empty buckets below the rank are skipped", () => {
    expect(bucketQuantile([0.1, 0.5, 1], [0, 0, 4, 0], 0.5)).toBeCloseTo(0.5 + 0.5 * (2 / 4), 12);
  });
});

describe("requestWindow", () => {
  const route = { modelId: "mdl_a", deploymentId: "dep_2", replicaSetId: "dep_2.production", environment: "production", promoting: true };

  it("counts only what ended between the snapshots, over every phase of the set; 5xx fail, 499 are left out of the rate", () => {
    const metrics = new RequestMetrics();
    const promoting = metrics.seriesFor(route);
    for (let i = 0; i < 5; i++) promoting.record(200, 0, 1, 2);
    const before = snapshotSet(metrics, route.replicaSetId);
    for (let i = 0; i < 6; i++) promoting.record(200, 0, 1, 3); // 3 ms
    promoting.record(503, 0, undefined, 40); // 40 ms
    promoting.record(499, 0, undefined, 900);
    const stable = metrics.seriesFor({ ...route, promoting: false });
    stable.record(500, 0, 1, 300); // 300 ms
    stable.record(404, 0, 1, 4);
    const window = requestWindow(before, snapshotSet(metrics, route.replicaSetId));
    expect({ requests: window.requests, serverErrors: window.serverErrors, clientClosed: window.clientClosed }).toEqual({ requests: 10, serverErrors: 2, clientClosed: 1 });
    expect(window.successRate).toBeCloseTo(7 / 9, 12);
    // 10 end-to-end times: 6 × 3 ms, 4 ms, 40 ms, 300 ms, 900 ms → the median in the first bucket (≤ 5 ms)
    expect(window.latencyQuantile(0.5)).toBeCloseTo(0.005 * (5 / 7), 12);
    expect(window.latencyQuantile(0.99)).toBeCloseTo(0.5 + 0.5 * (0.9 / 1), 12);
  });

  it("a window with no request has no success rate and no latency: inconclusive, never a pass", () => {
    const metrics = new RequestMetrics();
    const before = snapshotSet(metrics, route.replicaSetId);
    const window = requestWindow(before, snapshotSet(metrics, route.replicaSetId));
    expect(window.requests).toBe(0);
    expect(window.successRate).toBeUndefined();
    expect(window.latencyQuantile(0.99)).toBeUndefined();
  });
});
