import { z } from "zod";
import { ALWAYS_CHECK } from "./common.js";

/**
 * Autoscaling settings of a deployment or an environment (Baseten field names).
 * Defaults are the reference's: scale to zero allowed, one replica, one request at a time.
 */

const autoscalingFields = {
  /** 0 lets the deployment scale to zero when idle. */
  min_replica: z.int().min(0).max(1000),
  max_replica: z.int().min(1).max(1000),
  /** in-flight requests per replica the autoscaler aims for */
  concurrency_target: z.int().min(1).max(10_000),
  target_utilization_percentage: z.int().min(1).max(100),
  /** seconds of traffic averaged for one scaling decision */
  autoscaling_window: z.int().min(10).max(3600),
  /** seconds of low traffic before replicas are removed */
  scale_down_delay: z.int().min(0).max(3600),
};

export const AUTOSCALING_DEFAULTS = {
  min_replica: 0,
  max_replica: 1,
  concurrency_target: 1,
  target_utilization_percentage: 70,
  autoscaling_window: 60,
  scale_down_delay: 900,
} as const satisfies { [K in keyof typeof autoscalingFields]: number };

function maxNotBelowMin(
  value: { min_replica?: number | undefined; max_replica?: number | undefined },
  ctx: z.RefinementCtx,
): void {
  const { min_replica: min, max_replica: max } = value;
  if (typeof min === "number" && typeof max === "number" && max < min) {
    ctx.addIssue({
      code: "custom",
      path: ["max_replica"],
      message: `max_replica (${value.max_replica}) must be at least min_replica (${value.min_replica})`,
      params: { rule: "max_replica_at_least_min_replica" },
    });
  }
}

/** Full settings as returned by the API. */
export const AutoscalingSettings = z.object(autoscalingFields);
export type AutoscalingSettings = z.infer<typeof AutoscalingSettings>;

/** Input of a create: every field optional, defaults filled in. */
export const AutoscalingSettingsInput = z
  .object({
    min_replica: autoscalingFields.min_replica.default(AUTOSCALING_DEFAULTS.min_replica),
    max_replica: autoscalingFields.max_replica.default(AUTOSCALING_DEFAULTS.max_replica),
    concurrency_target: autoscalingFields.concurrency_target.default(AUTOSCALING_DEFAULTS.concurrency_target),
    target_utilization_percentage: autoscalingFields.target_utilization_percentage.default(
      AUTOSCALING_DEFAULTS.target_utilization_percentage,
    ),
    autoscaling_window: autoscalingFields.autoscaling_window.default(AUTOSCALING_DEFAULTS.autoscaling_window),
    scale_down_delay: autoscalingFields.scale_down_delay.default(AUTOSCALING_DEFAULTS.scale_down_delay),
  })
  .strict()
  .superRefine(maxNotBelowMin, ALWAYS_CHECK);
export type AutoscalingSettingsInput = z.input<typeof AutoscalingSettingsInput>;

/**
 * Partial update (PATCH …/autoscaling_settings, environment patch): only the given fields change.
 * min ≤ max is checked here when both are given, and by the engine again after merging.
 */
export const AutoscalingSettingsPatch = z.object(autoscalingFields).partial().strict().superRefine(maxNotBelowMin, ALWAYS_CHECK);
export type AutoscalingSettingsPatch = z.infer<typeof AutoscalingSettingsPatch>;

/** Merge a patch onto current settings; the caller re-validates the result with `AutoscalingSettings`. */
export function mergeAutoscalingSettings(
  current: AutoscalingSettings,
  patch: AutoscalingSettingsPatch,
): AutoscalingSettings {
  const merged = { ...current };
  for (const [key, value] of Object.entries(patch) as [keyof AutoscalingSettings, number | undefined][]) {
    if (value !== undefined) merged[key] = value;
  }
  return merged;
}

/** Checks the cross-field rule on merged settings; the same refinement as the input schemas. */
export const AutoscalingSettingsChecked = AutoscalingSettings.superRefine(maxNotBelowMin, ALWAYS_CHECK);
