import { describe, expect, it } from "vitest";
import { EngineMetrics } from "../../../engine/metrics/engine-metrics.js";
import { RoutingTable } from "../../../engine/router/routing-table.js";
import type { ReplicaSetObservation } from "../../../engine/runtime/runtime.js";
import { parsePrometheusText, samplesOf, sumOf } from "../../support/prometheus-text.js";

describe("EngineMetrics.render", () => {
  it("writes the router's counts as a Prometheus counter and cumulative histograms, and replica gauges from the data plane", async () => {
    const metrics = new EngineMetrics();
    const table = new RoutingTable();
    table.setDeployment("mdl_a", "dep_1", { active: true, predictPath: "/predict", isDevelopment: false });
    table.setEnvironment("mdl_a", "production", { currentDeploymentId: "dep_1", candidateDeploymentId: null, percentToCandidate: 0 });
    const series = metrics.requests.seriesFor({ modelId: "mdl_a", deploymentId: "dep_1", replicaSetId: "dep_1.production", environment: "production", promoting: false });
    series.record(200, 0, 3, 4); // 4 ms
    series.record(200, 0, 10, 20); // 20 ms
    series.record(503, 0, undefined, 60_000); // 60 s
    const observation: ReplicaSetObservation = { replicaSetId: "dep_1.production", desired: 3, ready: 2, starting: 1, consecutiveFailures: 0, failing: false, replicas: [] };
    metrics.observeDataPlane({
      replicaSets: () => [{ id: "dep_1.production", owner: { modelId: "mdl_a", modelName: "sentiment", deploymentId: "dep_1", deploymentName: "v1", environment: "production" } }],
      runtime: { observe: () => observation },
      inFlightForSet: () => 5,
      autoscaler: { recommendation: () => ({ replicas: 3, demand: 4, lastHighDemandAt: 0 }) },
      table,
      sql: { query: async <Row>() => [] as Row[] },
    });
    const text = await metrics.render();
    const set = { model_id: "mdl_a", deployment_id: "dep_1", environment: "production", replica_set: "dep_1.production" };
    const labels = 'model_id="mdl_a",deployment_id="dep_1",environment="production",replica_set="dep_1.production",rollout_phase="stable"';
    expect(text).toContain(`modelplane_inference_requests_total{${labels},status_code="200"} 2`);
    expect(text).toContain(`modelplane_inference_requests_total{${labels},status_code="503"} 1`);
    expect(text).toContain("# TYPE modelplane_inference_end_to_end_response_time_seconds histogram");
    expect(text).toContain(`modelplane_inference_end_to_end_response_time_seconds_bucket{${labels},le="0.005"} 1`);
    expect(text).toContain(`modelplane_inference_end_to_end_response_time_seconds_bucket{${labels},le="0.025"} 2`);
    expect(text).toContain(`modelplane_inference_end_to_end_response_time_seconds_bucket{${labels},le="30"} 2`);
    expect(text).toContain(`modelplane_inference_end_to_end_response_time_seconds_bucket{${labels},le="60"} 3`);
    expect(text).toContain(`modelplane_inference_end_to_end_response_time_seconds_bucket{${labels},le="+Inf"} 3`);
    expect(text).toContain(`modelplane_inference_end_to_end_response_time_seconds_count{${labels}} 3`);
    const samples = parsePrometheusText(text);
    expect(sumOf(samples, "modelplane_inference_end_to_end_response_time_seconds_sum", set)).toBeCloseTo(60.024, 9);
    expect(sumOf(samples, "modelplane_inference_time_to_first_byte_seconds_count", set)).toBe(3);
    expect(sumOf(samples, "modelplane_inference_time_to_first_byte_seconds_sum", set)).toBeCloseTo(0.003 + 0.01 + 60, 9);
    const gauges = Object.fromEntries(
      ["modelplane_replicas_desired", "modelplane_replicas_ready", "modelplane_replicas_starting", "modelplane_replica_set_failing", "modelplane_inference_requests_in_flight", "modelplane_autoscaler_recommended_replicas", "modelplane_autoscaler_demand_replicas"].map(
        (name) => [name, samplesOf(samples, name, set).map((sample) => sample.value)],
      ),
    );
    expect(gauges).toEqual({
      modelplane_replicas_desired: [3],
      modelplane_replicas_ready: [2],
      modelplane_replicas_starting: [1],
      modelplane_replica_set_failing: [0],
      modelplane_inference_requests_in_flight: [5],
      modelplane_autoscaler_recommended_replicas: [3],
      modelplane_autoscaler_demand_replicas: [4],
    });
    expect(samplesOf(samples, "modelplane_replica_set_info", { ...set, model_name: "sentiment", deployment_name: "v1" }).map((s) => s.value)).toEqual([1]);

    // the deployment is deleted: its series go at the next scrape
    table.removeDeployment("mdl_a", "dep_1");
    expect(await metrics.render()).not.toContain("modelplane_inference_requests_total{");
  });

  it("a store that fails to give the promotions leaves them out and counts the failure; the rest is still served", async () => {
    const lines: string[] = [];
    const metrics = new EngineMetrics({ log: (line) => lines.push(line) });
    metrics.observeDataPlane({
      replicaSets: () => [],
      runtime: { observe: () => { throw new Error("not called"); } },
      inFlightForSet: () => 0,
      autoscaler: { recommendation: () => undefined },
      table: new RoutingTable(),
      sql: { query: async () => { throw new Error("database gone"); } },
    });
    const samples = parsePrometheusText(await metrics.render());
    expect(sumOf(samples, "modelplane_metrics_collect_errors_total", { source: "promotions" })).toBe(1);
    expect(lines).toEqual(["metrics: could not read promotions: database gone"]);
  });
});
