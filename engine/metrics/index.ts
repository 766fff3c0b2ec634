export { EngineMetrics, type DataPlaneSources } from "./engine-metrics.js";
export { createMetricsEndpoint, METRICS_PATH } from "./metrics-endpoint.js";
export { RequestMetrics, RequestSeries, RequestTiming, CLIENT_CLOSED_REQUEST, type RolloutPhase, type RoutedSet } from "./request-metrics.js";
export { timedSql, storeOperationOf, type StoreTiming, type StoreOperation } from "./timed-sql.js";
export { LatencyHistogram, LATENCY_BUCKETS_SECONDS } from "./latency-histogram.js";
export { snapshotSet, requestWindow, bucketQuantile, type SetSnapshot, type RequestWindow } from "./request-window.js";
