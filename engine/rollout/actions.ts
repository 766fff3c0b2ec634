/**
 * User control actions on an in-progress promotion, with the table of which action applies in
 * which status. A refused action is not a silent no-op: it returns a reason that names the current
 * status, which the API turns into a 409.
 */
import { cancelPromotion, succeedPromotion, withoutPausedFrom } from "./outcomes.js";
import { enterRestoringPrevious } from "./phases.js";
import { analysisAfterResume } from "./analysis.js";
import type { ControlAction, ControlActionResult, PromotionState, PromotionStatus } from "./types.js";

/**
 * Which actions apply in which status. Pause only stops forward progress, so it applies while
 * RELEASING or RAMPING_UP; a ramp-down can only be forced one way or the other; terminal statuses
 * accept nothing.
 */
const ALLOWED_ACTIONS: Record<PromotionStatus, readonly ControlAction[]> = {
  RELEASING: ["pause", "cancel", "force_cancel", "force_roll_forward"],
  RAMPING_UP: ["pause", "cancel", "force_cancel", "force_roll_forward"],
  PAUSED: ["resume", "cancel", "force_cancel", "force_roll_forward"],
  RAMPING_DOWN: ["force_cancel", "force_roll_forward"],
  SUCCEEDED: [],
  FAILED: [],
  CANCELED: [],
};

/** The actions that apply in `status`. */
export function allowedActions(status: PromotionStatus): readonly ControlAction[] {
  return ALLOWED_ACTIONS[status];
}

/**
 * Where each action leads from a status it applies in (documentation and the property tests):
 * pause → PAUSED; resume → the status it paused from; cancel → RAMPING_DOWN (ROLLING) or CANCELED;
 * force_cancel → CANCELED; force_roll_forward → SUCCEEDED.
 */
export function statusAfterAction(state: PromotionState, action: ControlAction): PromotionStatus {
  switch (action) {
    case "pause":
      return "PAUSED";
    case "resume":
    case "approve":
      return state.pausedFrom ?? "RAMPING_UP";
    case "cancel":
      return state.kind === "ROLLING" ? "RAMPING_DOWN" : "CANCELED";
    case "force_cancel":
      return "CANCELED";
    case "force_roll_forward":
      return "SUCCEEDED";
  }
}

function applyAllowed(state: PromotionState, action: ControlAction, now: number): PromotionState {
  switch (action) {
    case "pause":
      // Desired replica counts stay as they are, so in-flight changes finish (reference: "the
      // candidate finishes scaling to 4 replicas; the split stays at 20% until you resume").
      return {
        ...state,
        status: "PAUSED",
        pausedFrom: state.status === "RELEASING" ? "RELEASING" : "RAMPING_UP",
      };
    case "resume":
      // An analysis pause is resumed by a person: measure afresh rather than pause again at once.
      return analysisAfterResume({ ...withoutPausedFrom(state), status: state.pausedFrom ?? "RAMPING_UP" });
    case "approve":
      return { ...withoutPausedFrom(state), status: state.pausedFrom ?? "RAMPING_UP", approval: "approved" };
    case "cancel":
      if (state.kind !== "ROLLING") return cancelPromotion(state, now);
      // Graceful: reverse the cycle, starting with the previous deployment, no candidate deadline.
      return enterRestoringPrevious(
        { ...withoutPausedFrom(state), status: "RAMPING_DOWN", readyDeadlineAt: null },
        now,
      );
    case "force_cancel":
      return cancelPromotion(state, now);
    case "force_roll_forward":
      return succeedPromotion(state, now);
  }
}

/**
 * Apply a user action at time `now`. Returns the new state (version + 1) to persist with
 * compare-and-set, or ok:false with a reason naming the current status.
 */
export function applyControlAction(state: PromotionState, action: ControlAction, now: number): ControlActionResult {
  // The manual gate is passed by `approve` only (a plain resume would make approving pointless),
  // and `approve` applies only at the gate: both depend on more than the status.
  if (action === "approve" && state.approval !== "waiting") {
    return { ok: false, reason: `cannot approve promotion ${state.id}: it is ${state.status} and not waiting for approval (confirm_promotion)` };
  }
  if (action === "resume" && state.approval === "waiting") {
    return { ok: false, reason: `cannot resume promotion ${state.id}: it waits for approval (confirm_promotion); approve it (POST …/approve_promotion, modelplane approve) or cancel it` };
  }
  if (action === "approve") return { ok: true, state: { ...applyAllowed(state, action, now), version: state.version + 1 } };
  const allowed = allowedActions(state.status);
  if (!allowed.includes(action)) {
    const options = allowed.length === 0 ? "none (it has finished)" : allowed.join(", ");
    return {
      ok: false,
      reason: `cannot ${action} promotion ${state.id}: it is ${state.status}; actions allowed now: ${options}`,
    };
  }
  return { ok: true, state: { ...applyAllowed(state, action, now), version: state.version + 1 } };
}
