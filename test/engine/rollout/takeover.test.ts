/**
 * Exact progress across engine restarts (issue 13, finding 9). A kill -9 takes the process
 * runtime's replicas with it: the restarted engine finds every replica of both deployments cold.
 * The planner, told so by `resumingSince`, holds the persisted state until the candidate has back
 * the ready replicas its traffic needs: the traffic never goes backwards, no step is counted twice,
 * and total_steps stays what it was planned to be.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  candidateReadyForPercent,
  candidateReadyNeeded,
  isTerminalStatus,
  resumedAfterTakeover,
  trafficPercentForReady,
  type PromotionSettingsSnapshot,
  type PromotionState,
} from "../../../engine/rollout/index.js";
import { MINUTE_MS, rollingSettings, seededRandom, settingsWith, SimulatedRollout, start } from "./support.js";

const pairOf = (state: PromotionState) => `${state.step}/${state.totalSteps} at ${state.percentTrafficToNewVersion}%`;

/** Run to the end like the reconciler, taking the promotion over (kill -9 + restart) before the passes `takeOverAt` picks. */
function run(initial: PromotionState, previousReady: number, delay: () => number, takeOverAt: (state: PromotionState, pass: number) => boolean) {
  const rollout = new SimulatedRollout(initial, { previousReady, startupDelayMs: delay });
  const takeOvers: string[] = [];
  for (let pass = 0; pass < 5_000; pass += 1) {
    if (!isTerminalStatus(rollout.state.status) && takeOverAt(rollout.state, pass)) {
      rollout.takeOver();
      takeOvers.push(pairOf(rollout.state));
    }
    const versionBefore = rollout.state.version;
    const wakeAt = rollout.pass();
    if (isTerminalStatus(rollout.state.status)) return { rollout, takeOvers };
    if (rollout.state.version !== versionBefore) continue;
    const next = rollout.nextEventAt(wakeAt);
    if (next === null) throw new Error(`stuck: ${rollout.state.status} ${rollout.state.phase}`);
    rollout.now = Math.max(rollout.now, next);
  }
  throw new Error("no terminal status");
}

describe("budgets: candidate replicas a traffic share needs", () => {
  it.each([
    [25, 4, 1],
    [50, 4, 2],
    [100, 4, 4],
    [0, 4, 0],
    [33, 3, 1],
    [66, 3, 2],
    [100, 3, 3],
    [30, 10, 3],
  ])("%i percent of N = %i needs %i ready (the inverse of trafficPercentForReady)", (percent, n, ready) => {
    expect(candidateReadyForPercent(percent, n)).toBe(ready);
    expect(trafficPercentForReady(ready, n)).toBeGreaterThanOrEqual(percent);
    if (ready > 0) expect(trafficPercentForReady(ready - 1, n)).toBeLessThan(percent);
  });
});

describe("a promotion taken over after kill -9 resumes exactly where it was persisted", () => {
  it("killed twice during a 4-replica 25% rolling deploy: total_steps stays 4, every (step, traffic) is a step of the plan", () => {
    const settings = rollingSettings({ max_surge_percent: 25, stabilization_time_seconds: 4 });
    const reference = run(start(settings, 4), 4, () => 1_000, () => false).rollout;
    const planPairs = new Set(reference.history.map(pairOf));
    expect([...planPairs]).toEqual(["0/4 at 0%", "1/4 at 25%", "2/4 at 50%", "3/4 at 75%", "4/4 at 100%"]);

    // kill at 25% (stabilizing) and again at 100% (the last scale-down of the previous)
    const killAt = new Set(["1/4 at 25%", "4/4 at 100%"]);
    const { rollout, takeOvers } = run(start(settings, 4), 4, () => 1_000, (state) => killAt.delete(pairOf(state)));
    expect(takeOvers).toEqual(["1/4 at 25%", "4/4 at 100%"]);
    expect(rollout.state.status).toBe("SUCCEEDED");
    expect(new Set(rollout.history.map((state) => state.totalSteps))).toEqual(new Set([4]));
    for (const state of rollout.history) expect(planPairs, pairOf(state)).toContain(pairOf(state));
    expect(rollout.sequenceOf((state) => state.percentTrafficToNewVersion)).toEqual([0, 25, 50, 75, 100]);
  });

  it("holds the persisted traffic while the candidate's replicas start again, then moves on", () => {
    const settings = rollingSettings({ max_surge_percent: 25 });
    const rollout = new SimulatedRollout(start(settings, 4), { previousReady: 4, startupDelayMs: () => 1_000 });
    while (rollout.state.percentTrafficToNewVersion < 50) {
      rollout.pass();
      rollout.now += 1_000;
    }
    const persisted = rollout.state;
    rollout.takeOver();
    rollout.pass();
    // both candidate replicas are cold: 50% stays (the router holds its requests until they are ready)
    expect(rollout.state).toBe(persisted);
    expect(candidateReadyNeeded(persisted)).toBe(2);
    expect(resumedAfterTakeover(persisted, rollout.candidate.observe(rollout.now))).toBe(false);
    rollout.now += 1_000;
    rollout.pass();
    expect(rollout.resumingSince).toBeUndefined();
    expect(rollout.state.percentTrafficToNewVersion).toBeGreaterThanOrEqual(50);
  });

  it("fails the promotion if the candidate does not come back within the ready timeout after the takeover", () => {
    const settings = rollingSettings({ max_surge_percent: 25 });
    const rollout = new SimulatedRollout(start(settings, 4, { readyTimeoutMs: MINUTE_MS }), { previousReady: 4, startupDelayMs: () => 1_000 });
    while (rollout.state.percentTrafficToNewVersion < 25) {
      rollout.pass();
      rollout.now += 1_000;
    }
    rollout.takeOver();
    // the candidate's replicas never get ready again (e.g. its image is gone)
    rollout.candidate.restartAll(rollout.now + 10 * MINUTE_MS);
    rollout.pass();
    expect(rollout.state.status).toBe("RAMPING_UP");
    rollout.now += MINUTE_MS;
    rollout.pass();
    expect(rollout.state.status).toBe("FAILED");
    expect(rollout.state.errorMessage).toMatch(/had 0 of the 1 replicas its 25% of traffic needs ready 60s after the engine took the promotion over/);
  });

  it("a ready replica lost without a takeover still lowers the traffic to the candidate's ready share", () => {
    const settings = rollingSettings({ max_surge_percent: 25, stabilization_time_seconds: 60 });
    const rollout = new SimulatedRollout(start(settings, 4), { previousReady: 4, startupDelayMs: () => 1_000 });
    while (rollout.state.percentTrafficToNewVersion < 50) {
      rollout.pass();
      rollout.now += 1_000;
    }
    rollout.candidate.restartAll(rollout.now); // both candidate replicas crash and restart, no takeover
    rollout.pass();
    expect(rollout.state.percentTrafficToNewVersion).toBe(0);
  });

  const settingsArbitrary: fc.Arbitrary<PromotionSettingsSnapshot> = fc
    .record({
      kind: fc.constantFrom("ROLLING", "ROLLING", "ROLLING", "CANARY"),
      mode: fc.constantFrom("surge", "unavailable"),
      percent: fc.integer({ min: 1, max: 50 }),
      stabilization: fc.constantFrom(0, 1, 30),
      overhead: fc.constantFrom(0, 0, 50, 200),
    })
    .map((choice) =>
      settingsWith({
        rolling_deploy: choice.kind === "ROLLING",
        ramp_up_while_promoting: choice.kind === "CANARY",
        ramp_up_duration_seconds: 60,
        rolling_deploy_config: {
          max_surge_percent: choice.mode === "surge" ? choice.percent : 0,
          max_unavailable_percent: choice.mode === "unavailable" ? choice.percent : 0,
          stabilization_time_seconds: choice.stabilization,
          replica_overhead_percent: choice.overhead,
        },
      }),
    );

  it("property: with takeovers at random passes, total_steps is constant, (step, traffic) is always a pair of the plan, traffic never goes down while ramping up, and it succeeds", () => {
    fc.assert(
      fc.property(
        settingsArbitrary,
        fc.integer({ min: 1, max: 12 }),
        fc.integer(),
        fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 3 }),
        (settings, replicas, seed, takeOverAtPasses) => {
          // the same start-up delays with and without takeovers: the plan does not depend on them
          const delays = () => {
            const random = seededRandom(seed);
            return () => 1 + Math.floor(random() * 5_000);
          };
          const bounds = { min_replica: 1, max_replica: replicas };
          const reference = run(start(settings, replicas, { bounds }), replicas, delays(), () => false).rollout;
          const planPairs = new Set(reference.history.map(pairOf));
          const { rollout } = run(start(settings, replicas, { bounds }), replicas, delays(), (_state, pass) => takeOverAtPasses.includes(pass));
          expect(rollout.state.status).toBe("SUCCEEDED");
          expect(new Set(rollout.history.map((state) => state.totalSteps))).toEqual(new Set([reference.state.totalSteps]));
          for (const state of rollout.history) expect(planPairs, pairOf(state)).toContain(pairOf(state));
          const forward = rollout.history.filter((state) => state.status === "RELEASING" || state.status === "RAMPING_UP");
          for (let i = 1; i < forward.length; i += 1) {
            expect(forward[i]!.percentTrafficToNewVersion).toBeGreaterThanOrEqual(forward[i - 1]!.percentTrafficToNewVersion);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
