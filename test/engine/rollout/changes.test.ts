import { describe, expect, it } from "vitest";
import { promotionStateChanged, type PromotionState } from "../../../engine/rollout/index.js";
import type { PromotionWebhookResult } from "../../../sdk/index.js";
import { rollingSettings, start } from "./support.js";

describe("promotionStateChanged", () => {
  const state = start(rollingSettings({ max_surge_percent: 25, stabilization_time_seconds: 30 }), 4);

  it("is false for a copy, whatever its version, key order or undefined fields", () => {
    const reordered = Object.fromEntries(Object.entries(structuredClone(state)).reverse()) as unknown as PromotionState;
    expect(promotionStateChanged(state, { ...reordered, version: state.version + 7 })).toBe(false);
    expect(promotionStateChanged(state, { ...state, errorMessage: undefined })).toBe(false);
    expect(promotionStateChanged({ ...state, errorMessage: undefined }, state)).toBe(false);
  });

  it("is true for a change at any depth, in an array, or a field present on one side only", () => {
    expect(promotionStateChanged(state, { ...state, step: state.step + 1 })).toBe(true);
    expect(promotionStateChanged(state, { ...state, desiredReplicas: { ...state.desiredReplicas, candidate: state.desiredReplicas.candidate + 1 } })).toBe(true);
    expect(promotionStateChanged(state, { ...state, settings: { ...state.settings, rolling_deploy_config: { ...state.settings.rolling_deploy_config, max_surge_percent: 26 } } })).toBe(true);
    expect(promotionStateChanged(state, { ...state, errorMessage: "x" })).toBe(true);
    expect(promotionStateChanged({ ...state, errorMessage: "x" }, state)).toBe(true);
    const withResults = (results: PromotionState["preRollout"]) => ({ ...state, preRollout: results });
    const result: PromotionWebhookResult = { name: "smoke", type: "pre-rollout", passed: true, attempts: 1, http_status: 200, message: "answered 200", at: "2026-12-04T16:00:00Z" };
    expect(promotionStateChanged(withResults({ status: "passed", results: [result] }), withResults({ status: "passed", results: [result, result] }))).toBe(true);
    expect(promotionStateChanged(withResults({ status: "passed", results: [result] }), withResults({ status: "passed", results: [{ ...result }] }))).toBe(false);
    expect(promotionStateChanged({ ...state, readyDeadlineAt: null }, { ...state, readyDeadlineAt: 0 })).toBe(true);
  });
});
