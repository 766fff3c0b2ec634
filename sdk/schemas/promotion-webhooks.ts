import { z } from "zod";

/**
 * When a webhook gate is called (Flagger's webhook types).
 * - `pre-rollout`: once the candidate has the replicas of its first step ready and before any
 *   traffic shifts to it. A failure fails the promotion before the candidate got a single request
 *   of the environment's traffic.
 * - `rollout`: before each traffic shift after the first (the next rolling step, the next canary
 *   stage; an instant promotion has a single shift, so none). A failure fails the promotion at
 *   once (FAILED, traffic back to the previous deployment, the webhook's name and answer in
 *   `error_message`), with or without `analysis`. One rule on purpose: the hook's own `retries`
 *   already absorb a flaky receiver, and counting a failure toward `failure_limit` instead would
 *   make the verdict of a check the user wrote depend on whether analysis happens to be on.
 * - `post-rollout`: once, after the promotion ended (SUCCEEDED, FAILED or CANCELED; `outcome` and
 *   `error_message` in the body), e.g. to notify or clean up. It never changes the outcome; its
 *   answer is only recorded. Called by the engine that drives the promotion when it ends: an engine
 *   crash between the end and the call loses the call (at most once, never twice).
 */
export const PromotionWebhookType = z.enum(["pre-rollout", "rollout", "post-rollout"]);
export type PromotionWebhookType = z.infer<typeof PromotionWebhookType>;

/**
 * One webhook gate of a promotion. The engine POSTs to `url`; a 2xx answer passes, anything else —
 * after `retries` more attempts, each within `timeout_seconds` — fails (see `PromotionWebhookType`
 * for what a failure does).
 *
 * The body sent: `{ name, type, model_id, environment, promotion_id, deployment_id,
 * previous_deployment_id, endpoint, metadata }`, `endpoint` being the candidate's per-deployment
 * predict path on the engine (`/models/{model_id}/deployment/{deployment_id}/predict`); `rollout`
 * adds `step` (the shift about to be made, 2…) and `percent_traffic_to_new_version` (the share
 * now); `post-rollout` adds `outcome` (the final status) and `error_message` (null unless FAILED).
 */
export const PromotionWebhook = z
  .object({
    type: PromotionWebhookType,
    name: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[a-z0-9_][a-z0-9_.-]*$/, "lowercase letters, digits, '_', '.', '-' only, 1-63 characters"),
    url: z.url({ protocol: /^https?$/, error: "an http(s) URL" }).max(2048),
    /** per attempt */
    timeout_seconds: z.int().min(1).max(300).default(10),
    /** further attempts after a failed one (non-2xx, no answer in time) */
    retries: z.int().min(0).max(10).default(2),
    /** passed through in the body, e.g. which evaluation suite to run */
    metadata: z
      .record(z.string().max(100), z.string().max(1024))
      .refine((entries) => Object.keys(entries).length <= 20, { message: "at most 20 entries", params: { rule: "max_entries" } })
      .default({}),
  })
  .strict();
export type PromotionWebhook = z.infer<typeof PromotionWebhook>;

/** What one webhook gate answered, as recorded on the promotion. */
export const PromotionWebhookResult = z.object({
  name: z.string().max(63),
  type: PromotionWebhookType,
  passed: z.boolean(),
  attempts: z.int().min(0),
  /** the last answer's HTTP status; null when none came */
  http_status: z.int().nullable(),
  /** e.g. "answered 503 on all 3 attempts: suite accuracy 0.61 < 0.8" */
  message: z.string().max(1024),
  at: z.string().max(40),
});
export type PromotionWebhookResult = z.infer<typeof PromotionWebhookResult>;
