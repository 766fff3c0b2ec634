import { describe, expect, it } from "vitest";
import { LatencyHistogram } from "../../../engine/metrics/latency-histogram.js";
import { CLIENT_CLOSED_REQUEST, RequestMetrics } from "../../../engine/metrics/request-metrics.js";

describe("LatencyHistogram", () => {
  it("puts a value in the first bucket whose bound is ≥ it (Prometheus' le), above the last in +Inf; cumulative adds up", () => {
    const histogram = new LatencyHistogram([0.01, 0.1, 1]);
    for (const seconds of [0.001, 0.01, 0.0100001, 0.1, 0.5, 1, 7]) histogram.observe(seconds);
    expect([...histogram.counts]).toEqual([2, 2, 2, 1]);
    expect(histogram.cumulative()).toEqual([2, 4, 6, 7]);
    expect(histogram.count).toBe(7);
    expect(histogram.sum).toBeCloseTo(8.6210001, 9);
  });
});

describe("RequestMetrics", () => {
  const route = { modelId: "mdl_a", deploymentId: "dep_1", replicaSetId: "dep_1.production", environment: "production", promoting: false };

  it("one series per replica set and rollout phase: stable, promoting, and '' for a deployment's own set", () => {
    const metrics = new RequestMetrics();
    const stable = metrics.seriesFor(route);
    expect(metrics.seriesFor({ ...route })).toBe(stable);
    const promoting = metrics.seriesFor({ ...route, promoting: true });
    const own = metrics.seriesFor({ ...route, replicaSetId: "dep_1", environment: null });
    expect([stable.rolloutPhase, promoting.rolloutPhase, own.rolloutPhase]).toEqual(["stable", "promoting", ""]);
    expect([stable.environment, own.environment]).toEqual(["production", ""]);
    expect([...metrics.series()]).toHaveLength(3);
  });

  it("records status, end-to-end and time to first byte; a request whose client left first (499) has no first byte", () => {
    const series = new RequestMetrics().seriesFor(route);
    series.record(200, 1000, 1004, 1010);
    series.record(502, 1000, undefined, 1002);
    series.record(CLIENT_CLOSED_REQUEST, 1000, undefined, 1500);
    expect(Object.fromEntries(series.statusCounts)).toEqual({ 200: 1, 502: 1, 499: 1 });
    expect(series.endToEnd.count).toBe(3);
    expect(series.endToEnd.sum).toBeCloseTo(0.01 + 0.002 + 0.5, 9);
    expect(series.timeToFirstByte.count).toBe(2);
    expect(series.timeToFirstByte.sum).toBeCloseTo(0.004 + 0.002, 9);
  });

  it("prune drops the series of sets that no longer exist and keeps the others", () => {
    const metrics = new RequestMetrics();
    metrics.seriesFor(route);
    metrics.seriesFor({ ...route, promoting: true });
    metrics.seriesFor({ ...route, deploymentId: "dep_2", replicaSetId: "dep_2.production" });
    metrics.prune((series) => series.deploymentId !== "dep_1");
    expect([...metrics.series()].map((series) => series.replicaSetId)).toEqual(["dep_2.production"]);
  });
});
