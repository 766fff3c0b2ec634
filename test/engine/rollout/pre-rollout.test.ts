/** The pre-rollout webhook gate in the planner: asked for before the first shift, decided from the answers. */
import { describe, expect, it } from "vitest";
import { planNextStep, type PromotionState } from "../../../engine/rollout/index.js";
import { PromotionWebhook, type PromotionWebhookResult } from "../../../sdk/index.js";
import { settingsWith, SimulatedRollout, start } from "./support.js";

const hook = PromotionWebhook.parse({ type: "pre-rollout", name: "eval", url: "http://127.0.0.1:9/eval" });
const answer = (passed: boolean): PromotionWebhookResult => ({ name: "eval", type: "pre-rollout", passed, attempts: passed ? 1 : 3, http_status: passed ? 200 : 500, message: passed ? "answered 200" : "answered 500: accuracy 0.61 < 0.8", at: "2026-01-01T00:00:00.000Z" });

function withHook(settings: Parameters<typeof settingsWith>[0]): SimulatedRollout {
  const state: PromotionState = start(settingsWith({ ...settings, webhooks: [hook] }), 4);
  return new SimulatedRollout(state, { previousReady: 4 });
}

describe("pre-rollout webhooks", () => {
  it.each([
    ["rolling", { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 25 } }],
    ["canary", { ramp_up_while_promoting: true, ramp_up_duration_seconds: 100 }],
    ["instant", {}],
  ] as const)("%s: the first shift waits with the webhooks due; a failed answer fails the promotion with no traffic moved", (_kind, settings) => {
    const rollout = withHook(settings);
    rollout.runToEnd();
    expect(rollout.state).toMatchObject({ status: "RELEASING", percentTrafficToNewVersion: 0, preRollout: { status: "due", results: [] } });
    // due: a pass without answers changes nothing
    expect(planNextStep(rollout.state, rollout.observe()).state).toBe(rollout.state);
    const failed = planNextStep(rollout.state, { ...rollout.observe(), webhooks: [answer(false)] }).state;
    expect(failed).toMatchObject({
      status: "FAILED",
      percentTrafficToNewVersion: 0,
      errorMessage: "pre-rollout webhook eval failed, no traffic was shifted to the candidate: answered 500: accuracy 0.61 < 0.8",
      preRollout: { status: "failed", results: [answer(false)] },
    });
    expect(rollout.history.every((state) => state.percentTrafficToNewVersion === 0)).toBe(true);
  });

  it("all answers 2xx: the promotion goes on and is not asked again", () => {
    const rollout = withHook({ rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 25 } });
    rollout.runToEnd();
    rollout.state = planNextStep(rollout.state, { ...rollout.observe(), webhooks: [answer(true)] }).state;
    rollout.applyDesired();
    expect(rollout.state.preRollout).toEqual({ status: "passed", results: [answer(true)] });
    rollout.runToEnd();
    expect(rollout.state.status).toBe("SUCCEEDED");
    expect(rollout.state.preRollout?.status).toBe("passed");
  });
});
