import { describe, expect, it } from "vitest";
import {
  analysisMetricName,
  mergePromotionSettings,
  defaultPromotionSettings,
  PatchEnvironmentBody,
  PromotionSettings,
  PromotionSettingsPatch,
  zodErrorToFieldErrors,
} from "../../sdk/index.js";

function fieldErrors(input: unknown) {
  const parsed = PromotionSettingsPatch.safeParse(input);
  expect(parsed.success).toBe(false);
  return zodErrorToFieldErrors(parsed.error!);
}

describe("promotion_settings.analysis", () => {
  it("fills in the defaults of an analysis and of each built-in metric", () => {
    const patch = PromotionSettingsPatch.parse({ analysis: { metrics: [{ type: "success_rate", min: 0.95 }] } });
    expect(patch.analysis).toEqual({
      interval_seconds: 60,
      initial_delay_seconds: 0,
      failure_limit: 0,
      inconclusive_limit: 3,
      dry_run: false,
      metrics: [{ type: "success_rate", min: 0.95, min_requests: 20 }],
    });
  });

  it("is null by default, also in settings stored before it existed", () => {
    expect(defaultPromotionSettings().analysis).toBeNull();
    const { analysis: _analysis, confirm_promotion: _confirm, ...stored } = defaultPromotionSettings();
    expect(PromotionSettings.parse(stored)).toMatchObject({ analysis: null, confirm_promotion: false });
  });

  it("is replaced whole by a patch, and null turns it off", () => {
    const withTwo = mergePromotionSettings(
      defaultPromotionSettings(),
      PromotionSettingsPatch.parse({ analysis: { metrics: [{ type: "success_rate", min: 0.9 }, { type: "latency", quantile: 0.99, max_seconds: 1 }] } }),
    );
    expect(withTwo.analysis?.metrics).toHaveLength(2);
    const replaced = mergePromotionSettings(withTwo, PromotionSettingsPatch.parse({ analysis: { interval_seconds: 5, metrics: [{ type: "latency", quantile: 0.5, max_increase_ratio: 2 }] } }));
    expect(replaced.analysis?.metrics.map(analysisMetricName)).toEqual(["latency_p50"]);
    expect(replaced.analysis?.interval_seconds).toBe(5);
    expect(mergePromotionSettings(replaced, PromotionSettingsPatch.parse({ rolling_deploy: true })).analysis).toEqual(replaced.analysis);
    expect(mergePromotionSettings(replaced, PromotionSettingsPatch.parse({ analysis: null })).analysis).toBeNull();
  });

  it("names the field and the rule of a built-in metric without exactly one threshold", () => {
    expect(fieldErrors({ analysis: { metrics: [{ type: "success_rate" }] } })).toEqual([
      { path: "analysis.metrics[0].min", rule: "exactly_one_of_min_max_drop", message: expect.stringContaining("exactly one threshold") },
    ]);
    expect(fieldErrors({ analysis: { metrics: [{ type: "latency", quantile: 0.99, max_seconds: 1, max_increase_ratio: 2 }] } })).toEqual([
      { path: "analysis.metrics[0].max_seconds", rule: "exactly_one_of_max_seconds_max_increase_ratio", message: expect.stringContaining("not both") },
    ]);
  });

  it("names the field and the rule of out-of-range and malformed values", () => {
    const errors = fieldErrors({
      analysis: {
        interval_seconds: 0,
        failure_limit: -1,
        metrics: [
          { type: "latency", quantile: 1, max_seconds: 1 },
          { type: "success_rate", min: 1.5 },
          { type: "prometheus", name: "errors", query: "up" },
          { type: "prometheus", name: "errors", query: "up", url: "ftp://x", min: 2, max: 1 },
          { type: "unknown" },
        ],
      },
    });
    const byPath = Object.fromEntries(errors.map((error) => [error.path, error.rule]));
    expect(byPath).toMatchObject({
      "analysis.interval_seconds": "too_small:1",
      "analysis.failure_limit": "too_small:0",
      "analysis.metrics[0].quantile": "too_big:1",
      "analysis.metrics[1].min": "too_big:1",
      "analysis.metrics[2].min": "min_or_max_required",
      "analysis.metrics[3].max": "max_at_least_min",
      "analysis.metrics[3].url": "invalid_format:url",
      "analysis.metrics[4].type": "invalid_union",
    });
  });

  it("refuses an empty metric list and two metrics of one name", () => {
    expect(fieldErrors({ analysis: { metrics: [] } })).toEqual([{ path: "analysis.metrics", rule: "too_small:1", message: expect.any(String) }]);
    expect(
      fieldErrors({ analysis: { metrics: [{ type: "latency", quantile: 0.99, max_seconds: 1 }, { type: "latency", quantile: 0.99, max_increase_ratio: 2 }] } }),
    ).toEqual([{ path: "analysis.metrics[1].name", rule: "unique_metric_names", message: expect.stringContaining("latency_p99") }]);
  });

  it("is accepted inline in an environment patch", () => {
    const body = PatchEnvironmentBody.parse({ promotion_settings: { analysis: { interval_seconds: 1, metrics: [{ type: "success_rate", max_drop: 0.05, min_requests: 5 }] } } });
    expect(body.promotion_settings?.analysis?.metrics[0]).toEqual({ type: "success_rate", max_drop: 0.05, min_requests: 5 });
  });
});
