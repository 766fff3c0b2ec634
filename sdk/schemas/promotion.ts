import { z } from "zod";
import { DnsLabelName, ObjectId, Timestamp } from "./common.js";
import { PromotionAnalysisStatus } from "./promotion-analysis.js";
import { PromotionWebhookResult } from "./promotion-webhooks.js";

/** How a promotion moves traffic, chosen from the environment's settings when it starts. */
export const PromotionKind = z.enum([
  /** candidate gets all traffic once it has ready replicas */
  "INSTANT",
  /** traffic in 10 even stages over ramp_up_duration_seconds */
  "CANARY",
  /** replicas and traffic move step by step (max surge or max unavailable) */
  "ROLLING",
]);
export type PromotionKind = z.infer<typeof PromotionKind>;

/** Where the promotion stands with its manual gate (`promotion_settings.confirm_promotion`). */
export const PromotionApproval = z.enum([
  /** no manual gate in the settings it started with */
  "not_required",
  /** a gate is set and not reached yet */
  "pending",
  /** PAUSED at the gate: it waits for a person to approve it */
  "waiting",
  /** approved: the candidate may get all the traffic */
  "approved",
]);
export type PromotionApproval = z.infer<typeof PromotionApproval>;

export const PromotionStatus = z.enum([
  /** started; candidate replicas initialising, no traffic moved yet */
  "RELEASING",
  /** scaling the candidate up and shifting traffic to it */
  "RAMPING_UP",
  /** pinned at the current traffic split until resumed; capacity management continues */
  "PAUSED",
  /** graceful cancel: traffic shifting back to the previous deployment */
  "RAMPING_DOWN",
  /** terminal: the candidate serves all traffic and is the environment's current deployment */
  "SUCCEEDED",
  /** terminal: traffic stays on (or went back to) the previous deployment; see error_message */
  "FAILED",
  /** terminal: canceled; traffic returned to the previous deployment */
  "CANCELED",
]);
export type PromotionStatus = z.infer<typeof PromotionStatus>;

export const TERMINAL_PROMOTION_STATUSES = ["SUCCEEDED", "FAILED", "CANCELED"] as const satisfies readonly PromotionStatus[];

export function isTerminalPromotionStatus(status: PromotionStatus): boolean {
  return (TERMINAL_PROMOTION_STATUSES as readonly PromotionStatus[]).includes(status);
}

const DesiredReady = z.object({ desired: z.int().min(0), ready: z.int().min(0) });

export const Promotion = z.object({
  id: ObjectId,
  /** environment name */
  environment: DnsLabelName,
  /** the candidate deployment */
  deployment_id: ObjectId,
  /** what the environment served when the promotion started; null for the first promotion */
  previous_deployment_id: ObjectId.nullable(),
  /** the candidate's name (modelplane's addition: people read names, not ids) */
  deployment_name: DnsLabelName,
  /** the previous deployment's name; null with previous_deployment_id */
  previous_deployment_name: DnsLabelName.nullable(),
  kind: PromotionKind,
  status: PromotionStatus,
  percent_traffic_to_new_version: z.number().min(0).max(100),
  error_message: z.string().max(8192).nullable(),
  /** 0-based index of the current step and the planned number of steps */
  step: z.int().min(0),
  total_steps: z.int().min(0),
  /** planner's name for what it waits on now, e.g. "waiting_for_candidate_ready" */
  phase: z.string().max(200),
  replicas: z.object({ previous: DesiredReady, candidate: DesiredReady }),
  /** the automated analysis' recent runs and counters; null when the promotion runs without analysis */
  analysis: PromotionAnalysisStatus.nullable().default(null),
  /** the manual gate: "waiting" while PAUSED until someone approves (approve_promotion) */
  approval: PromotionApproval.default("not_required"),
  /** what the webhook gates answered (pre-rollout, rollout, post-rollout), oldest first; the newest 20 */
  webhooks: z.array(PromotionWebhookResult).max(20).default([]),
  started_at: Timestamp,
  updated_at: Timestamp,
  finished_at: Timestamp.nullable(),
});
export type Promotion = z.infer<typeof Promotion>;

/** POST /v1/models/{model_id}/environments/{env_name}/promote */
export const PromoteBody = z
  .object({
    deployment_id: ObjectId,
    /** fail the promotion (traffic back to previous) if it has not succeeded after this long */
    timeout_seconds: z.int().min(1).max(86_400).optional(),
    /**
     * promote although the deployment has not passed the environment's required one (the chain
     * rule of workspace environments); needs an admin key, and is audited (promotion.chain_skipped)
     */
    skip_chain: z.boolean().optional(),
  })
  .strict();
export type PromoteBody = z.infer<typeof PromoteBody>;

/** POST /v1/models/{model_id}/deployments/{deployment_id}/promote (to production) and …/rollback */
export const PromoteToProductionBody = z
  .object({ timeout_seconds: z.int().min(1).max(86_400).optional() })
  .strict();
export type PromoteToProductionBody = z.infer<typeof PromoteToProductionBody>;

export const PromotionList = z.object({ promotions: z.array(Promotion) });
export type PromotionList = z.infer<typeof PromotionList>;
