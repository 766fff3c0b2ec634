import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_AUTOSCALING_SETTINGS,
  recommendReplicas,
  resolveAutoscalingSettings,
  type AutoscalingSettings,
  type LoadSample,
} from "../../../engine/autoscaler/index.js";

const NOW = 1_000_000;

/** One sample per second over the last `seconds`, all with the same in-flight count. */
function steadyLoad(inFlight: number, seconds = 60, arrivals = inFlight > 0 ? 1 : 0): LoadSample[] {
  return Array.from({ length: seconds }, (_, i) => ({ at: NOW - i * 1000, inFlight, arrivals }));
}

function settings(overrides: Partial<AutoscalingSettings> = {}): AutoscalingSettings {
  return resolveAutoscalingSettings(overrides);
}

describe("recommendReplicas", () => {
  // concurrency_target 4 × 75 % = 3 requests per replica.
  const busy = settings({ min_replica: 1, max_replica: 10, concurrency_target: 4, target_utilization_percentage: 75, scale_down_delay: 300 });

  it.each([
    // in flight, current, seconds since high demand, → replicas, demand, why
    [7, 2, 0, 3, 3, "scale up at once: ceil(7 / 3)"],
    [9, 3, 0, 3, 3, "exactly at target"],
    [9.1, 3, 0, 4, 4, "just above target"],
    [2, 3, 10, 3, 1, "demand below, delay not elapsed: keep"],
    [2, 3, 300, 1, 1, "delay elapsed: scale down"],
    [0, 3, 300, 1, 0, "never below min_replica"],
    [100, 3, 0, 10, 34, "never above max_replica, demand unclamped"],
    [2.1, 1, 0, 1, 1, "float noise does not add a replica (2.1 / 0.7 style)"],
  ])("in flight %d, current %d, %d s since high → %d replicas (demand %d): %s", (inFlight, current, sinceHigh, replicas, demand) => {
    const recommendation = recommendReplicas({
      settings: busy,
      samples: steadyLoad(inFlight),
      currentReplicas: current,
      lastHighDemandAt: NOW - sinceHigh * 1000,
      now: NOW,
    });
    expect(recommendation).toMatchObject({ replicas, demand });
  });

  it("uses Baseten's defaults", () => {
    expect(DEFAULT_AUTOSCALING_SETTINGS).toEqual({
      min_replica: 0,
      max_replica: 1,
      concurrency_target: 1,
      target_utilization_percentage: 70,
      autoscaling_window: 60,
      scale_down_delay: 900,
    });
  });

  it("ignores samples outside the window", () => {
    const old = Array.from({ length: 30 }, (_, i) => ({ at: NOW - 61_000 - i * 1000, inFlight: 50, arrivals: 5 }));
    const recommendation = recommendReplicas({
      settings: busy,
      samples: [...old, ...steadyLoad(3, 60)],
      currentReplicas: 1,
      lastHighDemandAt: NOW,
      now: NOW,
    });
    expect(recommendation.demand).toBe(1);
  });

  it("scales to zero only when min_replica is 0 and no request arrived during window + delay", () => {
    const toZero = settings({ min_replica: 0, max_replica: 2, autoscaling_window: 60, scale_down_delay: 900 });
    const lastRequestAt = NOW - 100_000;
    // A short request between samples: never seen in flight, but counted as an arrival.
    const samples: LoadSample[] = [{ at: lastRequestAt, inFlight: 0, arrivals: 1 }];
    let state = { currentReplicas: 1, lastHighDemandAt: lastRequestAt };
    const at = (now: number) => {
      const recommendation = recommendReplicas({ settings: toZero, samples, ...state, now });
      state = { currentReplicas: recommendation.replicas, lastHighDemandAt: recommendation.lastHighDemandAt };
      return recommendation.replicas;
    };
    expect(at(lastRequestAt + 59_999)).toBe(1); // last instant the request is in the window
    expect(at(lastRequestAt + 60_000)).toBe(1); // window passed: the delay runs
    expect(at(lastRequestAt + 60_000 + 899_998)).toBe(1);
    expect(at(lastRequestAt + 60_000 + 900_000)).toBe(0);

    const keepOne = settings({ min_replica: 1, max_replica: 2 });
    expect(recommendReplicas({ settings: keepOne, samples: [], currentReplicas: 1, lastHighDemandAt: 0, now: NOW }).replicas).toBe(1);
  });

  it("scales down at once when max_replica is lowered below the current count", () => {
    const lowered = settings({ min_replica: 0, max_replica: 2 });
    const recommendation = recommendReplicas({ settings: lowered, samples: steadyLoad(10), currentReplicas: 5, lastHighDemandAt: NOW, now: NOW });
    expect(recommendation.replicas).toBe(2);
  });

  it("rejects inconsistent settings", () => {
    expect(() => resolveAutoscalingSettings({ min_replica: 3, max_replica: 2 })).toThrow(/max_replica: max_replica \(2\) must be at least min_replica \(3\)/);
    expect(() => resolveAutoscalingSettings({ concurrency_target: 0 })).toThrow(/concurrency_target: /);
  });

  describe("properties", () => {
    const settingsArbitrary = fc
      .record({
        min_replica: fc.integer({ min: 0, max: 5 }),
        extra: fc.integer({ min: 0, max: 10 }),
        concurrency_target: fc.integer({ min: 1, max: 64 }),
        target_utilization_percentage: fc.integer({ min: 1, max: 100 }),
        autoscaling_window: fc.integer({ min: 10, max: 3600 }),
        scale_down_delay: fc.integer({ min: 0, max: 3600 }),
      })
      .map(({ extra, ...rest }) => settings({ ...rest, max_replica: Math.max(1, rest.min_replica + extra) }));
    const samplesArbitrary = fc.array(
      fc.record({ ago: fc.integer({ min: 0, max: 700_000 }), inFlight: fc.nat(500), arrivals: fc.nat(20) }),
      { maxLength: 40 },
    );
    const scenario = fc.record({
      settings: settingsArbitrary,
      samples: samplesArbitrary,
      currentReplicas: fc.nat(20),
      sinceHighMs: fc.nat(4_000_000),
    });
    type Scenario = { settings: AutoscalingSettings; samples: { ago: number; inFlight: number; arrivals: number }[]; currentReplicas: number; sinceHighMs: number };
    const run = (s: Scenario, loadFactor = 1) =>
      recommendReplicas({
        settings: s.settings,
        samples: s.samples.map((sample) => ({ at: NOW - sample.ago, inFlight: sample.inFlight * loadFactor, arrivals: sample.arrivals })),
        currentReplicas: s.currentReplicas,
        lastHighDemandAt: NOW - s.sinceHighMs,
        now: NOW,
      });

    it("never goes below min_replica nor above max_replica", () => {
      fc.assert(
        fc.property(scenario, (s) => {
          const { replicas } = run(s);
          expect(replicas).toBeGreaterThanOrEqual(s.settings.min_replica);
          expect(replicas).toBeLessThanOrEqual(s.settings.max_replica);
        }),
      );
    });

    it("is monotone in load", () => {
      fc.assert(
        fc.property(scenario, fc.integer({ min: 1, max: 5 }), (s, factor) => {
          expect(run(s, factor).replicas).toBeGreaterThanOrEqual(run(s).replicas);
          expect(run(s, factor).demand).toBeGreaterThanOrEqual(run(s).demand);
        }),
      );
    });

    it("never scales down before the delay, unless above max_replica", () => {
      fc.assert(
        fc.property(scenario, (s) => {
          const { replicas } = run(s);
          if (s.sinceHighMs < s.settings.scale_down_delay * 1000 && s.currentReplicas <= s.settings.max_replica) {
            expect(replicas).toBeGreaterThanOrEqual(s.currentReplicas);
          }
        }),
      );
    });
  });
});
