/**
 * Properties of the planner over every settings combination, N 1–20, random replica start-up
 * delays, random autoscaling demand, candidate crash loops and random control actions at random
 * passes, driven the way the reconciler drives it (time jumps to wakeAt or the next replica event).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyControlAction,
  isTerminalStatus,
  planNextStep,
  rollingModeOf,
  surgeStep,
  unavailableStep,
  type ControlAction,
  type Observation,
  type PromotionSettingsSnapshot,
  type PromotionState,
} from "../../../engine/rollout/index.js";
import { CONTROL_ACTIONS, documentedOutcome } from "./documented-actions.js";
import { MINUTE_MS, seededRandom, settingsWith, SimulatedRollout, start } from "./support.js";

const settingsArbitrary: fc.Arbitrary<PromotionSettingsSnapshot> = fc
  .record({
    kind: fc.constantFrom("ROLLING", "ROLLING", "ROLLING", "CANARY", "INSTANT"),
    mode: fc.constantFrom("surge", "unavailable"),
    percent: fc.integer({ min: 1, max: 50 }),
    stabilization: fc.constantFrom(0, 0, 1, 30, 600, 3600),
    overhead: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 500 })),
    cleanup: fc.constantFrom("SCALE_TO_ZERO", "KEEP", "DEACTIVATE"),
    rampSeconds: fc.constantFrom(0, 60, 600),
  })
  .map((choice) =>
    settingsWith({
      rolling_deploy: choice.kind === "ROLLING",
      ramp_up_while_promoting: choice.kind === "CANARY",
      ramp_up_duration_seconds: choice.rampSeconds,
      promotion_cleanup_strategy: choice.cleanup,
      rolling_deploy_config: {
        max_surge_percent: choice.mode === "surge" ? choice.percent : 0,
        max_unavailable_percent: choice.mode === "unavailable" ? choice.percent : 0,
        stabilization_time_seconds: choice.stabilization,
        replica_overhead_percent: choice.overhead,
      },
    }),
  );

const scenarioArbitrary = fc.record({
  settings: settingsArbitrary,
  previousReplicas: fc.integer({ min: 1, max: 20 }),
  minReplica: fc.integer({ min: 0, max: 3 }),
  extraMaxReplica: fc.integer({ min: 0, max: 20 }),
  seed: fc.integer(),
  maxStartupDelayMs: fc.constantFrom(100, 5_000, 60_000),
  actions: fc.array(
    fc.record({ atPass: fc.integer({ min: 0, max: 80 }), action: fc.constantFrom(...CONTROL_ACTIONS) }),
    { maxLength: 4 },
  ),
  demands: fc.array(fc.record({ atPass: fc.integer({ min: 0, max: 80 }), replicas: fc.integer({ min: 1, max: 40 }) }), {
    maxLength: 3,
  }),
  crashAtPass: fc.option(fc.integer({ min: 0, max: 80 }), { freq: 4 }),
  /** the promote request's timeout_seconds: from shorter than one replica start to longer than most rollouts */
  timeoutSeconds: fc.option(fc.integer({ min: 1, max: 7_200 }), { freq: 2 }),
});

type Scenario = typeof scenarioArbitrary extends fc.Arbitrary<infer T> ? T : never;

/** Passes a rollout may take at most: every replica of up to 40 + overhead comes up in its own event. */
const PASS_BOUND = 3_000;

/** The budget invariants of a ROLLING promotion in progress, against the observation just planned on. */
function checkRollingInvariants(state: PromotionState, observation: Observation | null): void {
  if (state.kind !== "ROLLING" || isTerminalStatus(state.status)) return;
  const n = state.baseReplicas;
  const config = state.settings.rolling_deploy_config;
  const total = state.desiredReplicas.previous + state.desiredReplicas.candidate;
  if (rollingModeOf(state.settings) === "surge") {
    expect(total, "surge: desired total ≤ N + overhead + surge step").toBeLessThanOrEqual(
      n + state.overheadReplicas + surgeStep(n, config.max_surge_percent),
    );
  } else {
    expect(total, "unavailable: desired total ≥ N − unavailable step").toBeGreaterThanOrEqual(
      n - unavailableStep(n, config.max_unavailable_percent),
    );
  }
  if (observation !== null) {
    expect(
      state.percentTrafficToNewVersion * n,
      `traffic ${state.percentTrafficToNewVersion}% ≤ 100 × ${observation.candidate.ready} ready / ${n}`,
    ).toBeLessThanOrEqual(100 * observation.candidate.ready);
  }
}

function checkTerminal(state: PromotionState): void {
  const previousAtRollback = state.previousDeploymentId === null ? 0 : state.baseReplicas;
  if (state.status === "SUCCEEDED") {
    expect(state.percentTrafficToNewVersion).toBe(100);
    expect(state.desiredReplicas.candidate).toBeGreaterThanOrEqual(state.baseReplicas);
    if (state.settings.promotion_cleanup_strategy !== "KEEP") expect(state.desiredReplicas.previous).toBe(0);
  } else {
    expect(state.percentTrafficToNewVersion).toBe(0);
    expect(state.desiredReplicas).toEqual({ previous: previousAtRollback, candidate: 0 });
  }
  if (state.status === "FAILED") {
    expect(state.errorMessage).toMatch(/candidate deployment dep-candidate|^promotion did not finish within timeout_seconds=\d+$/);
  }
}

function runScenario(scenario: Scenario): { passes: number; final: PromotionState } {
  const bounds = {
    min_replica: scenario.minReplica,
    max_replica: Math.max(scenario.previousReplicas, scenario.minReplica) + scenario.extraMaxReplica,
  };
  const random = seededRandom(scenario.seed);
  const initial = start(scenario.settings, scenario.previousReplicas, { bounds, readyTimeoutMs: 10 * MINUTE_MS, timeoutSeconds: scenario.timeoutSeconds });
  const deadline = scenario.timeoutSeconds === null ? null : initial.startedAt + scenario.timeoutSeconds * 1000;
  const rollout = new SimulatedRollout(initial, {
    previousReady: scenario.previousReplicas,
    startupDelayMs: () => 1 + Math.floor(random() * scenario.maxStartupDelayMs),
  });
  const initialBase = initial.baseReplicas;
  checkRollingInvariants(initial, null);
  let lastScheduledPass = 0;
  for (const scheduled of [...scenario.actions, ...scenario.demands]) {
    lastScheduledPass = Math.max(lastScheduledPass, scheduled.atPass);
  }

  for (let pass = 0; pass < PASS_BOUND; pass += 1) {
    for (const scheduled of scenario.actions.filter((entry) => entry.atPass === pass)) {
      applyAndCheck(rollout, scheduled.action);
    }
    for (const demand of scenario.demands.filter((entry) => entry.atPass === pass)) {
      rollout.demandReplicas = demand.replicas;
    }
    if (scenario.crashAtPass === pass) {
      rollout.candidate.failing = true;
      rollout.candidate.lastError = "exit code 137";
    }
    // Liveness needs a user who eventually resumes what they paused.
    if (pass > lastScheduledPass && rollout.state.status === "PAUSED") applyAndCheck(rollout, "resume");

    const baseBefore = rollout.state.baseReplicas;
    const versionBefore = rollout.state.version;
    const wakeAt = rollout.pass();
    const observation = rollout.observations[rollout.observations.length - 1] ?? null;
    const state = rollout.state;
    if (observation !== null) {
      // Level-triggered: planning again on the same observation changes nothing.
      const again = planNextStep(state, observation);
      expect(again.state).toBe(state);
      expect(again.events).toEqual([]);
    }

    expect(Number.isInteger(state.percentTrafficToNewVersion)).toBe(true);
    expect(state.percentTrafficToNewVersion).toBeGreaterThanOrEqual(0);
    expect(state.percentTrafficToNewVersion).toBeLessThanOrEqual(100);
    expect(state.baseReplicas, "N never shrinks").toBeGreaterThanOrEqual(baseBefore);
    // The deadline: planned on at or after it → terminal; failed for it → not before it.
    if (deadline !== null && observation !== null && observation.now >= deadline) {
      expect(isTerminalStatus(state.status), `not terminal at ${observation.now} ≥ deadline ${deadline}`).toBe(true);
    }
    if (state.errorMessage?.startsWith("promotion did not finish")) expect(state.finishedAt).toBeGreaterThanOrEqual(deadline ?? Infinity);
    expect(state.baseReplicas, "N capped at max_replica").toBeLessThanOrEqual(Math.max(initialBase, bounds.max_replica));
    checkRollingInvariants(state, observation);

    if (isTerminalStatus(state.status)) {
      checkTerminal(state);
      return { passes: pass + 1, final: state };
    }
    if (state.version !== versionBefore) continue; // the runtime changed: a change event
    const next = rollout.nextEventAt(wakeAt);
    if (next === null) {
      if (pass <= lastScheduledPass) continue; // a scheduled action may still move it
      throw new Error(`stuck: ${state.status} ${state.phase} with nothing pending (${JSON.stringify(observation)})`);
    }
    rollout.now = Math.max(rollout.now, next);
  }
  throw new Error(`no terminal status after ${PASS_BOUND} passes: ${rollout.state.status} ${rollout.state.phase}`);
}

function applyAndCheck(rollout: SimulatedRollout, action: ControlAction): void {
  const before = rollout.state;
  const expected = documentedOutcome(before.kind, before.status, before.pausedFrom, action);
  const result = applyControlAction(before, action, rollout.now);
  if (expected === "refused") {
    expect(result.ok, `${action} from ${before.status} is refused`).toBe(false);
    if (!result.ok) expect(result.reason).toContain(before.status);
    return;
  }
  expect(result.ok, `${action} from ${before.status} applies`).toBe(true);
  if (!result.ok) return;
  expect(result.state.status).toBe(expected);
  if (action === "force_cancel" || (action === "cancel" && expected === "CANCELED")) checkTerminal(result.state);
  if (action === "force_roll_forward") {
    checkTerminal(result.state);
    expect(result.state.desiredReplicas.candidate).toBe(
      Math.max(before.baseReplicas, before.desiredReplicas.candidate),
    );
  }
  if (action === "pause" || action === "resume") {
    expect(result.state.desiredReplicas).toEqual(before.desiredReplicas);
    expect(result.state.percentTrafficToNewVersion).toBe(before.percentTrafficToNewVersion);
  }
  checkRollingInvariants(result.state, null);
  rollout.state = result.state;
  rollout.applyDesired();
}

describe("rollout planner properties", () => {
  it("keeps the replica and traffic budgets, follows the action table and always terminates", () => {
    fc.assert(
      fc.property(scenarioArbitrary, (scenario) => {
        const { passes } = runScenario(scenario);
        expect(passes).toBeLessThanOrEqual(PASS_BOUND);
      }),
      { numRuns: 400 },
    );
  });

  it("with timeout_seconds, a promotion has ended by its deadline, and fails for it only once it has passed", () => {
    fc.assert(
      fc.property(scenarioArbitrary, fc.integer({ min: 1, max: 7_200 }), (scenario, timeoutSeconds) => {
        const { final } = runScenario({ ...scenario, timeoutSeconds });
        expect(final.finishedAt).toBeLessThanOrEqual(final.startedAt + timeoutSeconds * 1000);
        if (final.errorMessage?.startsWith("promotion did not finish")) expect(final.finishedAt).toBe(final.startedAt + timeoutSeconds * 1000);
      }),
      { numRuns: 200 },
    );
  });

  it("without failures or actions, a rolling deploy ends SUCCEEDED with the candidate at N", () => {
    fc.assert(
      fc.property(
        scenarioArbitrary.filter((scenario) => scenario.settings.rolling_deploy),
        (scenario) => {
          const { final } = runScenario({ ...scenario, actions: [], crashAtPass: null, timeoutSeconds: null });
          expect(final.status).toBe("SUCCEEDED");
          expect(final.desiredReplicas.candidate).toBe(final.baseReplicas);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a graceful cancel of a rolling deploy ends CANCELED (or SUCCEEDED if it finished first), never FAILED", () => {
    fc.assert(
      fc.property(
        scenarioArbitrary.filter((scenario) => scenario.settings.rolling_deploy),
        fc.integer({ min: 0, max: 40 }),
        (scenario, cancelAtPass) => {
          const { final } = runScenario({
            ...scenario,
            actions: [{ atPass: cancelAtPass, action: "cancel" }],
            crashAtPass: null,
            timeoutSeconds: null,
          });
          expect(["CANCELED", "SUCCEEDED"]).toContain(final.status);
        },
      ),
      { numRuns: 200 },
    );
  });
});
