/**
 * The manual gate (`promotion_settings.confirm_promotion`, Flagger's confirm-promotion): before
 * the candidate would get 100 % of the traffic, the promotion waits PAUSED until a person
 * approves it. The gate sits before the last shift, not after SUCCEEDED, so that until then the
 * previous deployment still serves its share and a rejection (cancel) is a cheap rollback. A
 * first promotion into an empty environment has nothing to protect and passes.
 */
import type { PromotionState } from "./types.js";

/** True when the next move would send all traffic to the candidate and a person must approve first. */
export function awaitsApproval(state: PromotionState): boolean {
  return state.settings.confirm_promotion === true && state.previousDeploymentId !== null && state.approval !== "approved";
}

/** PAUSED at the gate: `approve` goes back to where it was (`pausedFrom`). */
export function holdForApproval(state: PromotionState): PromotionState {
  if (state.status !== "RELEASING" && state.status !== "RAMPING_UP") return state;
  return { ...state, status: "PAUSED", pausedFrom: state.status, approval: "waiting" };
}

/** The gate's state for the API. */
export function approvalOf(state: Pick<PromotionState, "settings" | "approval" | "previousDeploymentId">): "not_required" | "pending" | "waiting" | "approved" {
  if (state.settings.confirm_promotion !== true || state.previousDeploymentId === null) return "not_required";
  return state.approval ?? "pending";
}
