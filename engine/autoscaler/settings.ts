/**
 * Autoscaling settings for the autoscaler: the API's own schema and defaults (sdk/schemas/autoscaling.ts,
 * Baseten's names and defaults), so the engine never accepts a range the API would refuse or fills in
 * a different default.
 */
import { AUTOSCALING_DEFAULTS, AutoscalingSettingsInput, type AutoscalingSettings } from "../../sdk/schemas/autoscaling.js";

export type { AutoscalingSettings };

export const DEFAULT_AUTOSCALING_SETTINGS: Readonly<AutoscalingSettings> = Object.freeze({ ...AUTOSCALING_DEFAULTS });

/** Defaults filled in and checked with the API's schema: stored settings passed it already; this
 * guards the autoscaler's arithmetic against a caller that did not. */
export function resolveAutoscalingSettings(partial: Partial<AutoscalingSettings> = {}): AutoscalingSettings {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, value]) => value !== undefined));
  const parsed = AutoscalingSettingsInput.safeParse(defined);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new RangeError(`invalid autoscaling settings: ${problems.join("; ")}`);
  }
  return parsed.data;
}
