/** The manual gate (confirm_promotion): the planner waits PAUSED before the candidate would get all the traffic. */
import { describe, expect, it } from "vitest";
import { applyControlAction, type PromotionState } from "../../../engine/rollout/index.js";
import { settingsWith, SimulatedRollout, start } from "./support.js";

function approve(rollout: SimulatedRollout, action: "approve" | "resume" = "approve"): void {
  const result = applyControlAction(rollout.state, action, rollout.now);
  if (!result.ok) throw new Error(result.reason);
  rollout.state = result.state;
}

function gated(settings: Parameters<typeof settingsWith>[0], previousReplicas = 4, previousDeploymentId: string | null = "dep-previous"): SimulatedRollout {
  const state: PromotionState = start(settingsWith({ ...settings, confirm_promotion: true }), previousReplicas, { previousDeploymentId });
  return new SimulatedRollout(state, { previousReady: previousDeploymentId === null ? 0 : previousReplicas });
}

describe("the manual gate", () => {
  it("rolling: holds PAUSED at 75 % before the last shift, the previous still serving; only approve passes it", () => {
    const rollout = gated({ rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 25 } });
    rollout.runToEnd();
    expect(rollout.state).toMatchObject({ status: "PAUSED", pausedFrom: "RAMPING_UP", approval: "waiting", percentTrafficToNewVersion: 75, step: 3 });
    expect(rollout.state.desiredReplicas.previous).toBeGreaterThan(0);
    // waiting: nothing moves however long it waits, and resume is refused with the way out
    rollout.now += 3_600_000;
    const waiting = rollout.state;
    rollout.pass();
    expect(rollout.state).toBe(waiting);
    const resumed = applyControlAction(rollout.state, "resume", rollout.now);
    expect(resumed).toEqual({ ok: false, reason: expect.stringContaining("waits for approval (confirm_promotion); approve it") });
    approve(rollout);
    expect(rollout.state).toMatchObject({ status: "RAMPING_UP", approval: "approved" });
    rollout.runToEnd();
    expect(rollout.state.status).toBe("SUCCEEDED");
    expect(rollout.sequenceOf((state) => state.percentTrafficToNewVersion)).toEqual([0, 25, 50, 75, 100]);
  });

  it("canary: holds before the 10th stage (100 %); instant: holds before switching", () => {
    const canary = gated({ ramp_up_while_promoting: true, ramp_up_duration_seconds: 100 }, 2);
    canary.runToEnd();
    expect(canary.state).toMatchObject({ status: "PAUSED", approval: "waiting", step: 9, percentTrafficToNewVersion: 90 });
    approve(canary);
    canary.runToEnd();
    expect(canary.state.status).toBe("SUCCEEDED");

    const instant = gated({}, 2);
    instant.runToEnd();
    expect(instant.state).toMatchObject({ status: "PAUSED", pausedFrom: "RELEASING", approval: "waiting", percentTrafficToNewVersion: 0 });
    approve(instant);
    expect(instant.state.status).toBe("RELEASING");
    instant.runToEnd();
    expect(instant.state.status).toBe("SUCCEEDED");
  });

  it("a first promotion into an empty environment has nothing to protect and passes; approve elsewhere is refused", () => {
    const first = gated({}, 0, null);
    first.runToEnd();
    expect(first.state.status).toBe("SUCCEEDED");
    const rollout = gated({ rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 25 } });
    rollout.pass();
    expect(applyControlAction(rollout.state, "approve", 0)).toEqual({ ok: false, reason: expect.stringContaining("not waiting for approval") });
  });

  it("cancel at the gate ramps back to the previous deployment", () => {
    const rollout = gated({ rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 25 } });
    rollout.runToEnd();
    const canceled = applyControlAction(rollout.state, "cancel", rollout.now);
    if (!canceled.ok) throw new Error(canceled.reason);
    rollout.state = canceled.state;
    rollout.runToEnd();
    expect(rollout.state).toMatchObject({ status: "CANCELED", percentTrafficToNewVersion: 0 });
  });
});
