/**
 * Reading a settings snapshot: which kind of promotion it asks for, which rolling mode, and whether
 * it is valid at all (the API validates with its zod schema first; this guards the planner).
 */
import { surgeStep, unavailableStep } from "./budgets.js";
import type { PromotionKind, PromotionSettingsSnapshot, RollingMode, ScalingBounds } from "./types.js";

/**
 * `rolling_deploy` → ROLLING, else `ramp_up_while_promoting` → CANARY, else INSTANT. With no previous
 * deployment there is nothing to shift traffic from, so every promotion is INSTANT.
 */
export function promotionKindFor(settings: PromotionSettingsSnapshot, hasPreviousDeployment: boolean): PromotionKind {
  if (!hasPreviousDeployment) return "INSTANT";
  if (settings.rolling_deploy) return "ROLLING";
  if (settings.ramp_up_while_promoting) return "CANARY";
  return "INSTANT";
}

/** Surge mode when `max_surge_percent` > 0, else unavailable mode (validation ensures exactly one). */
export function rollingModeOf(settings: PromotionSettingsSnapshot): RollingMode {
  return settings.rolling_deploy_config.max_surge_percent > 0 ? "surge" : "unavailable";
}

/** The per-step budgets of a rolling deploy at base count N; exactly one of them is non-zero. */
export function rollingStepsFor(
  settings: PromotionSettingsSnapshot,
  baseReplicas: number,
): { surgeStep: number; unavailableStep: number; stepSize: number } {
  const config = settings.rolling_deploy_config;
  if (rollingModeOf(settings) === "surge") {
    const step = surgeStep(baseReplicas, config.max_surge_percent);
    return { surgeStep: step, unavailableStep: 0, stepSize: step };
  }
  const step = unavailableStep(baseReplicas, config.max_unavailable_percent);
  return { surgeStep: 0, unavailableStep: step, stepSize: step };
}

function checkRange(problems: string[], name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${name} must be an integer in ${min}–${max}, got ${value}`);
  }
}

/** Every rule the snapshot breaks, as sentences; empty when valid. */
export function promotionSettingsProblems(settings: PromotionSettingsSnapshot, bounds: ScalingBounds): string[] {
  const problems: string[] = [];
  const config = settings.rolling_deploy_config;
  checkRange(problems, "max_surge_percent", config.max_surge_percent, 0, 50);
  checkRange(problems, "max_unavailable_percent", config.max_unavailable_percent, 0, 50);
  checkRange(problems, "stabilization_time_seconds", config.stabilization_time_seconds, 0, 3600);
  checkRange(problems, "replica_overhead_percent", config.replica_overhead_percent, 0, 500);
  if (settings.rolling_deploy) {
    const surgeSet = config.max_surge_percent > 0;
    const unavailableSet = config.max_unavailable_percent > 0;
    if (surgeSet === unavailableSet) {
      problems.push(
        `exactly one of max_surge_percent (${config.max_surge_percent}) and max_unavailable_percent ` +
          `(${config.max_unavailable_percent}) must be non-zero`,
      );
    }
  }
  if (!(settings.ramp_up_duration_seconds >= 0)) {
    problems.push(`ramp_up_duration_seconds must be ≥ 0, got ${settings.ramp_up_duration_seconds}`);
  }
  if (!Number.isInteger(bounds.min_replica) || bounds.min_replica < 0) {
    problems.push(`min_replica must be an integer ≥ 0, got ${bounds.min_replica}`);
  }
  if (!Number.isInteger(bounds.max_replica) || bounds.max_replica < bounds.min_replica) {
    problems.push(`max_replica must be an integer ≥ min_replica (${bounds.min_replica}), got ${bounds.max_replica}`);
  }
  return problems;
}
