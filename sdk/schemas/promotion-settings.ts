import { z } from "zod";
import { ALWAYS_CHECK, DisplayName, ObjectId, Timestamp } from "./common.js";
import { PromotionAnalysis } from "./promotion-analysis.js";
import { PromotionWebhook } from "./promotion-webhooks.js";

/**
 * Promotion settings (reference: rolling deployments). Held inline by an environment or as a named,
 * reusable object an environment refers to by id; a promotion snapshots the effective settings.
 */

export const PromotionCleanupStrategy = z.enum([
  /** scale the previous deployment to zero replicas; it can be woken or promoted again */
  "SCALE_TO_ZERO",
  /** leave the previous deployment at its current replica count */
  "KEEP",
  /** deactivate the previous deployment: no traffic, no replicas */
  "DEACTIVATE",
]);
export type PromotionCleanupStrategy = z.infer<typeof PromotionCleanupStrategy>;

export const ROLLING_DEPLOY_CONFIG_DEFAULTS = {
  max_surge_percent: 10,
  max_unavailable_percent: 0,
  stabilization_time_seconds: 0,
  replica_overhead_percent: 0,
} as const;

export const PROMOTION_SETTINGS_DEFAULTS = {
  rolling_deploy: false,
  rolling_deploy_config: ROLLING_DEPLOY_CONFIG_DEFAULTS,
  promotion_cleanup_strategy: "SCALE_TO_ZERO",
  ramp_up_while_promoting: false,
  ramp_up_duration_seconds: 600,
  redeploy_on_promotion: false,
  analysis: null,
  confirm_promotion: false,
  // typed as the schema's list (not `readonly []`) so the defaults spread into settings; never mutated
  webhooks: [] as PromotionWebhook[],
} as const;

const rollingDeployConfigFields = {
  /** extra candidate replicas per step, in percent of the current count (surge mode) */
  max_surge_percent: z.int().min(0).max(50),
  /** previous replicas removed per step, in percent (unavailable mode) */
  max_unavailable_percent: z.int().min(0).max(50),
  /** seconds to wait after each traffic shift */
  stabilization_time_seconds: z.int().min(0).max(3600),
  /** extra replicas added to the previous deployment before the first step, in percent */
  replica_overhead_percent: z.int().min(0).max(500),
};

/**
 * The reference's provisioning-mode rule: surge and unavailable are mutually exclusive and one of
 * them must be set, otherwise a rolling step could never move (both 0) or the arithmetic is
 * ambiguous (both non-zero). Reported on both fields' path so a form can highlight either.
 */
export function exactlyOneProvisioningMode(
  config: { max_surge_percent?: number | undefined; max_unavailable_percent?: number | undefined },
  ctx: z.RefinementCtx,
  pathPrefix: (string | number)[] = [],
): void {
  const surge = config.max_surge_percent;
  const unavailable = config.max_unavailable_percent;
  if (typeof surge !== "number" || typeof unavailable !== "number") return;
  const bothZero = surge === 0 && unavailable === 0;
  const bothSet = surge !== 0 && unavailable !== 0;
  if (!bothZero && !bothSet) return;
  ctx.addIssue({
    code: "custom",
    path: [...pathPrefix, "max_surge_percent"],
    message: bothZero
      ? "exactly one of max_surge_percent and max_unavailable_percent must be non-zero; both are 0"
      : `exactly one of max_surge_percent and max_unavailable_percent must be non-zero; got max_surge_percent=${surge} and max_unavailable_percent=${unavailable}`,
    params: { rule: "exactly_one_of_max_surge_percent_max_unavailable_percent" },
  });
}

export const RollingDeployConfig = z
  .object(rollingDeployConfigFields)
  .superRefine((config, ctx) => exactlyOneProvisioningMode(config, ctx), ALWAYS_CHECK);
export type RollingDeployConfig = z.infer<typeof RollingDeployConfig>;

const promotionSettingsFields = {
  /** rolling deploy instead of instant replace or canary ramp */
  rolling_deploy: z.boolean(),
  rolling_deploy_config: RollingDeployConfig,
  /** what happens to the previous deployment after a successful promotion */
  promotion_cleanup_strategy: PromotionCleanupStrategy,
  /** canary: shift traffic in 10 even stages instead of at once */
  ramp_up_while_promoting: z.boolean(),
  ramp_up_duration_seconds: z.int().min(10).max(86_400),
  /** restart the candidate's replicas on promotion so they see the new ENVIRONMENT and variables */
  redeploy_on_promotion: z.boolean(),
  /** automated analysis of the candidate while traffic moves to it (promotion-analysis.ts); null: none */
  analysis: PromotionAnalysis.nullable(),
  /**
   * Manual gate (Flagger's confirm-promotion): before the candidate would get 100 % of the traffic
   * (the last rolling step, the last canary stage, an instant switch), the promotion waits PAUSED
   * until a person approves it (`POST …/approve_promotion`, `modelplane approve <model> <env>`).
   */
  confirm_promotion: z.boolean(),
  /** webhook gates (promotion-webhooks.ts): `pre-rollout` before any traffic shifts, `rollout` before each later shift, `post-rollout` after the end */
  webhooks: z.array(PromotionWebhook).max(10),
};

/** Full (effective) settings, as returned by the API and snapshotted by a promotion. */
export const PromotionSettings = z.object({
  ...promotionSettingsFields,
  // settings stored before analysis existed have no such field: they have none
  analysis: promotionSettingsFields.analysis.default(null),
  confirm_promotion: promotionSettingsFields.confirm_promotion.default(false),
  webhooks: promotionSettingsFields.webhooks.default([]),
});
export type PromotionSettings = z.infer<typeof PromotionSettings>;

/** Partial rolling config in an input; the mode rule is checked when both fields are present. */
export const RollingDeployConfigPatch = z
  .object(rollingDeployConfigFields)
  .partial()
  .strict()
  .superRefine((config, ctx) => exactlyOneProvisioningMode(config, ctx), ALWAYS_CHECK);
export type RollingDeployConfigPatch = z.infer<typeof RollingDeployConfigPatch>;

/**
 * Partial settings: the inline `promotion_settings` of an environment PATCH (as in the reference's
 * curl examples), and the fields of a named settings create/patch. Unset fields keep their value.
 */
export const PromotionSettingsPatch = z
  .object({
    rolling_deploy: promotionSettingsFields.rolling_deploy.optional(),
    rolling_deploy_config: RollingDeployConfigPatch.optional(),
    promotion_cleanup_strategy: promotionSettingsFields.promotion_cleanup_strategy.optional(),
    ramp_up_while_promoting: promotionSettingsFields.ramp_up_while_promoting.optional(),
    ramp_up_duration_seconds: promotionSettingsFields.ramp_up_duration_seconds.optional(),
    redeploy_on_promotion: promotionSettingsFields.redeploy_on_promotion.optional(),
    /** replaces the analysis whole; null turns it off */
    analysis: promotionSettingsFields.analysis.optional(),
    confirm_promotion: promotionSettingsFields.confirm_promotion.optional(),
    /** replaces the list whole */
    webhooks: promotionSettingsFields.webhooks.optional(),
  })
  .strict();
export type PromotionSettingsPatch = z.infer<typeof PromotionSettingsPatch>;

/** Deep-merge a patch onto settings. The result must be re-checked with `PromotionSettings`
 * because the mode rule spans fields the patch may set only one of. */
export function mergePromotionSettings(current: PromotionSettings, patch: PromotionSettingsPatch): PromotionSettings {
  const rollingConfig = { ...current.rolling_deploy_config };
  for (const [key, value] of Object.entries(patch.rolling_deploy_config ?? {}) as [
    keyof RollingDeployConfig,
    number | undefined,
  ][]) {
    if (value !== undefined) rollingConfig[key] = value;
  }
  return {
    rolling_deploy: patch.rolling_deploy ?? current.rolling_deploy,
    rolling_deploy_config: rollingConfig,
    promotion_cleanup_strategy: patch.promotion_cleanup_strategy ?? current.promotion_cleanup_strategy,
    ramp_up_while_promoting: patch.ramp_up_while_promoting ?? current.ramp_up_while_promoting,
    ramp_up_duration_seconds: patch.ramp_up_duration_seconds ?? current.ramp_up_duration_seconds,
    redeploy_on_promotion: patch.redeploy_on_promotion ?? current.redeploy_on_promotion,
    // replaced whole, never merged: a list of metrics has no field-by-field meaning
    analysis: patch.analysis !== undefined ? patch.analysis : (current.analysis ?? null),
    confirm_promotion: patch.confirm_promotion ?? current.confirm_promotion ?? false,
    webhooks: patch.webhooks ?? current.webhooks ?? [],
  };
}

export function defaultPromotionSettings(): PromotionSettings {
  return { ...PROMOTION_SETTINGS_DEFAULTS, rolling_deploy_config: { ...ROLLING_DEPLOY_CONFIG_DEFAULTS }, webhooks: [] };
}

/** The named, reusable settings object (`/v1/promotion_settings`). */
export const PromotionSettingsObject = PromotionSettings.extend({
  id: ObjectId,
  name: DisplayName,
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type PromotionSettingsObject = z.infer<typeof PromotionSettingsObject>;

/** POST /v1/promotion_settings: a name and any fields; the rest take the defaults. */
export const CreatePromotionSettingsBody = PromotionSettingsPatch.extend({ name: DisplayName }).strict();
export type CreatePromotionSettingsBody = z.infer<typeof CreatePromotionSettingsBody>;

/** PATCH /v1/promotion_settings/{id}: rename and/or change fields. */
export const PatchPromotionSettingsBody = PromotionSettingsPatch.extend({ name: DisplayName.optional() }).strict();
export type PatchPromotionSettingsBody = z.infer<typeof PatchPromotionSettingsBody>;

export const PromotionSettingsList = z.object({ promotion_settings: z.array(PromotionSettingsObject) });
export type PromotionSettingsList = z.infer<typeof PromotionSettingsList>;
