import { z } from "zod";

/**
 * Webhook gates of a promotion (Flagger's webhooks). `pre-rollout`: once the candidate has the
 * replicas of its first step ready and before any traffic shifts to it, the engine POSTs to `url`
 * (for example an evaluation suite that calls the candidate's per-deployment endpoint); a 2xx
 * answer passes, anything else — after `retries` more attempts, each within `timeout_seconds` —
 * fails the promotion before the candidate got a single request of the environment's traffic.
 *
 * The body sent: `{ name, type, model_id, environment, promotion_id, deployment_id,
 * previous_deployment_id, endpoint, metadata }`, `endpoint` being the candidate's per-deployment
 * predict path on the engine (`/models/{model_id}/deployment/{deployment_id}/predict`).
 */
export const PromotionWebhook = z
  .object({
    type: z.literal("pre-rollout"),
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
  type: z.literal("pre-rollout"),
  passed: z.boolean(),
  attempts: z.int().min(0),
  /** the last answer's HTTP status; null when none came */
  http_status: z.int().nullable(),
  /** e.g. "answered 503 on all 3 attempts: suite accuracy 0.61 < 0.8" */
  message: z.string().max(1024),
  at: z.string().max(40),
});
export type PromotionWebhookResult = z.infer<typeof PromotionWebhookResult>;
