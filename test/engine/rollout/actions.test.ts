import { describe, expect, it } from "vitest";
import {
  allowedActions,
  applyControlAction,
  planNextStep,
  type PromotionState,
  type PromotionStatus,
} from "../../../engine/rollout/index.js";
import { CONTROL_ACTIONS, documentedOutcome, PROMOTION_STATUSES } from "./documented-actions.js";
import { rollingSettings, settingsWith, SimulatedRollout, start } from "./support.js";

function applied(state: PromotionState, action: Parameters<typeof applyControlAction>[1]): PromotionState {
  const result = applyControlAction(state, action, 100);
  if (!result.ok) throw new Error(result.reason);
  return result.state;
}

/** A rolling promotion in each status. */
function rollingPromotionIn(status: PromotionStatus): PromotionState {
  const releasing = start(rollingSettings({ max_surge_percent: 25 }), 4);
  const rollout = new SimulatedRollout(releasing, { previousReady: 4 });
  rollout.now = 1_000;
  rollout.pass();
  const rampingUp = rollout.state;
  switch (status) {
    case "RELEASING":
      return releasing;
    case "RAMPING_UP":
      return rampingUp;
    case "PAUSED":
      return applied(rampingUp, "pause");
    case "RAMPING_DOWN":
      return applied(rampingUp, "cancel");
    case "SUCCEEDED":
      return applied(rampingUp, "force_roll_forward");
    case "CANCELED":
      return applied(rampingUp, "force_cancel");
    case "FAILED":
      return planNextStep(rampingUp, {
        now: 2_000,
        previous: { ready: 4, starting: 0, failing: false },
        candidate: { ready: 0, starting: 1, failing: true, lastError: "boom" },
      }).state;
  }
}

describe("control actions follow the transition table", () => {
  for (const status of PROMOTION_STATUSES) {
    const state = rollingPromotionIn(status);
    it(`a rolling promotion is ${status} as set up`, () => {
      expect(state.status).toBe(status);
    });
    for (const action of CONTROL_ACTIONS) {
      const expected = documentedOutcome(state.kind, status, state.pausedFrom, action);
      it(`${action} from ${status} → ${expected}`, () => {
        const result = applyControlAction(state, action, 100);
        if (expected === "refused") {
          expect(result.ok).toBe(false);
          if (!result.ok) expect(result.reason).toContain(status);
          expect(allowedActions(status)).not.toContain(action);
        } else {
          expect(result.ok).toBe(true);
          if (result.ok) {
            expect(result.state.status).toBe(expected);
            expect(result.state.version).toBe(state.version + 1);
          }
          expect(allowedActions(status)).toContain(action);
        }
      });
    }
  }

  it("pause from RELEASING resumes to RELEASING", () => {
    const paused = applied(start(settingsWith(), 2), "pause");
    expect(paused.pausedFrom).toBe("RELEASING");
    const resumed = applied(paused, "resume");
    expect(resumed.status).toBe("RELEASING");
    expect(resumed.pausedFrom).toBeUndefined();
  });

  it("force cancel puts all traffic back and the previous at N; force roll forward keeps candidate replicas", () => {
    const rampingUp = rollingPromotionIn("RAMPING_UP");
    const canceled = applied(rampingUp, "force_cancel");
    expect(canceled.percentTrafficToNewVersion).toBe(0);
    expect(canceled.desiredReplicas).toEqual({ previous: 4, candidate: 0 });
    const forward = applied({ ...rampingUp, desiredReplicas: { previous: 1, candidate: 6 } }, "force_roll_forward");
    expect(forward.percentTrafficToNewVersion).toBe(100);
    expect(forward.desiredReplicas.candidate).toBe(6);
  });

  it("a refused action says which status the promotion is in", () => {
    const result = applyControlAction(rollingPromotionIn("SUCCEEDED"), "pause", 1);
    expect(result).toEqual({
      ok: false,
      reason: "cannot pause promotion prom-1: it is SUCCEEDED; actions allowed now: none (it has finished)",
    });
  });
});
