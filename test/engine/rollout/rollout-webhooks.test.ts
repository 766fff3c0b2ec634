/** The per-step (`rollout`) webhook gate in the planner: asked for before each shift after the first, decided from the answers. */
import { describe, expect, it } from "vitest";
import { applyControlAction, isTerminalStatus, planNextStep, type PromotionState } from "../../../engine/rollout/index.js";
import { rolloutGateCallable } from "../../../engine/rollout/rollout-webhooks.js";
import { PromotionAnalysis, PromotionWebhook, type PromotionWebhookResult } from "../../../sdk/index.js";
import { settingsWith, SimulatedRollout, start } from "./support.js";

const hook = PromotionWebhook.parse({ type: "rollout", name: "smoke", url: "http://127.0.0.1:9/smoke" });
const preHook = PromotionWebhook.parse({ type: "pre-rollout", name: "eval", url: "http://127.0.0.1:9/eval" });
const answer = (passed: boolean, type: PromotionWebhookResult["type"] = "rollout"): PromotionWebhookResult => ({
  name: type === "rollout" ? "smoke" : "eval",
  type,
  passed,
  attempts: passed ? 1 : 3,
  http_status: passed ? 200 : 503,
  message: passed ? "answered 200" : "answered 503: p99 2.1 s > 1 s",
  at: "2026-01-01T00:00:00.000Z",
});

const ROLLING = { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 25 } } as const;
const CANARY = { ramp_up_while_promoting: true, ramp_up_duration_seconds: 100 } as const;

function withHooks(settings: Parameters<typeof settingsWith>[0], hooks: PromotionWebhook[] = [hook]): SimulatedRollout {
  const state: PromotionState = start(settingsWith({ ...settings, webhooks: hooks }), 4);
  return new SimulatedRollout(state, { previousReady: 4 });
}

/**
 * Passes until a webhook gate is due, the promotion ended or nothing more happens. (runToEnd would
 * keep passing on a due canary gate: its stage timer is past, and the reconciler rightly passes
 * again at once — to call the webhooks.)
 */
function runToGate(rollout: SimulatedRollout): void {
  for (let passes = 0; passes < 1_000; passes += 1) {
    const versionBefore = rollout.state.version;
    const wakeAt = rollout.pass();
    if (isTerminalStatus(rollout.state.status) || rollout.state.rolloutGate?.status === "due" || rollout.state.preRollout?.status === "due") return;
    if (rollout.state.version !== versionBefore) continue;
    const next = rollout.nextEventAt(wakeAt);
    if (next === null) return;
    rollout.now = Math.max(rollout.now, next);
  }
  throw new Error("no gate, no end and no rest after 1000 passes");
}

/** Runs to the end answering every due gate with `passes(step)`; returns the steps asked for and the traffic when each was asked. */
function driveAnswering(rollout: SimulatedRollout, passes: (step: number) => boolean): { step: number; percent: number }[] {
  const asked: { step: number; percent: number }[] = [];
  for (let gates = 0; gates < 20; gates += 1) {
    runToGate(rollout);
    const gate = rollout.state.rolloutGate;
    if (gate?.status !== "due") return asked;
    asked.push({ step: gate.step, percent: rollout.state.percentTrafficToNewVersion });
    // due: a pass without answers changes nothing (the shift waits)
    expect(planNextStep(rollout.state, rollout.observe()).state).toBe(rollout.state);
    rollout.state = planNextStep(rollout.state, { ...rollout.observe(), webhooks: [answer(passes(gate.step))] }).state;
    rollout.applyDesired();
  }
  throw new Error("more gates than a promotion has steps");
}

describe("rollout webhooks", () => {
  it("rolling: asked once before each shift after the first, with the traffic unmoved while due; all 2xx → SUCCEEDED", () => {
    const rollout = withHooks(ROLLING);
    const asked = driveAnswering(rollout, () => true);
    expect(asked).toEqual([
      { step: 2, percent: 25 },
      { step: 3, percent: 50 },
      { step: 4, percent: 75 },
    ]);
    expect(rollout.state.status).toBe("SUCCEEDED");
    expect(rollout.state.webhookResults).toHaveLength(3);
    // the first shift is the pre-rollout gate's, never this one's
    expect(rollout.history.some((state) => state.rolloutGate?.step === 1)).toBe(false);
  });

  it("canary: asked before stages 2-10, not before the first", () => {
    const rollout = withHooks(CANARY);
    const asked = driveAnswering(rollout, () => true);
    expect(asked.map((gate) => gate.step)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(asked.map((gate) => gate.percent)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(rollout.state.status).toBe("SUCCEEDED");
  });

  it("instant: a single shift, so never asked", () => {
    const rollout = withHooks({});
    expect(driveAnswering(rollout, () => true)).toEqual([]);
    expect(rollout.state.status).toBe("SUCCEEDED");
  });

  it.each([
    ["rolling", ROLLING, "rollout webhook smoke failed before step 3 (traffic was at 50 %), traffic moved back to the previous deployment: answered 503: p99 2.1 s > 1 s"],
    ["canary", CANARY, "rollout webhook smoke failed before step 3 (traffic was at 20 %), traffic moved back to the previous deployment: answered 503: p99 2.1 s > 1 s"],
  ] as const)("%s: a failed answer fails the promotion at once, traffic back to 0, the shift never made", (_kind, settings, reason) => {
    const rollout = withHooks(settings);
    const asked = driveAnswering(rollout, (step) => step !== 3);
    expect(asked.map((gate) => gate.step)).toEqual([2, 3]);
    expect(rollout.state).toMatchObject({ status: "FAILED", percentTrafficToNewVersion: 0, errorMessage: reason, rolloutGate: { step: 3, status: "failed" } });
    expect(rollout.history.some((state) => state.step >= 3 && state.status !== "FAILED")).toBe(false);
  });

  it("with analysis configured a failure still fails at once (one rule), not counted toward failure_limit", () => {
    // dry run: the simulation has no analysis runner, and a real analysis would hold each step for a run
    const analysis = PromotionAnalysis.parse({ failure_limit: 3, dry_run: true, metrics: [{ type: "success_rate", max_drop: 0.02 }] });
    const rollout = withHooks({ ...ROLLING, analysis });
    driveAnswering(rollout, (step) => step !== 2);
    expect(rollout.state.status).toBe("FAILED");
  });

  it.each(["pause", "cancel"] as const)("%s while the gate is due: not called or decided until moving forward again; a late failure never turns a cancel into FAILED", (action) => {
    const rollout = withHooks(ROLLING);
    runToGate(rollout);
    expect(rollout.state.rolloutGate?.status).toBe("due");
    const acted = applyControlAction(rollout.state, action, rollout.now);
    if (!acted.ok) throw new Error(acted.reason);
    rollout.state = acted.state;
    expect(rolloutGateCallable(rollout.state)).toBe(false);
    const after = planNextStep(rollout.state, { ...rollout.observe(), webhooks: [answer(false)] }).state;
    expect(after.status).toBe(action === "pause" ? "PAUSED" : "RAMPING_DOWN");
    expect(after.rolloutGate?.status).toBe("due");
    if (action === "cancel") {
      rollout.state = after;
      rollout.applyDesired();
      rollout.runToEnd();
      expect(rollout.state.status).toBe("CANCELED");
    } else {
      const resumed = applyControlAction(after, "resume", rollout.now);
      if (!resumed.ok) throw new Error(resumed.reason);
      expect(rolloutGateCallable(resumed.state)).toBe(true);
    }
  });

  it("an answer of another gate's type is not this gate's verdict", () => {
    const rollout = withHooks(ROLLING);
    runToGate(rollout);
    expect(rollout.state.rolloutGate?.status).toBe("due");
    expect(planNextStep(rollout.state, { ...rollout.observe(), webhooks: [answer(false, "pre-rollout")] }).state).toBe(rollout.state);
  });

  it("with pre-rollout and the manual gate: pre-rollout before step 1, rollout before each later shift, approval after the last one's webhooks, asked once across the pause", () => {
    const rollout = withHooks({ ...ROLLING, confirm_promotion: true }, [preHook, hook]);
    runToGate(rollout);
    expect(rollout.state.preRollout?.status).toBe("due");
    rollout.state = planNextStep(rollout.state, { ...rollout.observe(), webhooks: [answer(true, "pre-rollout")] }).state;
    rollout.applyDesired();
    const asked = driveAnswering(rollout, () => true);
    expect(asked.map((gate) => gate.step)).toEqual([2, 3, 4]);
    expect(rollout.state).toMatchObject({ status: "PAUSED", approval: "waiting", percentTrafficToNewVersion: 75, rolloutGate: { step: 4, status: "passed" } });
    const approved = applyControlAction(rollout.state, "approve", rollout.now);
    if (!approved.ok) throw new Error(approved.reason);
    rollout.state = approved.state;
    // not asked again for step 4 after the approval
    expect(driveAnswering(rollout, () => true)).toEqual([]);
    expect(rollout.state.status).toBe("SUCCEEDED");
  });
});
