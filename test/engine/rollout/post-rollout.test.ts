/** The post-rollout webhooks: due once after the end, whatever the end; their answers never change the outcome. */
import { describe, expect, it } from "vitest";
import { applyControlAction, type PromotionState } from "../../../engine/rollout/index.js";
import { postRolloutDue, postRolloutOutcome, recordPostRollout } from "../../../engine/rollout/post-rollout.js";
import { PromotionWebhook, type PromotionWebhookResult } from "../../../sdk/index.js";
import { settingsWith, SimulatedRollout, start } from "./support.js";

const hook = PromotionWebhook.parse({ type: "post-rollout", name: "notify", url: "http://127.0.0.1:9/notify" });
const answer = (passed: boolean, type: PromotionWebhookResult["type"] = "post-rollout"): PromotionWebhookResult => ({
  name: "notify",
  type,
  passed,
  attempts: passed ? 1 : 3,
  http_status: passed ? 204 : 500,
  message: passed ? "answered 204" : "answered 500: slack down",
  at: "2026-01-01T00:00:00.000Z",
});
const ROLLING = { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 25 } } as const;

function rolloutWith(hooks: PromotionWebhook[]): SimulatedRollout {
  const state: PromotionState = start(settingsWith({ ...ROLLING, webhooks: hooks }), 4);
  return new SimulatedRollout(state, { previousReady: 4 });
}

describe("post-rollout webhooks", () => {
  it("due only once the promotion has ended; a failed answer is recorded and leaves SUCCEEDED, traffic and the rest as they were", () => {
    const rollout = rolloutWith([hook]);
    rollout.runToEnd();
    expect(rollout.history.slice(0, -1).some(postRolloutDue)).toBe(false);
    const ended = rollout.state;
    expect(ended.status).toBe("SUCCEEDED");
    expect(postRolloutDue(ended)).toBe(true);
    expect(postRolloutOutcome(ended)).toEqual({ outcome: "SUCCEEDED", error_message: null });

    const recorded = recordPostRollout(ended, [answer(false)]);
    const { postRollout, webhookResults, version, ...outcome } = recorded;
    const { version: _endedVersion, ...endedOutcome } = ended;
    expect(outcome).toEqual(endedOutcome);
    expect(version).toBe(ended.version + 1);
    expect(postRollout).toEqual({ results: [answer(false)] });
    expect(webhookResults).toEqual([answer(false)]);
    // called once: recorded, it is no longer due and a second record changes nothing
    expect(postRolloutDue(recorded)).toBe(false);
    expect(recordPostRollout(recorded, [answer(true)])).toBe(recorded);
  });

  it("FAILED and CANCELED are announced too, with the outcome and the reason in the body", () => {
    const failing = rolloutWith([hook]);
    failing.candidate.failing = true;
    failing.candidate.lastError = "OOMKilled";
    failing.runToEnd();
    expect(failing.state.status).toBe("FAILED");
    expect(postRolloutDue(failing.state)).toBe(true);
    expect(postRolloutOutcome(failing.state)).toEqual({ outcome: "FAILED", error_message: expect.stringContaining("is failing: OOMKilled") });

    const canceled = applyControlAction(start(settingsWith({ webhooks: [hook] }), 4), "force_cancel", 1_000);
    if (!canceled.ok) throw new Error(canceled.reason);
    expect(canceled.state.status).toBe("CANCELED");
    expect(postRolloutDue(canceled.state)).toBe(true);
    expect(postRolloutOutcome(canceled.state)).toEqual({ outcome: "CANCELED", error_message: null });
  });

  it("never due without post-rollout webhooks (other types do not count)", () => {
    const rollout = rolloutWith([PromotionWebhook.parse({ type: "rollout", name: "smoke", url: "http://127.0.0.1:9/smoke" })]);
    expect(postRolloutDue({ ...rollout.state, status: "SUCCEEDED" })).toBe(false);
  });
});
