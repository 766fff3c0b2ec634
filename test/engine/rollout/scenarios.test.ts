/** Scenario tests that read like the reference's sentences. */
import { describe, expect, it } from "vitest";
import {
  applyControlAction,
  cleanupFor,
  planNextStep,
  type PromotionState,
} from "../../../engine/rollout/index.js";
import { MINUTE_MS, rollingSettings, settingsWith, SimulatedRollout, start } from "./support.js";

function mustApply(state: PromotionState, action: Parameters<typeof applyControlAction>[1], now: number): PromotionState {
  const result = applyControlAction(state, action, now);
  if (!result.ok) throw new Error(result.reason);
  return result.state;
}

describe("rolling deploy, max surge mode", () => {
  it("with 4 replicas and 25% surge the candidate goes 1,2,3,4 and traffic 25,50,75,100", () => {
    const rollout = new SimulatedRollout(start(rollingSettings({ max_surge_percent: 25 }), 4), { previousReady: 4 });
    rollout.runToEnd();
    expect(rollout.state.status).toBe("SUCCEEDED");
    expect(rollout.sequenceOf((s) => s.desiredReplicas.candidate)).toEqual([1, 2, 3, 4]);
    expect(rollout.sequenceOf((s) => s.percentTrafficToNewVersion)).toEqual([0, 25, 50, 75, 100]);
    expect(rollout.sequenceOf((s) => s.desiredReplicas.previous)).toEqual([4, 3, 2, 1, 0]);
    expect(rollout.state.step).toBe(4);
    expect(rollout.state.totalSteps).toBe(4);
  });

  it("with 10 replicas and 30% surge the candidate goes 3,6,9,10 and traffic 30,60,90,100", () => {
    const rollout = new SimulatedRollout(start(rollingSettings({ max_surge_percent: 30 }), 10), { previousReady: 10 });
    rollout.runToEnd();
    expect(rollout.sequenceOf((s) => s.desiredReplicas.candidate)).toEqual([3, 6, 9, 10]);
    expect(rollout.sequenceOf((s) => s.percentTrafficToNewVersion)).toEqual([0, 30, 60, 90, 100]);
  });

  it("with 50% overhead on 4 replicas the previous first grows to 6, then shrinks as candidate replicas become ready", () => {
    const rollout = new SimulatedRollout(
      start(rollingSettings({ max_surge_percent: 25, replica_overhead_percent: 50 }), 4),
      { previousReady: 4 },
    );
    expect(rollout.state.phase).toBe("provisioning_overhead");
    expect(rollout.state.desiredReplicas).toEqual({ previous: 6, candidate: 0 });
    rollout.runToEnd();
    expect(rollout.sequenceOf((s) => s.desiredReplicas.previous)).toEqual([6, 5, 4, 3, 2, 0]);
    expect(rollout.sequenceOf((s) => s.desiredReplicas.candidate)).toEqual([0, 1, 2, 3, 4]);
  });

  it("waits stabilization_time_seconds after each traffic shift before scaling the previous down", () => {
    const rollout = new SimulatedRollout(
      start(rollingSettings({ max_surge_percent: 50, stabilization_time_seconds: 60 }), 2),
      { previousReady: 2 },
    );
    rollout.now = 1_000; // the first candidate replica is ready
    const wakeAt = rollout.pass();
    expect(rollout.state.percentTrafficToNewVersion).toBe(50);
    expect(rollout.state.phase).toBe("stabilizing");
    expect(wakeAt).toBe(1_000 + 60_000);
    rollout.now = 60_999;
    rollout.pass();
    expect(rollout.state.desiredReplicas.previous).toBe(2);
    rollout.now = 61_000;
    rollout.pass();
    expect(rollout.state.desiredReplicas.previous).toBe(1);
  });

  it("sizes the previous scale-down from ready candidate replicas, not requested ones", () => {
    const state = start(rollingSettings({ max_surge_percent: 50 }), 4); // candidate asked for 2
    const oneReady = planNextStep(state, {
      now: 1,
      previous: { ready: 4, starting: 0, failing: false },
      candidate: { ready: 1, starting: 1, failing: false },
    });
    expect(oneReady.state.desiredReplicas).toEqual({ previous: 4, candidate: 2 });
    expect(oneReady.state.percentTrafficToNewVersion).toBe(0);
  });
});

describe("rolling deploy, max unavailable mode", () => {
  it("with 4 replicas and 25% unavailable the previous goes 3,2,1,0 before the candidate goes 1,2,3,4", () => {
    const rollout = new SimulatedRollout(
      start(rollingSettings({ max_surge_percent: 0, max_unavailable_percent: 25 }), 4),
      { previousReady: 4 },
    );
    expect(rollout.state.desiredReplicas).toEqual({ previous: 3, candidate: 0 });
    rollout.runToEnd();
    expect(rollout.state.status).toBe("SUCCEEDED");
    expect(rollout.sequenceOf((s) => s.desiredReplicas.previous)).toEqual([3, 2, 1, 0]);
    expect(rollout.sequenceOf((s) => s.desiredReplicas.candidate)).toEqual([0, 1, 2, 3, 4]);
    expect(rollout.sequenceOf((s) => s.percentTrafficToNewVersion)).toEqual([0, 25, 50, 75, 100]);
    const totals = rollout.history.map((s) => s.desiredReplicas.previous + s.desiredReplicas.candidate);
    expect(Math.min(...totals.slice(0, -1))).toBe(3); // never below N − 1 before cleanup
  });
});

describe("instant promotion", () => {
  it("scales the candidate to the previous count and switches 0 → 100 once all are ready", () => {
    const rollout = new SimulatedRollout(start(settingsWith(), 3), { previousReady: 3 });
    expect(rollout.state.desiredReplicas).toEqual({ previous: 3, candidate: 3 });
    rollout.runToEnd();
    expect(rollout.state.status).toBe("SUCCEEDED");
    expect(rollout.sequenceOf((s) => s.percentTrafficToNewVersion)).toEqual([0, 100]);
    expect(rollout.state.desiredReplicas).toEqual({ previous: 0, candidate: 3 });
  });

  it("into an empty environment starts max(1, min_replica) replicas, even with rolling settings", () => {
    const state = start(rollingSettings({ max_surge_percent: 25 }), 0, {
      previousDeploymentId: null,
      bounds: { min_replica: 2, max_replica: 5 },
    });
    expect(state.kind).toBe("INSTANT");
    expect(state.desiredReplicas).toEqual({ previous: 0, candidate: 2 });
  });
});

describe("canary ramp", () => {
  it("shifts traffic in 10 even stages over ramp_up_duration_seconds once the candidate has min replicas", () => {
    const settings = settingsWith({ ramp_up_while_promoting: true, ramp_up_duration_seconds: 600 });
    const rollout = new SimulatedRollout(start(settings, 4, { bounds: { min_replica: 2, max_replica: 10 } }), {
      previousReady: 4,
    });
    expect(rollout.state.desiredReplicas.candidate).toBe(2);
    rollout.runToEnd();
    expect(rollout.state.status).toBe("SUCCEEDED");
    expect(rollout.sequenceOf((s) => s.percentTrafficToNewVersion)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    const firstStage = rollout.history.find((s) => s.step === 1);
    expect(firstStage?.phaseStartedAt).toBe(1_000); // candidate ready after 1 s
    expect(rollout.state.finishedAt).toBe(1_000 + 600_000);
    expect(rollout.state.desiredReplicas.candidate).toBe(4);
  });

  it("sizes the candidate by its traffic share of demand", () => {
    const settings = settingsWith({ ramp_up_while_promoting: true, ramp_up_duration_seconds: 600 });
    const rollout = new SimulatedRollout(start(settings, 4), { previousReady: 4 });
    rollout.now = 1_000;
    rollout.pass(); // stage 1: 10%
    rollout.now = 1_000 + 60_000;
    rollout.pass(); // stage 2: 20%
    rollout.now = 1_000 + 2 * 60_000;
    rollout.pass(); // stage 3: 30%
    rollout.demandReplicas = 10;
    rollout.pass();
    expect(rollout.state.percentTrafficToNewVersion).toBe(30);
    expect(rollout.state.desiredReplicas.candidate).toBe(3);
    expect(rollout.state.baseReplicas).toBe(10);
  });
});

describe("pause and resume", () => {
  it("at 20% with the candidate told to scale from 2 to 4, pause lets it reach 4 but keeps traffic at 20% until resume", () => {
    const rollout = new SimulatedRollout(start(rollingSettings({ max_surge_percent: 20 }), 10), { previousReady: 10 });
    while (!(rollout.state.percentTrafficToNewVersion === 20 && rollout.state.desiredReplicas.candidate === 4)) {
      rollout.now = rollout.nextEventAt(rollout.pass()) ?? rollout.now;
    }
    rollout.state = mustApply(rollout.state, "pause", rollout.now);
    expect(rollout.state.status).toBe("PAUSED");
    rollout.now += 5 * MINUTE_MS;
    rollout.applyDesired();
    rollout.pass();
    expect(rollout.candidate.observe(rollout.now).ready).toBe(4);
    expect(rollout.state.percentTrafficToNewVersion).toBe(20);
    expect(rollout.state.desiredReplicas.candidate).toBe(4);
    rollout.state = mustApply(rollout.state, "resume", rollout.now);
    expect(rollout.state.status).toBe("RAMPING_UP");
    rollout.pass();
    expect(rollout.state.percentTrafficToNewVersion).toBe(40);
  });

  it("keeps autoscaling while paused: 60/40 split and 10 more replicas of demand → 6 previous, 4 candidate", () => {
    const rollout = new SimulatedRollout(start(rollingSettings({ max_surge_percent: 10 }), 10), { previousReady: 10 });
    while (rollout.state.percentTrafficToNewVersion !== 40) {
      rollout.now = rollout.nextEventAt(rollout.pass()) ?? rollout.now;
    }
    rollout.state = mustApply(rollout.state, "pause", rollout.now);
    const before = rollout.state.desiredReplicas;
    rollout.demandReplicas = 20;
    rollout.pass();
    expect(rollout.state.baseReplicas).toBe(20);
    expect(rollout.state.desiredReplicas).toEqual({ previous: before.previous + 6, candidate: before.candidate + 4 });
    rollout.demandReplicas = 5; // falling demand removes nothing during the rollout
    rollout.pass();
    expect(rollout.state.baseReplicas).toBe(20);
  });
});

describe("cancel", () => {
  it("a rolling deploy ramps down: traffic back to 0% as the previous is ready, then CANCELED", () => {
    const rollout = new SimulatedRollout(start(rollingSettings({ max_surge_percent: 25 }), 4), { previousReady: 4 });
    while (rollout.state.percentTrafficToNewVersion !== 50 || rollout.state.phase !== "scaling_up_candidate") {
      rollout.now = rollout.nextEventAt(rollout.pass()) ?? rollout.now;
    }
    rollout.state = mustApply(rollout.state, "cancel", rollout.now);
    expect(rollout.state.status).toBe("RAMPING_DOWN");
    rollout.applyDesired();
    rollout.runToEnd();
    expect(rollout.state.status).toBe("CANCELED");
    expect(rollout.state.percentTrafficToNewVersion).toBe(0);
    expect(rollout.state.desiredReplicas).toEqual({ previous: 4, candidate: 0 });
    const rampDown = rollout.history.filter((s) => s.status === "RAMPING_DOWN");
    const percents = rampDown.map((s) => s.percentTrafficToNewVersion);
    expect(percents).toEqual([...percents].sort((a, b) => b - a)); // only moves back
  });

  it("an instant or canary promotion is CANCELED at once with 0%, candidate 0, previous N", () => {
    for (const settings of [settingsWith(), settingsWith({ ramp_up_while_promoting: true })]) {
      const canceled = mustApply(start(settings, 3), "cancel", 5);
      expect(canceled.status).toBe("CANCELED");
      expect(canceled.percentTrafficToNewVersion).toBe(0);
      expect(canceled.desiredReplicas).toEqual({ previous: 3, candidate: 0 });
      expect(canceled.finishedAt).toBe(5);
    }
  });

  it("force roll forward works while ramping down: 100% and the candidate at least N", () => {
    const canceled = mustApply(start(rollingSettings({ max_surge_percent: 25 }), 4), "cancel", 1);
    const forced = mustApply(canceled, "force_roll_forward", 2);
    expect(forced.status).toBe("SUCCEEDED");
    expect(forced.percentTrafficToNewVersion).toBe(100);
    expect(forced.desiredReplicas.candidate).toBe(4);
  });
});

describe("failure", () => {
  it("a crash-looping candidate at 25% fails at once: 0%, previous back to N, candidate 0, with its last error", () => {
    const rollout = new SimulatedRollout(start(rollingSettings({ max_surge_percent: 25 }), 4), { previousReady: 4 });
    while (rollout.state.percentTrafficToNewVersion !== 25) {
      rollout.now = rollout.nextEventAt(rollout.pass()) ?? rollout.now;
    }
    rollout.candidate.failing = true;
    rollout.candidate.lastError = "exit code 1: CUDA out of memory";
    const result = planNextStep(rollout.state, rollout.observe());
    expect(result.state.status).toBe("FAILED");
    expect(result.state.percentTrafficToNewVersion).toBe(0);
    expect(result.state.desiredReplicas).toEqual({ previous: 4, candidate: 0 });
    expect(result.state.errorMessage).toContain("CUDA out of memory");
    expect(result.events.map((e) => e.kind)).toEqual(["status", "traffic", "replicas"]);
  });

  it("a candidate that does not get its replicas ready by the deadline fails, naming the counts", () => {
    const state = start(settingsWith(), 2, { readyTimeoutMs: 60_000 });
    const observation = {
      previous: { ready: 2, starting: 0, failing: false },
      candidate: { ready: 1, starting: 1, failing: false, lastError: "readiness probe timed out" },
    };
    const before = planNextStep(state, { ...observation, now: 59_999 });
    expect(before.state).toBe(state);
    expect(before.wakeAt).toBe(60_000);
    const after = planNextStep(state, { ...observation, now: 60_000 });
    expect(after.state.status).toBe("FAILED");
    expect(after.state.errorMessage).toBe(
      "candidate deployment dep-candidate had 1 of 2 replicas ready 60s after they were requested: readiness probe timed out",
    );
  });

  it("the failure names the candidate by name, its id in brackets (a state persisted without the name gives the id alone, as above)", () => {
    const state = start(settingsWith(), 2, { candidateDeploymentName: "v2" });
    const failed = planNextStep(state, {
      now: 1_000,
      previous: { ready: 2, starting: 0, failing: false },
      candidate: { ready: 0, starting: 0, failing: true, lastError: "replica exited with code 3" },
    });
    expect(failed.state.errorMessage).toBe("candidate deployment v2 (dep-candidate) is failing: replica exited with code 3");
  });

  it("a first promotion into an empty environment that fails keeps 0% and leaves no deployment running", () => {
    const state = start(settingsWith(), 0, { previousDeploymentId: null });
    const failed = planNextStep(state, {
      now: 1,
      previous: null,
      candidate: { ready: 0, starting: 0, failing: true, lastError: "bad image" },
    });
    expect(failed.state.status).toBe("FAILED");
    expect(failed.state.percentTrafficToNewVersion).toBe(0);
    expect(failed.state.desiredReplicas).toEqual({ previous: 0, candidate: 0 });
    expect(cleanupFor(failed.state)).toEqual({ action: "none" });
  });
});

describe("success and cleanup", () => {
  it.each([
    { strategy: "SCALE_TO_ZERO" as const, previous: 0, cleanup: { action: "scale_to_zero", deploymentId: "dep-previous" } },
    { strategy: "DEACTIVATE" as const, previous: 0, cleanup: { action: "deactivate", deploymentId: "dep-previous" } },
    { strategy: "KEEP" as const, previous: 3, cleanup: { action: "keep", deploymentId: "dep-previous", replicas: 3 } },
  ])("$strategy: previous desired $previous", ({ strategy, previous, cleanup }) => {
    const rollout = new SimulatedRollout(start(settingsWith({ promotion_cleanup_strategy: strategy }), 3), {
      previousReady: 3,
    });
    rollout.runToEnd();
    expect(rollout.state.status).toBe("SUCCEEDED");
    expect(rollout.state.desiredReplicas).toEqual({ previous, candidate: 3 });
    expect(cleanupFor(rollout.state)).toEqual(cleanup);
  });

  it("a promotion that has not succeeded needs no cleanup", () => {
    expect(cleanupFor(start(settingsWith(), 3))).toEqual({ action: "none" });
  });
});

describe("idempotence", () => {
  it("planNextStep twice with the same observation changes nothing the second time", () => {
    const rollout = new SimulatedRollout(
      start(rollingSettings({ max_surge_percent: 25, stabilization_time_seconds: 30, replica_overhead_percent: 25 }), 4),
      { previousReady: 4 },
    );
    let checked = 0;
    for (let pass = 0; pass < 200 && rollout.state.status !== "SUCCEEDED"; pass += 1) {
      const observation = rollout.observe();
      const first = planNextStep(rollout.state, observation);
      const second = planNextStep(first.state, observation);
      expect(second.state).toBe(first.state);
      expect(second.events).toEqual([]);
      expect(second.wakeAt).toBe(first.wakeAt);
      rollout.state = first.state;
      rollout.applyDesired();
      rollout.now = rollout.nextEventAt(first.wakeAt) ?? rollout.now;
      checked += 1;
    }
    expect(rollout.state.status).toBe("SUCCEEDED");
    expect(checked).toBeGreaterThan(5);
  });

  it("bumps the version exactly once per pass that changes something", () => {
    const state = start(settingsWith(), 1);
    const observation = {
      now: 10,
      previous: { ready: 1, starting: 0, failing: false },
      candidate: { ready: 1, starting: 0, failing: false },
    };
    const done = planNextStep(state, observation);
    expect(done.state.version).toBe(state.version + 1);
    expect(done.events.map((e) => e.kind)).toEqual(["status", "step", "traffic", "replicas"]);
  });
});
