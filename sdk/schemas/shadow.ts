import { z } from "zod";
import { ObjectId, Timestamp, withoutControlCharacters } from "./common.js";

/**
 * Shadow serving (issue 17): an environment sends a copy of a share of its predict requests to
 * another deployment — the in-progress candidate, or a named deployment of the model — and
 * compares the answers with the primary's. Mirroring is asynchronous: the client's answer never
 * waits for the shadow and never sees it. Copies go through a bounded queue and bounded
 * concurrency; a slow or dead shadow sheds copies (counted), it never adds latency or memory.
 *
 * Which requests are mirrored (the idempotency rule): the data plane serves predict requests only,
 * all POSTs. modelplane treats a predict as idempotent — a prediction is an answer computed from
 * its input that changes nothing — so predicts are mirrored, EXCEPT a request carrying an
 * `Idempotency-Key` header: that is the client saying the request has effects that must not
 * happen twice, so it is mirrored only with `mirror_non_idempotent: true`. A model whose predict
 * has side effects (writes, sends) must not be shadowed, or only the requests `match` selects.
 */

/** A header name (RFC 9110 token), lowercased when compared. */
export const HeaderName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "an HTTP header name (letters, digits and !#$%&'*+.^_`|~-)");

/** Which requests are candidates for mirroring; every given part must match (AND). */
export const ShadowMatch = z
  .object({
    /** request method, e.g. "POST" (predict requests are all POSTs) */
    method: z.string().min(1).max(16).regex(/^[A-Z]+$/, "an uppercase HTTP method").optional(),
    /** prefix of the request's path and query as the client sent it, e.g. "/models/mdl_x/production/predict?lang=en" */
    path_prefix: withoutControlCharacters(z.string().min(1).max(512).startsWith("/")).optional(),
    /** a header the request must carry; with `value`, with exactly that value */
    header: z
      .object({ name: HeaderName, value: withoutControlCharacters(z.string().max(1024)).optional() })
      .strict()
      .optional(),
  })
  .strict();
export type ShadowMatch = z.infer<typeof ShadowMatch>;

/**
 * How two answers are compared. Statuses are always compared. `exact`: the bodies are the same
 * bytes. `json`: both bodies parse as JSON and agree field by field — strings, booleans and null
 * equal, numbers within `numeric_tolerance` (absolute), arrays element by element; `fields` limits
 * the comparison to those dotted paths (e.g. ["label", "score"]), else every field of both.
 */
export const ShadowComparison = z.discriminatedUnion("mode", [
  z.object({ mode: z.literal("exact") }).strict(),
  z
    .object({
      mode: z.literal("json"),
      /** |primary − shadow| ≤ this counts as equal for numbers, e.g. 0.05 */
      numeric_tolerance: z.number().min(0).max(1e12).default(0),
      /** dotted paths to compare (array indices as numbers: "scores.0"); absent: all fields */
      fields: z
        .array(z.string().min(1).max(256).regex(/^[^.]+(\.[^.]+)*$/, "a dotted path like 'label' or 'result.score'"))
        .min(1)
        .max(64)
        .optional(),
    })
    .strict(),
]);
export type ShadowComparison = z.infer<typeof ShadowComparison>;

/** Requests bodies larger than this are never mirrored: the fast path holds at most 64 KiB. */
export const MAX_SHADOW_BODY_BYTES = 64 * 1024;

/** `PATCH …/environments/{env}` `shadow`: the whole shadow (it replaces the previous one; null removes it). */
export const ShadowSettings = z
  .object({
    /** "candidate": the deployment an in-progress promotion of this environment moves to (no
     * promotion: nothing is mirrored, counted as `unavailable`) — a request the candidate serves
     * itself (its traffic share) is copied to the environment's current deployment instead, so the
     * pair (current, candidate) is compared at every split, 100 % included; or a deployment id of the model
     * (served by its own replicas, those of its per-deployment endpoint — woken if scaled to 0) */
    deployment: z.union([z.literal("candidate"), ObjectId]),
    /** share of the environment's (matching) requests copied, 0–100 */
    percent: z.number().min(0).max(100).default(100),
    match: ShadowMatch.optional(),
    /** request bodies larger than this are not mirrored (counted as `skipped_body`); at most 64 KiB */
    max_body_bytes: z.int().min(0).max(MAX_SHADOW_BODY_BYTES).default(MAX_SHADOW_BODY_BYTES),
    comparison: ShadowComparison.default({ mode: "exact" }),
    /** keep request and response bodies in the disagreement samples (they may hold user data) */
    keep_bodies: z.boolean().default(false),
    /** mirror requests with an `Idempotency-Key` header too (see the rule above) */
    mirror_non_idempotent: z.boolean().default(false),
    /** copies sent to the shadow at once */
    max_concurrency: z.int().min(1).max(256).default(8),
    /** copies waiting for a free slot; beyond it a copy is shed (counted as `shed`) */
    max_queue: z.int().min(0).max(10_000).default(64),
    /** a shadow answer slower than this is given up (counted as `shadow_error`) */
    timeout_ms: z.int().min(100).max(300_000).default(10_000),
  })
  .strict();
export type ShadowSettings = z.infer<typeof ShadowSettings>;
export type ShadowSettingsInput = z.input<typeof ShadowSettings>;

/**
 * What became of a request selected for mirroring (the `outcome` label of
 * modelplane_shadow_requests_total): `agreed` / `disagreed` — both answered and were compared;
 * `shadow_error` — the shadow failed (connection, timeout, cut answer); `primary_error` — the
 * primary's answer did not complete (client gone, cut), nothing to compare; `shed` — the queue was
 * full; `skipped_body` — the body was over max_body_bytes or streamed; `unavailable` — no shadow
 * to send to (no candidate, deployment inactive, no ready replica); `not_idempotent` — an
 * Idempotency-Key request, not mirrored; `backed_off` — not sent because the shadow's replicas
 * could not be reached (5 copies in a row got no answer: copies wait 1 s doubling to 30 s, then
 * one probe; any answer resumes sending).
 */
export const ShadowOutcome = z.enum([
  "agreed",
  "disagreed",
  "shadow_error",
  "primary_error",
  "shed",
  "skipped_body",
  "unavailable",
  "not_idempotent",
  "backed_off",
]);
export type ShadowOutcome = z.infer<typeof ShadowOutcome>;

const Percentiles = z.object({
  p50: z.number().nullable(),
  p90: z.number().nullable(),
  p99: z.number().nullable(),
});

/** One disagreement kept as a sample (the newest 20). Bodies only with `keep_bodies`. The primary
 * is the deployment that answered the client, the shadow the one the copy went to. */
export const ShadowDisagreement = z.object({
  /** the request's `x-request-id` if it had one, else an id the engine gave it */
  request_id: z.string().max(200),
  at: Timestamp,
  shadow_deployment_id: z.string().max(64),
  primary_deployment_id: z.string().max(64),
  primary_status: z.int(),
  shadow_status: z.int(),
  /** dotted paths that differ ("status" for the status, "body" for an exact or non-JSON mismatch); at most 20 */
  differing_fields: z.array(z.string().max(256)),
  primary_latency_ms: z.number(),
  shadow_latency_ms: z.number(),
  request_body: z.string().optional(),
  primary_body: z.string().optional(),
  shadow_body: z.string().optional(),
});
export type ShadowDisagreement = z.infer<typeof ShadowDisagreement>;

/**
 * GET /v1/models/{model_id}/environments/{env_name}/shadow: the live comparison as this engine
 * counted it since the shadow was last set (each engine counts the requests it routed).
 */
export const ShadowReport = z.object({
  model_id: ObjectId,
  environment: z.string().max(63),
  /** the configured shadow, or null when the environment has none */
  shadow: ShadowSettings.nullable(),
  /** when counting started (the shadow was set, or the engine started) */
  since: Timestamp.nullable(),
  /** the deployment being compared (the candidate); null when none (no candidate) */
  shadow_deployment_id: z.string().max(64).nullable(),
  counts: z.record(ShadowOutcome, z.int()),
  /** compared = agreed + disagreed */
  compared: z.int(),
  /** agreed / compared; null before the first comparison */
  agreement_rate: z.number().nullable(),
  /** same status / compared */
  status_agreement_rate: z.number().nullable(),
  latency_ms: z.object({ primary: Percentiles, shadow: Percentiles, delta: Percentiles }),
  disagreements: z.array(ShadowDisagreement),
});
export type ShadowReport = z.infer<typeof ShadowReport>;
