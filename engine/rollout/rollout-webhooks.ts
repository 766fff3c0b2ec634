/**
 * The per-step webhook gate (Flagger's `rollout` webhooks), the planner's side: before each traffic
 * shift after the first (the next rolling step, the next canary stage) the promotion asks for its
 * rollout webhooks for that shift (`rolloutGate: { step, status: "due" }`) and holds; the reconciler
 * calls them at the edge and hands back their answers; all 2xx → that shift goes ahead, any
 * failure → FAILED at once (the rule and why: sdk/schemas/promotion-webhooks.ts).
 *
 * The gate is keyed by the step the shift will make, so each shift is asked for exactly once —
 * also across a pause at the manual gate, a takeover by another engine, or a re-plan after a lost
 * compare-and-set — and a shift the autoscaler makes smaller or larger is still the same step.
 */
import type { PromotionWebhook, PromotionWebhookResult } from "../../sdk/index.js";
import { failPromotion } from "./outcomes.js";
import type { PromotionState } from "./types.js";

/** Answers kept on the promotion across all gates: the API shows the newest 20. */
export const MAX_RECORDED_WEBHOOK_RESULTS = 20;

/** The webhooks to call before each shift after the first. */
export function rolloutWebhooks(state: PromotionState): PromotionWebhook[] {
  return (state.settings.webhooks ?? []).filter((hook) => hook.type === "rollout");
}

/** True while the shift to step `state.step + 1` must wait for the rollout webhooks. */
export function awaitsRolloutGate(state: PromotionState): boolean {
  if (rolloutWebhooks(state).length === 0) return false;
  const gate = state.rolloutGate;
  return !(gate !== undefined && gate.step === state.step + 1 && gate.status === "passed");
}

/** Ask the reconciler to call the webhooks for the next shift (the state is unchanged while due). */
export function requestRolloutGate(state: PromotionState): PromotionState {
  const step = state.step + 1;
  if (state.rolloutGate?.step === step) return state;
  return { ...state, rolloutGate: { step, status: "due", results: [] } };
}

/**
 * Whether the due gate may be called and decided now: only while moving forward. Paused, the call
 * waits for the resume (a person stopped the rollout; its gate would otherwise be asked on every
 * pass); ramping down, a verdict on a shift that will never be made must not turn a cancel into FAILED.
 */
export function rolloutGateCallable(state: PromotionState): boolean {
  return state.rolloutGate?.status === "due" && state.status === "RAMPING_UP";
}

/** Append answers to the promotion's record of every webhook answer, newest kept. */
export function withWebhookResults(state: PromotionState, results: readonly PromotionWebhookResult[]): PromotionState {
  if (results.length === 0) return state;
  return { ...state, webhookResults: [...(state.webhookResults ?? []), ...results].slice(-MAX_RECORDED_WEBHOOK_RESULTS) };
}

/**
 * Record the rollout webhooks' answers for the due shift. Answers of other types (a pre-rollout
 * call in the same observation) are not this gate's. Example: step 2 due, [{ name: "smoke",
 * passed: false, message: "answered 503 …" }] → FAILED "rollout webhook smoke failed before step 2
 * (traffic was at 25 %), traffic moved back to the previous deployment: answered 503 …".
 */
export function recordRolloutGate(state: PromotionState, answers: readonly PromotionWebhookResult[], now: number): PromotionState {
  const gate = state.rolloutGate;
  if (gate?.status !== "due" || !rolloutGateCallable(state)) return state;
  const results = answers.filter((result) => result.type === "rollout");
  if (results.length === 0) return state;
  const failed = results.find((result) => !result.passed);
  const recorded = withWebhookResults(state, results);
  if (failed === undefined) return { ...recorded, rolloutGate: { step: gate.step, status: "passed", results: [...results] } };
  return failPromotion(
    { ...recorded, rolloutGate: { step: gate.step, status: "failed", results: [...results] } },
    now,
    `rollout webhook ${failed.name} failed before step ${gate.step} (traffic was at ${state.percentTrafficToNewVersion} %), ` +
      `traffic moved back to the previous deployment: ${failed.message}`,
  );
}
