/**
 * The post-rollout webhooks (Flagger's post-rollout), the decisions: once a promotion has ended —
 * SUCCEEDED, FAILED or CANCELED, by the planner or by an API action — its post-rollout webhooks are
 * due once; the reconciler calls them after the end is persisted and records their answers here.
 * Recording never touches the outcome: a notification receiver that is down cannot undo a rollout
 * or a rollback that already happened.
 */
import type { PromotionWebhook, PromotionWebhookResult } from "../../sdk/index.js";
import { isTerminalStatus } from "./plan.js";
import { withWebhookResults } from "./rollout-webhooks.js";
import type { PromotionState } from "./types.js";

export function postRolloutWebhooks(state: PromotionState): PromotionWebhook[] {
  return (state.settings.webhooks ?? []).filter((hook) => hook.type === "post-rollout");
}

/** True once the promotion has ended and its post-rollout webhooks have not been called yet. */
export function postRolloutDue(state: PromotionState): boolean {
  return isTerminalStatus(state.status) && postRolloutWebhooks(state).length > 0 && state.postRollout === undefined;
}

/** What the post-rollout body adds to the common one: how it ended, and why when it FAILED. */
export function postRolloutOutcome(state: PromotionState): { outcome: PromotionState["status"]; error_message: string | null } {
  return { outcome: state.status, error_message: state.errorMessage ?? null };
}

/**
 * Record the answers (also failed ones: they are only information). Status, traffic, error message
 * and every other field of the outcome stay as they are. Example: SUCCEEDED + [{ name: "notify",
 * passed: false }] → still SUCCEEDED, `postRollout.results` and `webhookResults` hold the answer.
 */
export function recordPostRollout(state: PromotionState, answers: readonly PromotionWebhookResult[]): PromotionState {
  if (!postRolloutDue(state)) return state;
  const results = answers.filter((result) => result.type === "post-rollout");
  return { ...withWebhookResults(state, results), postRollout: { results }, version: state.version + 1 };
}
