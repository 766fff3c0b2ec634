import * as pulumi from "@pulumi/pulumi";
import { providerShim } from "./shim.js";

export interface RollingDeployConfigArgs {
  /** extra candidate replicas per step, % of the current count, 0–50 (default 10); exactly one of surge/unavailable is non-zero */
  maxSurgePercent?: pulumi.Input<number>;
  /** previous replicas removed per step, %, 0–50 (default 0) */
  maxUnavailablePercent?: pulumi.Input<number>;
  /** seconds to wait after each traffic shift, 0–3600 (default 0) */
  stabilizationTimeSeconds?: pulumi.Input<number>;
  /** extra replicas pre-provisioned on the previous deployment, %, 0–500 (default 0) */
  replicaOverheadPercent?: pulumi.Input<number>;
}

export interface PromotionSettingsArgs {
  /** display name */
  name: pulumi.Input<string>;
  /** rolling deploy instead of instant replace or canary ramp (default false) */
  rollingDeploy?: pulumi.Input<boolean>;
  rollingDeployConfig?: pulumi.Input<RollingDeployConfigArgs>;
  /** SCALE_TO_ZERO (default), KEEP or DEACTIVATE: what happens to the previous deployment */
  promotionCleanupStrategy?: pulumi.Input<"SCALE_TO_ZERO" | "KEEP" | "DEACTIVATE">;
  /** canary: shift traffic in 10 even stages (default false) */
  rampUpWhilePromoting?: pulumi.Input<boolean>;
  /** canary duration, 10–86400 s (default 600) */
  rampUpDurationSeconds?: pulumi.Input<number>;
  /** restart the candidate's replicas on promotion so they see the new ENVIRONMENT (default false) */
  redeployOnPromotion?: pulumi.Input<boolean>;
}

/**
 * A named, reusable promotion settings object. Environments refer to it by id, so Pulumi creates
 * it first (settings → environment → promotion). Updating it changes future promotions only: a
 * promotion snapshots the settings it started with.
 */
export class PromotionSettings extends pulumi.dynamic.Resource {
  declare readonly settingsId: pulumi.Output<string>;
  /** the settings with the engine's defaults filled in */
  declare readonly effective: pulumi.Output<Record<string, unknown>>;

  constructor(name: string, args: PromotionSettingsArgs, opts?: pulumi.CustomResourceOptions) {
    super(providerShim("promotion-settings"), name, { ...args, settingsId: undefined, effective: undefined }, opts, "modelplane", "PromotionSettings");
  }
}
