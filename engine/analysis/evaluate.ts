/**
 * Judging one metric over one window: pass, fail or inconclusive, with a message that names the
 * metric, the measured value and the threshold. No data is never a pass: a window with fewer than
 * `min_requests` requests (on the candidate, or on the previous deployment for a relative
 * threshold) or an empty query is inconclusive.
 */
import {
  analysisMetricName,
  type AnalysisMetric,
  type AnalysisMetricResult,
  type LatencyMetric,
  type PrometheusMetric,
  type ShadowAgreementMetric,
  type SuccessRateMetric,
} from "../../sdk/index.js";
import { formatMeasured } from "./format.js";
import type { AnalysisMeasurement, AnalysisSubjects, WindowStats } from "./types.js";

function result(name: string, verdict: AnalysisMetricResult["verdict"], value: number | null, message: string): AnalysisMetricResult {
  return { name, verdict, value, message };
}

function candidateNote(subjects: AnalysisSubjects, window: WindowStats): string {
  return `candidate ${subjects.candidate}, ${window.requests} requests`;
}

/** Inconclusive when a window has too few requests to judge; null when it has enough. */
function tooFew(name: string, who: string, window: WindowStats, minRequests: number): AnalysisMetricResult | null {
  if (window.requests >= minRequests) return null;
  return result(name, "inconclusive", null, `${name} inconclusive: ${who} had ${window.requests} requests, fewer than min_requests ${minRequests}`);
}

/**
 * Example: min 0.95, candidate 412 requests at 0.7112 → fail "success_rate 0.7112 < 0.95
 * (candidate deployment-3, 412 requests)". max_drop 0.02 with previous at 0.999 → the bound is
 * 0.979.
 */
export function evaluateSuccessRate(metric: SuccessRateMetric, measurement: AnalysisMeasurement, subjects: AnalysisSubjects): AnalysisMetricResult {
  const name = analysisMetricName(metric);
  const candidate = measurement.candidate;
  const few = tooFew(name, `candidate ${subjects.candidate}`, candidate, metric.min_requests);
  if (few !== null) return few;
  const rate = candidate.successRate;
  if (rate === undefined) return result(name, "inconclusive", null, `${name} inconclusive: no answered request (candidate ${subjects.candidate})`);
  let bound: number;
  let boundText: string;
  let previousNote = "";
  if (metric.min !== undefined) {
    bound = metric.min;
    boundText = formatMeasured(bound);
  } else {
    const maxDrop = metric.max_drop ?? 0;
    const previous = measurement.previous;
    if (previous === null) {
      return result(name, "inconclusive", rate, `${name} inconclusive: max_drop compares with the previous deployment and there is none`);
    }
    const previousFew = tooFew(name, `previous ${subjects.previous ?? "deployment"}`, previous, metric.min_requests);
    if (previousFew !== null) return { ...previousFew, value: rate };
    const previousRate = previous.successRate;
    if (previousRate === undefined) return result(name, "inconclusive", rate, `${name} inconclusive: the previous deployment answered no request`);
    bound = previousRate - maxDrop;
    boundText = `${formatMeasured(previousRate)} − ${formatMeasured(maxDrop)} = ${formatMeasured(bound)}`;
    previousNote = `; previous ${subjects.previous ?? "deployment"} ${formatMeasured(previousRate)}, ${previous.requests} requests`;
  }
  const passed = rate >= bound;
  return result(
    name,
    passed ? "pass" : "fail",
    rate,
    `${name} ${formatMeasured(rate)} ${passed ? "≥" : "<"} ${boundText} (${candidateNote(subjects, candidate)}${previousNote})`,
  );
}

/**
 * Example: quantile 0.99, max_seconds 0.5, candidate p99 1.2 s → fail "latency_p99 1.2 s > 0.5 s
 * (…)". max_increase_ratio 1.5 with previous p50 0.2 s → the bound is 0.3 s.
 */
export function evaluateLatency(metric: LatencyMetric, measurement: AnalysisMeasurement, subjects: AnalysisSubjects): AnalysisMetricResult {
  const name = analysisMetricName(metric);
  const candidate = measurement.candidate;
  const few = tooFew(name, `candidate ${subjects.candidate}`, candidate, metric.min_requests);
  if (few !== null) return few;
  const value = candidate.latencyQuantile(metric.quantile);
  if (value === undefined) return result(name, "inconclusive", null, `${name} inconclusive: no latency measured (candidate ${subjects.candidate})`);
  let bound: number;
  let boundText: string;
  let previousNote = "";
  if (metric.max_seconds !== undefined) {
    bound = metric.max_seconds;
    boundText = `${formatMeasured(bound)} s`;
  } else {
    const ratio = metric.max_increase_ratio ?? 1;
    const previous = measurement.previous;
    if (previous === null) {
      return result(name, "inconclusive", value, `${name} inconclusive: max_increase_ratio compares with the previous deployment and there is none`);
    }
    const previousFew = tooFew(name, `previous ${subjects.previous ?? "deployment"}`, previous, metric.min_requests);
    if (previousFew !== null) return { ...previousFew, value };
    const previousValue = previous.latencyQuantile(metric.quantile);
    if (previousValue === undefined) return result(name, "inconclusive", value, `${name} inconclusive: no latency measured on the previous deployment`);
    bound = previousValue * ratio;
    boundText = `${formatMeasured(ratio)} × ${formatMeasured(previousValue)} s = ${formatMeasured(bound)} s`;
    previousNote = `; previous ${subjects.previous ?? "deployment"} ${formatMeasured(previousValue)} s, ${previous.requests} requests`;
  }
  const passed = value <= bound;
  return result(
    name,
    passed ? "pass" : "fail",
    value,
    `${name} ${formatMeasured(value)} s ${passed ? "≤" : ">"} ${boundText} (${candidateNote(subjects, candidate)}${previousNote})`,
  );
}

/** Example: max 0.05, the query answers 0.2 → fail "error_ratio 0.2 > max 0.05 (prometheus)". */
export function evaluatePrometheus(metric: PrometheusMetric, measurement: AnalysisMeasurement): AnalysisMetricResult {
  const name = metric.name;
  const outcome = measurement.prometheus.get(name);
  if (outcome === undefined) return result(name, "inconclusive", null, `${name} inconclusive: the query was not run`);
  if (outcome.kind === "error") return result(name, "inconclusive", null, `${name} inconclusive: ${outcome.message}`);
  if (outcome.kind === "empty") return result(name, "inconclusive", null, `${name} inconclusive: the query returned no number`);
  const value = outcome.value;
  if (metric.min !== undefined && value < metric.min) {
    return result(name, "fail", value, `${name} ${formatMeasured(value)} < min ${formatMeasured(metric.min)} (prometheus)`);
  }
  if (metric.max !== undefined && value > metric.max) {
    return result(name, "fail", value, `${name} ${formatMeasured(value)} > max ${formatMeasured(metric.max)} (prometheus)`);
  }
  const bounds = [
    ...(metric.min !== undefined ? [`≥ min ${formatMeasured(metric.min)}`] : []),
    ...(metric.max !== undefined ? [`≤ max ${formatMeasured(metric.max)}`] : []),
  ].join(", ");
  return result(name, "pass", value, `${name} ${formatMeasured(value)} ${bounds} (prometheus)`);
}

/**
 * Example: min 0.99, 400 copies compared of which 360 agreed → fail "shadow_agreement 0.9 < 0.99
 * (candidate deployment-3, 360 of 400 mirrored requests agreed)".
 */
export function evaluateShadowAgreement(metric: ShadowAgreementMetric, measurement: AnalysisMeasurement, subjects: AnalysisSubjects): AnalysisMetricResult {
  const name = analysisMetricName(metric);
  const { agreed, compared } = measurement.shadow;
  if (compared < metric.min_comparisons) {
    return result(
      name,
      "inconclusive",
      null,
      `${name} inconclusive: ${compared} mirrored requests compared with candidate ${subjects.candidate}, fewer than min_comparisons ${metric.min_comparisons} (is the environment's shadow on the candidate?)`,
    );
  }
  const rate = agreed / compared;
  const passed = rate >= metric.min;
  return result(
    name,
    passed ? "pass" : "fail",
    rate,
    `${name} ${formatMeasured(rate)} ${passed ? "≥" : "<"} ${formatMeasured(metric.min)} (candidate ${subjects.candidate}, ${agreed} of ${compared} mirrored requests agreed)`,
  );
}

/** Every metric of an analysis over one window, in the order they are defined. */
export function evaluateMetrics(
  metrics: readonly AnalysisMetric[],
  measurement: AnalysisMeasurement,
  subjects: AnalysisSubjects,
): AnalysisMetricResult[] {
  return metrics.map((metric) => {
    switch (metric.type) {
      case "success_rate":
        return evaluateSuccessRate(metric, measurement, subjects);
      case "latency":
        return evaluateLatency(metric, measurement, subjects);
      case "prometheus":
        return evaluatePrometheus(metric, measurement);
      case "shadow_agreement":
        return evaluateShadowAgreement(metric, measurement, subjects);
    }
  });
}
