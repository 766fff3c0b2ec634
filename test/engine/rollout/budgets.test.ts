import { describe, expect, it } from "vitest";
import {
  autoscaleGrowth,
  baseReplicaCount,
  candidateScaleDownTarget,
  candidateScaleUpTarget,
  canaryReadyThreshold,
  canaryStageIntervalMs,
  canaryStagePercent,
  overheadReplicaCount,
  previousRestoreTarget,
  previousScaleDownTarget,
  promotionKindFor,
  promotionSettingsProblems,
  rollingStepCount,
  surgeStep,
  trafficPercentForReady,
  trafficPercentPreviousCannotServe,
  unavailableStep,
} from "../../../engine/rollout/index.js";
import { rollingSettings, settingsWith } from "./support.js";

describe("baseReplicaCount: previous count within [max(1, min_replica), max_replica]", () => {
  it.each([
    { previous: 3, min: 0, max: 10, expected: 3 },
    { previous: 0, min: 2, max: 10, expected: 2 },
    { previous: 0, min: 0, max: 10, expected: 1 },
    { previous: 12, min: 1, max: 8, expected: 8 },
  ])("$previous previous, bounds $min–$max → $expected", ({ previous, min, max, expected }) => {
    expect(baseReplicaCount(previous, { min_replica: min, max_replica: max })).toBe(expected);
  });
});

describe("overheadReplicaCount: ceil(N × overhead%)", () => {
  it.each([
    { n: 4, percent: 50, expected: 2 },
    { n: 3, percent: 10, expected: 1 },
    { n: 4, percent: 0, expected: 0 },
    { n: 10, percent: 500, expected: 50 },
  ])("N $n, $percent% → $expected", ({ n, percent, expected }) => {
    expect(overheadReplicaCount(n, percent)).toBe(expected);
  });
});

describe("surgeStep: max(1, ceil(N × surge%)), never above N", () => {
  it.each([
    { n: 4, percent: 25, expected: 1 },
    { n: 10, percent: 30, expected: 3 },
    { n: 3, percent: 10, expected: 1 },
    { n: 1, percent: 50, expected: 1 },
    { n: 4, percent: 0, expected: 0 },
  ])("N $n, $percent% → $expected", ({ n, percent, expected }) => {
    expect(surgeStep(n, percent)).toBe(expected);
  });
});

describe("unavailableStep: max(1, floor(N × unavailable%)), never above N", () => {
  it.each([
    { n: 4, percent: 25, expected: 1 },
    { n: 10, percent: 30, expected: 3 },
    { n: 3, percent: 10, expected: 1 },
    { n: 4, percent: 0, expected: 0 },
  ])("N $n, $percent% → $expected", ({ n, percent, expected }) => {
    expect(unavailableStep(n, percent)).toBe(expected);
  });
});

describe("trafficPercentForReady: floor(100 × ready / N), 100 only at N", () => {
  it.each([
    { ready: 1, n: 4, expected: 25 },
    { ready: 2, n: 4, expected: 50 },
    { ready: 3, n: 4, expected: 75 },
    { ready: 4, n: 4, expected: 100 },
    { ready: 1, n: 3, expected: 33 },
    { ready: 2, n: 3, expected: 66 },
    { ready: 3, n: 3, expected: 100 },
    { ready: 0, n: 4, expected: 0 },
  ])("$ready of $n ready → $expected%", ({ ready, n, expected }) => {
    expect(trafficPercentForReady(ready, n)).toBe(expected);
  });
});

describe("trafficPercentPreviousCannotServe: 100 − floor(100 × previous ready / N)", () => {
  it.each([
    { ready: 4, n: 4, expected: 0 },
    { ready: 3, n: 4, expected: 25 },
    { ready: 2, n: 4, expected: 50 },
    { ready: 0, n: 4, expected: 100 },
    { ready: 2, n: 3, expected: 34 },
  ])("previous $ready of $n ready → candidate keeps $expected%", ({ ready, n, expected }) => {
    expect(trafficPercentPreviousCannotServe(ready, n)).toBe(expected);
  });
});

describe("candidateScaleUpTarget: min(N, N + O + S − previous), never down", () => {
  it.each([
    { name: "surge 25% of 4", n: 4, o: 0, s: 1, previous: 3, candidate: 1, expected: 2 },
    { name: "unavailable mode", n: 4, o: 0, s: 0, previous: 3, candidate: 0, expected: 1 },
    { name: "surge with overhead", n: 4, o: 2, s: 1, previous: 6, candidate: 0, expected: 1 },
    { name: "no room keeps candidate", n: 4, o: 0, s: 1, previous: 4, candidate: 2, expected: 2 },
  ])("$name → $expected", ({ n, o, s, previous, candidate, expected }) => {
    expect(
      candidateScaleUpTarget({
        baseReplicas: n,
        overheadReplicas: o,
        surgeStep: s,
        previousDesired: previous,
        candidateDesired: candidate,
      }),
    ).toBe(expected);
  });
});

describe("previousScaleDownTarget: N + O − candidate ready − U, never up", () => {
  it.each([
    { name: "surge, 1 ready", n: 4, o: 0, u: 0, ready: 1, previous: 4, expected: 3 },
    { name: "surge with overhead, all ready", n: 4, o: 1, u: 0, ready: 4, previous: 2, expected: 1 },
    { name: "unavailable, none ready", n: 4, o: 0, u: 1, ready: 0, previous: 4, expected: 3 },
    { name: "unavailable, 3 ready", n: 4, o: 0, u: 1, ready: 3, previous: 1, expected: 0 },
  ])("$name → $expected", ({ n, o, u, ready, previous, expected }) => {
    expect(
      previousScaleDownTarget({
        baseReplicas: n,
        overheadReplicas: o,
        unavailableStep: u,
        candidateReady: ready,
        previousDesired: previous,
      }),
    ).toBe(expected);
  });
});

describe("previousRestoreTarget: back towards N within N + O + S − candidate", () => {
  it.each([
    { name: "surge", n: 4, o: 0, s: 1, previous: 2, candidate: 2, expected: 3 },
    { name: "unavailable", n: 4, o: 0, s: 0, previous: 2, candidate: 1, expected: 3 },
    { name: "already above N", n: 4, o: 2, s: 1, previous: 5, candidate: 2, expected: 5 },
  ])("$name → $expected", ({ n, o, s, previous, candidate, expected }) => {
    expect(
      previousRestoreTarget({
        baseReplicas: n,
        overheadReplicas: o,
        surgeStep: s,
        previousDesired: previous,
        candidateDesired: candidate,
      }),
    ).toBe(expected);
  });
});

describe("candidateScaleDownTarget: N − previous ready − U", () => {
  it.each([
    { name: "surge, previous 3 ready", n: 4, u: 0, ready: 3, candidate: 2, expected: 1 },
    { name: "surge, previous all ready", n: 4, u: 0, ready: 4, candidate: 2, expected: 0 },
    { name: "unavailable", n: 4, u: 1, ready: 2, candidate: 2, expected: 1 },
  ])("$name → $expected", ({ n, u, ready, candidate, expected }) => {
    expect(
      candidateScaleDownTarget({ baseReplicas: n, unavailableStep: u, previousReady: ready, candidateDesired: candidate }),
    ).toBe(expected);
  });
});

describe("rollingStepCount: ceil(N / step)", () => {
  it.each([
    { n: 4, step: 1, expected: 4 },
    { n: 10, step: 3, expected: 4 },
    { n: 3, step: 2, expected: 2 },
  ])("N $n, step $step → $expected", ({ n, step, expected }) => {
    expect(rollingStepCount(n, step)).toBe(expected);
  });
});

describe("canary arithmetic", () => {
  it.each([
    { min: 0, expected: 1 },
    { min: 3, expected: 3 },
  ])("ready threshold with min_replica $min → $expected", ({ min, expected }) => {
    expect(canaryReadyThreshold({ min_replica: min, max_replica: 10 })).toBe(expected);
  });
  it.each([
    { stage: 1, expected: 10 },
    { stage: 7, expected: 70 },
    { stage: 10, expected: 100 },
  ])("stage $stage → $expected%", ({ stage, expected }) => {
    expect(canaryStagePercent(stage)).toBe(expected);
  });
  it.each([
    { seconds: 600, expected: 60_000 },
    { seconds: 0, expected: 0 },
  ])("ramp of $seconds s → a stage every $expected ms", ({ seconds, expected }) => {
    expect(canaryStageIntervalMs(seconds)).toBe(expected);
  });
});

describe("autoscaleGrowth: only adds, split by traffic share, capped at max_replica", () => {
  it.each([
    { name: "60/40 and 10 more", n: 10, percent: 40, demand: 20, max: 30, expected: { baseReplicas: 20, extraPrevious: 6, extraCandidate: 4 } },
    { name: "falling demand", n: 10, percent: 40, demand: 8, max: 30, expected: { baseReplicas: 10, extraPrevious: 0, extraCandidate: 0 } },
    { name: "capped", n: 10, percent: 50, demand: 50, max: 12, expected: { baseReplicas: 12, extraPrevious: 1, extraCandidate: 1 } },
    { name: "no demand", n: 10, percent: 50, demand: undefined, max: 12, expected: { baseReplicas: 10, extraPrevious: 0, extraCandidate: 0 } },
  ])("$name", ({ n, percent, demand, max, expected }) => {
    expect(autoscaleGrowth({ baseReplicas: n, demandReplicas: demand, maxReplica: max, percentToCandidate: percent })).toEqual(expected);
  });
});

describe("promotion kind and settings validation", () => {
  it.each([
    { name: "rolling wins over canary", settings: settingsWith({ rolling_deploy: true, ramp_up_while_promoting: true }), hasPrevious: true, expected: "ROLLING" },
    { name: "canary", settings: settingsWith({ ramp_up_while_promoting: true }), hasPrevious: true, expected: "CANARY" },
    { name: "instant", settings: settingsWith(), hasPrevious: true, expected: "INSTANT" },
    { name: "empty environment is always instant", settings: settingsWith({ rolling_deploy: true }), hasPrevious: false, expected: "INSTANT" },
  ])("$name", ({ settings, hasPrevious, expected }) => {
    expect(promotionKindFor(settings, hasPrevious)).toBe(expected);
  });

  it("rejects both modes set, neither set, and out-of-range values", () => {
    const bounds = { min_replica: 1, max_replica: 4 };
    expect(promotionSettingsProblems(rollingSettings({ max_surge_percent: 10, max_unavailable_percent: 10 }), bounds)).toHaveLength(1);
    expect(promotionSettingsProblems(rollingSettings({ max_surge_percent: 0, max_unavailable_percent: 0 }), bounds)).toHaveLength(1);
    expect(promotionSettingsProblems(rollingSettings({ max_surge_percent: 51 }), bounds)[0]).toMatch(/max_surge_percent/);
    expect(promotionSettingsProblems(rollingSettings({ stabilization_time_seconds: 3601 }), bounds)[0]).toMatch(/stabilization/);
    expect(promotionSettingsProblems(rollingSettings({ replica_overhead_percent: 501 }), bounds)[0]).toMatch(/overhead/);
    expect(promotionSettingsProblems(rollingSettings({ max_surge_percent: 25 }), bounds)).toEqual([]);
  });
});
