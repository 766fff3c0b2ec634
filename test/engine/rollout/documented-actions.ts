/**
 * The documented outcome of each control action from each status, written out independently of
 * engine/rollout/actions.ts so that the tests catch a drift between the two.
 */
import type { ControlAction, PromotionKind, PromotionStatus } from "../../../engine/rollout/index.js";

export const CONTROL_ACTIONS: readonly ControlAction[] = ["pause", "resume", "cancel", "force_cancel", "force_roll_forward"];

export const PROMOTION_STATUSES: readonly PromotionStatus[] = [
  "RELEASING",
  "RAMPING_UP",
  "PAUSED",
  "RAMPING_DOWN",
  "SUCCEEDED",
  "FAILED",
  "CANCELED",
];

/** The status an action leads to, or "refused" (409). */
export function documentedOutcome(
  kind: PromotionKind,
  status: PromotionStatus,
  pausedFrom: PromotionStatus | undefined,
  action: ControlAction,
): PromotionStatus | "refused" {
  if (status === "SUCCEEDED" || status === "FAILED" || status === "CANCELED") return "refused";
  switch (action) {
    case "pause":
      return status === "RELEASING" || status === "RAMPING_UP" ? "PAUSED" : "refused";
    case "resume":
      return status === "PAUSED" ? (pausedFrom ?? "refused") : "refused";
    case "cancel":
      if (status === "RAMPING_DOWN") return "refused";
      return kind === "ROLLING" ? "RAMPING_DOWN" : "CANCELED";
    case "force_cancel":
      return "CANCELED";
    case "force_roll_forward":
      return "SUCCEEDED";
    case "approve":
      // only at the manual gate (approval "waiting"), which none of the documented states is at
      return "refused";
  }
}
