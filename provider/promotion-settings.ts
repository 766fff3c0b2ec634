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

/** One analysis metric (sdk/schemas/promotion-analysis.ts), camelCase. */
export interface AnalysisMetricArgs {
  /** success_rate: non-5xx share; latency: a quantile in seconds; prometheus: a PromQL query;
   * shadow_agreement: the share of mirrored requests the candidate answered alike (needs the
   * environment's shadow on the candidate) */
  type: "success_rate" | "latency" | "prometheus" | "shadow_agreement";
  /** the name in results (required for prometheus; built-ins default to success_rate / latency_p99 …) */
  name?: string;
  /** success_rate, shadow_agreement: absolute minimum (0–1); prometheus: fail below it */
  min?: number;
  /** shadow_agreement: fewer compared copies in a window → inconclusive (default 20) */
  minComparisons?: number;
  /** success_rate: fail when more than this below the previous deployment over the same window */
  maxDrop?: number;
  /** latency: 0.5 for p50, 0.99 for p99 */
  quantile?: number;
  /** latency: absolute maximum in seconds */
  maxSeconds?: number;
  /** latency: fail when above previous × this over the same window */
  maxIncreaseRatio?: number;
  /** built-ins: fewer requests in a window → inconclusive (default 20) */
  minRequests?: number;
  /** prometheus: the query ({{candidate_deployment_id}}, {{interval}} … are filled in) */
  query?: string;
  /** prometheus: the server (default: the engine's --prometheus-url) */
  url?: string;
  /** prometheus: fail above it */
  max?: number;
}

/** Automated analysis while traffic moves to the candidate (promotion_settings.analysis). */
export interface PromotionAnalysisArgs {
  /** seconds per window, 1–3600 (default 60) */
  intervalSeconds?: number;
  /** seconds after the first traffic before the first window (default 0) */
  initialDelaySeconds?: number;
  metrics: AnalysisMetricArgs[];
  /** failed windows tolerated (default 0: the first fails the promotion, and `pulumi up`) */
  failureLimit?: number;
  /** inconclusive windows in a row tolerated before it pauses (default 3) */
  inconclusiveLimit?: number;
  /** record only, never act (default false) */
  dryRun?: boolean;
}

/** A webhook gate (sdk/schemas/promotion-webhooks.ts), camelCase. */
export interface PromotionWebhookArgs {
  /**
   * pre-rollout: before any traffic shifts; rollout: before each later shift (a non-2xx answer of
   * either fails the promotion, and `pulumi up`); post-rollout: once after the end, only recorded
   */
  type: "pre-rollout" | "rollout" | "post-rollout";
  name: string;
  url: string;
  /** per attempt, 1–300 (default 10) */
  timeoutSeconds?: number;
  /** further attempts, 0–10 (default 2) */
  retries?: number;
  /** passed through in the body as given */
  metadata?: Record<string, string>;
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
  /** automated analysis: a failing candidate is rolled back and `pulumi up` fails with the measured value */
  analysis?: pulumi.Input<PromotionAnalysisArgs | null>;
  /** manual gate: the promotion waits PAUSED before 100 % until `modelplane approve` (default false) */
  confirmPromotion?: pulumi.Input<boolean>;
  /** webhook gates, e.g. an evaluation suite run against the candidate's endpoint before any traffic shifts */
  webhooks?: pulumi.Input<PromotionWebhookArgs[]>;
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
