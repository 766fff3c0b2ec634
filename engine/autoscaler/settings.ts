/**
 * Autoscaling settings, with Baseten's names and defaults. The defaults make a deployment that
 * scales to zero, runs at most one replica, and serves one request at a time per replica.
 */
export interface AutoscalingSettings {
  /** replicas kept even without traffic; 0 allows scale to zero */
  min_replica: number;
  /** upper bound on replicas */
  max_replica: number;
  /** concurrent requests one replica is meant to serve */
  concurrency_target: number;
  /** share of concurrency_target to aim for, leaving headroom for bursts (percent) */
  target_utilization_percentage: number;
  /** load is averaged over this many seconds */
  autoscaling_window: number;
  /** seconds demand must stay low before replicas are removed */
  scale_down_delay: number;
}

export const DEFAULT_AUTOSCALING_SETTINGS: Readonly<AutoscalingSettings> = Object.freeze({
  min_replica: 0,
  max_replica: 1,
  concurrency_target: 1,
  target_utilization_percentage: 70,
  autoscaling_window: 60,
  scale_down_delay: 900,
});

/** Defaults filled in and the invariants checked (the API validates ranges before this; this
 * guards the arithmetic against a caller that did not). */
export function resolveAutoscalingSettings(partial: Partial<AutoscalingSettings> = {}): AutoscalingSettings {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, value]) => value !== undefined));
  const settings: AutoscalingSettings = { ...DEFAULT_AUTOSCALING_SETTINGS, ...defined };
  const problems: string[] = [];
  if (!Number.isInteger(settings.min_replica) || settings.min_replica < 0) problems.push("min_replica must be an integer ≥ 0");
  if (!Number.isInteger(settings.max_replica) || settings.max_replica < 1) problems.push("max_replica must be an integer ≥ 1");
  if (settings.min_replica > settings.max_replica) problems.push("min_replica must not exceed max_replica");
  if (!(settings.concurrency_target > 0)) problems.push("concurrency_target must be > 0");
  if (!(settings.target_utilization_percentage > 0 && settings.target_utilization_percentage <= 100)) {
    problems.push("target_utilization_percentage must be in (0, 100]");
  }
  if (!(settings.autoscaling_window > 0)) problems.push("autoscaling_window must be > 0");
  if (!(settings.scale_down_delay >= 0)) problems.push("scale_down_delay must be ≥ 0");
  if (problems.length > 0) throw new RangeError(`invalid autoscaling settings: ${problems.join("; ")}`);
  return settings;
}
