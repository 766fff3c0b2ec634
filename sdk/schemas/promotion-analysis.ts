import { z } from "zod";
import { ALWAYS_CHECK } from "./common.js";

/**
 * Automated promotion analysis (issue 16; anchors: Argo Rollouts' AnalysisTemplate, Flagger's
 * canary analysis). While traffic goes to the candidate, the engine measures it every
 * `interval_seconds` and judges each metric `pass`, `fail` or `inconclusive`: too many failures
 * roll the promotion back (FAILED), too many inconclusive runs in a row pause it for a person.
 * No data is never a pass: a window with fewer than `min_requests` requests, or an empty query,
 * is inconclusive.
 */

/** A metric's name in results and messages: what a person would grep for. */
const MetricName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9_][a-z0-9_.-]*$/, "lowercase letters, digits, '_', '.', '-' only, 1-63 characters");

/** Requests the window needs before a built-in metric is judged; fewer → inconclusive. */
const MinRequests = z.int().min(1).max(1_000_000);

/**
 * Non-5xx share (0–1) of the candidate's requests in the window, measured by the engine's router
 * on the candidate's replica set for this environment (client-closed requests left out). Exactly
 * one of: `min` (absolute: fail below it) or `max_drop` (relative: fail when it is more than this
 * below the previous deployment's share over the same window).
 */
export const SuccessRateMetric = z
  .object({
    type: z.literal("success_rate"),
    name: MetricName.optional(),
    /** absolute threshold: fail when the candidate's success rate is below it, e.g. 0.99 */
    min: z.number().min(0).max(1).optional(),
    /** relative threshold: fail when candidate < previous − max_drop over the same window, e.g. 0.02 */
    max_drop: z.number().min(0).max(1).optional(),
    min_requests: MinRequests.default(20),
  })
  .strict()
  .superRefine((metric, ctx) => exactlyOneThreshold(metric, ["min", "max_drop"], ctx), ALWAYS_CHECK);
export type SuccessRateMetric = z.infer<typeof SuccessRateMetric>;

/**
 * A quantile of the candidate's end-to-end latency in seconds in the window (from the router's
 * histogram, interpolated within its bucket as Prometheus' histogram_quantile). Exactly one of:
 * `max_seconds` (absolute) or `max_increase_ratio` (relative: fail when the candidate's quantile
 * is more than this many times the previous deployment's over the same window).
 */
export const LatencyMetric = z
  .object({
    type: z.literal("latency"),
    name: MetricName.optional(),
    /** 0.5 for p50, 0.99 for p99 */
    quantile: z.number().gt(0).lt(1),
    /** absolute threshold: fail when the quantile is above it (seconds), e.g. 0.5 */
    max_seconds: z.number().gt(0).max(3600).optional(),
    /** relative threshold: fail when candidate > previous × max_increase_ratio, e.g. 1.5 */
    max_increase_ratio: z.number().min(1).max(1000).optional(),
    min_requests: MinRequests.default(20),
  })
  .strict()
  .superRefine((metric, ctx) => exactlyOneThreshold(metric, ["max_seconds", "max_increase_ratio"], ctx), ALWAYS_CHECK);
export type LatencyMetric = z.infer<typeof LatencyMetric>;

/**
 * A PromQL instant query against a Prometheus server (`url`, else the engine's `--prometheus-url`),
 * evaluated at the end of each window; its first sample is the value. Passes when the value is
 * within `min`…`max` (at least one bound); an empty result or a non-number is inconclusive; an
 * unreachable server or a query error too (it says nothing about the candidate). The query may
 * use `{{candidate_deployment_id}}`, `{{previous_deployment_id}}`, `{{environment}}`,
 * `{{model_id}}` and `{{interval}}` (e.g. `30s`), replaced before it is sent.
 */
export const PrometheusMetric = z
  .object({
    type: z.literal("prometheus"),
    name: MetricName,
    query: z.string().min(1).max(4096),
    /** the server's base URL, e.g. http://127.0.0.1:9090 */
    url: z
      .url({ protocol: /^https?$/, error: "an http(s) URL" })
      .max(2048)
      .optional(),
    /** fail when the value is below it */
    min: z.number().optional(),
    /** fail when the value is above it */
    max: z.number().optional(),
  })
  .strict()
  .superRefine((metric, ctx) => {
    if (metric.min === undefined && metric.max === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["min"],
        message: "give at least one bound: min and/or max",
        params: { rule: "min_or_max_required" },
      });
    }
    if (typeof metric.min === "number" && typeof metric.max === "number" && metric.min > metric.max) {
      ctx.addIssue({
        code: "custom",
        path: ["max"],
        message: `max (${metric.max}) must be ≥ min (${metric.min})`,
        params: { rule: "max_at_least_min" },
      });
    }
  }, ALWAYS_CHECK);
export type PrometheusMetric = z.infer<typeof PrometheusMetric>;

/**
 * Shadow agreement (issue 17): the share of the environment's mirrored requests on which the
 * candidate answered like the deployment that served them (same status and the same answer by the
 * shadow's comparison), counted by the engine's router over the window. Needs the environment's
 * shadow on the candidate (`shadow.deployment: "candidate"` or its id): without comparisons the
 * window is inconclusive, never a pass. Example: min 0.99 — "promote only if the candidate agreed
 * on ≥ 99 % of mirrored requests".
 */
export const ShadowAgreementMetric = z
  .object({
    type: z.literal("shadow_agreement"),
    name: MetricName.optional(),
    /** fail when the candidate agreed on less than this share (0–1) of the compared copies */
    min: z.number().min(0).max(1),
    /** compared copies a window needs; fewer → inconclusive */
    min_comparisons: MinRequests.default(20),
  })
  .strict();
export type ShadowAgreementMetric = z.infer<typeof ShadowAgreementMetric>;

export const AnalysisMetric = z.discriminatedUnion("type", [SuccessRateMetric, LatencyMetric, PrometheusMetric, ShadowAgreementMetric]);
export type AnalysisMetric = z.infer<typeof AnalysisMetric>;

/**
 * The rule of the built-in metrics: exactly one of an absolute and a relative threshold (neither
 * would judge nothing; both would be two metrics in one). Reported on the first field's path.
 */
function exactlyOneThreshold(metric: Record<string, unknown>, fields: readonly [string, string], ctx: z.RefinementCtx): void {
  const [absolute, relative] = fields;
  const given = fields.filter((field) => metric[field] !== undefined);
  if (given.length === 1) return;
  ctx.addIssue({
    code: "custom",
    path: [absolute],
    message:
      given.length === 0
        ? `give exactly one threshold: ${absolute} (absolute) or ${relative} (relative to the previous deployment)`
        : `give exactly one threshold: ${absolute} (absolute) or ${relative} (relative to the previous deployment), not both`,
    params: { rule: `exactly_one_of_${absolute}_${relative}` },
  });
}

export const ANALYSIS_DEFAULTS = {
  interval_seconds: 60,
  initial_delay_seconds: 0,
  failure_limit: 0,
  inconclusive_limit: 3,
  dry_run: false,
} as const;

/**
 * `promotion_settings.analysis`. Replaced whole by a patch (a list of metrics does not merge
 * field by field); null turns analysis off.
 */
export const PromotionAnalysis = z
  .object({
    /** seconds per measurement window; 1 is allowed so tests and demos stay short */
    interval_seconds: z.int().min(1).max(3600).default(ANALYSIS_DEFAULTS.interval_seconds),
    /** seconds after traffic first reaches the candidate before the first window starts */
    initial_delay_seconds: z.int().min(0).max(3600).default(ANALYSIS_DEFAULTS.initial_delay_seconds),
    metrics: z.array(AnalysisMetric).min(1).max(10),
    /** failed runs tolerated: the promotion fails when failed runs exceed it (0: the first fails it) */
    failure_limit: z.int().min(0).max(100).default(ANALYSIS_DEFAULTS.failure_limit),
    /** inconclusive runs in a row tolerated: one more pauses the promotion for a person */
    inconclusive_limit: z.int().min(0).max(100).default(ANALYSIS_DEFAULTS.inconclusive_limit),
    /** measure and record, never fail, pause or hold the promotion */
    dry_run: z.boolean().default(ANALYSIS_DEFAULTS.dry_run),
  })
  .strict()
  .superRefine((analysis, ctx) => {
    if (!Array.isArray(analysis.metrics)) return;
    const seen = new Set<string>();
    analysis.metrics.forEach((metric, index) => {
      const name = analysisMetricName(metric);
      if (seen.has(name)) {
        ctx.addIssue({
          code: "custom",
          path: ["metrics", index, "name"],
          message: `metric name '${name}' is used twice; give each metric its own name`,
          params: { rule: "unique_metric_names" },
        });
      }
      seen.add(name);
    });
  }, ALWAYS_CHECK);
export type PromotionAnalysis = z.infer<typeof PromotionAnalysis>;
export type PromotionAnalysisInput = z.input<typeof PromotionAnalysis>;

/**
 * The name a metric is reported under: its `name`, else the built-in's default
 * (`success_rate`, `latency_p99`, `latency_p50`).
 * Example: { type: "latency", quantile: 0.99 } → "latency_p99"; quantile 0.995 → "latency_p99.5".
 */
export function analysisMetricName(metric: { type: string; name?: string | undefined; quantile?: number | undefined }): string {
  if (metric.name !== undefined) return metric.name;
  if (metric.type === "latency" && typeof metric.quantile === "number") {
    return `latency_p${Number((metric.quantile * 100).toFixed(3))}`;
  }
  return metric.type;
}

/** One metric's judgement in one run. */
export const AnalysisVerdict = z.enum([
  /** within its threshold */
  "pass",
  /** beyond its threshold */
  "fail",
  /** not judged: too few requests, no previous data to compare with, an empty or failed query */
  "inconclusive",
]);
export type AnalysisVerdict = z.infer<typeof AnalysisVerdict>;

export const AnalysisMetricResult = z.object({
  name: z.string().max(63),
  verdict: AnalysisVerdict,
  /** the measured value (success rate or shadow agreement 0–1, latency in seconds, the query's value); null when none */
  value: z.number().nullable(),
  /** e.g. "0.71 < 0.95 (candidate deployment-3, 412 requests)" */
  message: z.string().max(1024),
});
export type AnalysisMetricResult = z.infer<typeof AnalysisMetricResult>;

/** One measurement window, judged. */
export const AnalysisRun = z.object({
  /** when the window ended */
  at: z.string().max(40),
  window_seconds: z.number().min(0),
  /** the promotion's step and traffic share when the window ended */
  step: z.int().min(0),
  percent_traffic_to_new_version: z.number().min(0).max(100),
  /** fail if any metric failed, else inconclusive if any was, else pass */
  verdict: AnalysisVerdict,
  metrics: z.array(AnalysisMetricResult),
});
export type AnalysisRun = z.infer<typeof AnalysisRun>;

/** `promotion.analysis`: the recent runs and the counters the decisions are made from. */
export const PromotionAnalysisStatus = z.object({
  dry_run: z.boolean(),
  /** the most recent runs, oldest first (at most 20) */
  runs: z.array(AnalysisRun).max(100),
  passed_runs: z.int().min(0),
  failed_runs: z.int().min(0),
  inconclusive_runs: z.int().min(0),
  /** inconclusive runs since the last conclusive one (or the last resume) */
  inconclusive_in_a_row: z.int().min(0),
  /** why analysis paused the promotion (while PAUSED by it) */
  paused_reason: z.string().max(1024).nullable(),
});
export type PromotionAnalysisStatus = z.infer<typeof PromotionAnalysisStatus>;
