/**
 * The pre-rollout webhook gate (Flagger's pre-rollout webhooks), the planner's side: before the
 * first traffic shift the promotion asks for its pre-rollout webhooks (`preRollout.status: "due"`)
 * and holds; the reconciler calls them at the edge and hands back their results; all 2xx → the
 * shift goes ahead, any failure → FAILED, with no traffic ever moved to the candidate.
 */
import type { PromotionWebhook, PromotionWebhookResult } from "../../sdk/index.js";
import { failPromotion } from "./outcomes.js";
import type { PromotionState } from "./types.js";

/** The webhooks to call before the first shift. */
export function preRolloutWebhooks(state: PromotionState): PromotionWebhook[] {
  return (state.settings.webhooks ?? []).filter((hook) => hook.type === "pre-rollout");
}

/** True while the first shift must wait for the pre-rollout webhooks. */
export function awaitsPreRollout(state: PromotionState): boolean {
  return preRolloutWebhooks(state).length > 0 && state.preRollout?.status !== "passed";
}

/** Ask the reconciler to call the webhooks (once; the state is unchanged while they are due). */
export function requestPreRollout(state: PromotionState): PromotionState {
  if (state.preRollout !== undefined) return state;
  return { ...state, preRollout: { status: "due", results: [] } };
}

/**
 * Record the webhooks' answers. Example: [{ name: "eval", passed: false, message: "answered 500 …" }]
 * → FAILED "pre-rollout webhook eval failed, no traffic was shifted: answered 500 …".
 */
export function recordPreRollout(state: PromotionState, answers: readonly PromotionWebhookResult[], now: number): PromotionState {
  if (state.preRollout?.status !== "due") return state;
  // answers of other types (the rollout gate's) are not this gate's
  const results = answers.filter((result) => result.type === "pre-rollout");
  if (results.length === 0) return state;
  const failed = results.find((result) => !result.passed);
  if (failed === undefined) return { ...state, preRollout: { status: "passed", results: [...results] } };
  return failPromotion(
    { ...state, preRollout: { status: "failed", results: [...results] } },
    now,
    `pre-rollout webhook ${failed.name} failed, no traffic was shifted to the candidate: ${failed.message}`,
  );
}
