/** The planner with automated analysis: it records judged windows and decides from the state alone. */
import { describe, expect, it } from "vitest";
import { windowDueAt, windowMove } from "../../../engine/analysis/window-schedule.js";
import type { AnalysisMeasured } from "../../../engine/analysis/types.js";
import { applyControlAction, planNextStep, type Observation, type PromotionState } from "../../../engine/rollout/index.js";
import { AnalysisMetric, PromotionAnalysis, type AnalysisMetricResult, type AnalysisVerdict } from "../../../sdk/index.js";
import { settingsWith, SimulatedRollout, start } from "./support.js";

const metric = (verdict: AnalysisVerdict, message = `success_rate ${verdict}`): AnalysisMetricResult => ({ name: "success_rate", verdict, value: 0.5, message });

function analysisSettings(overrides: Record<string, unknown> = {}) {
  return PromotionAnalysis.parse({ interval_seconds: 10, metrics: [AnalysisMetric.parse({ type: "success_rate", min: 0.95 })], ...overrides });
}

/**
 * A rollout with the runner simulated as the reconciler runs it: windows opened and closed by the
 * same schedule (window-schedule.ts), each judged by `judge` from the state at its end.
 */
class AnalyzedRollout extends SimulatedRollout {
  openedAt: number | undefined;
  constructor(
    state: PromotionState,
    public judge: (state: PromotionState) => AnalysisMetricResult[],
  ) {
    super(state, { previousReady: state.baseReplicas });
  }

  override observe(): Observation {
    const observation = super.observe();
    const settings = this.state.settings.analysis!;
    const move = windowMove(this.state.analysis?.windowStartsAt ?? null, this.openedAt, settings.interval_seconds * 1000, this.now);
    if (move === "idle") this.openedAt = undefined;
    if (move === "open") this.openedAt = this.now;
    if (move === "measure") {
      const measured: AnalysisMeasured = { startedAt: this.openedAt!, endedAt: this.now, metrics: this.judge(this.state) };
      this.openedAt = this.now;
      observation.analysis = measured;
    }
    return observation;
  }

  override nextEventAt(wakeAt: number | null): number | null {
    const settings = this.state.settings.analysis!;
    const due = windowDueAt(this.state.analysis?.windowStartsAt ?? null, this.openedAt, settings.interval_seconds * 1000);
    const times = [super.nextEventAt(wakeAt), due !== null && due > this.now ? due : null].filter((time): time is number => time !== null);
    return times.length === 0 ? null : Math.min(...times);
  }
}

function rolling(analysis: ReturnType<typeof analysisSettings>, stabilization = 0): PromotionState {
  return start(
    settingsWith({ rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 25, stabilization_time_seconds: stabilization }, analysis }),
    4,
    { candidateDeploymentName: "deployment-3" },
  );
}

describe("promotion analysis in the planner", () => {
  it("a healthy candidate passes every step: no stabilization ends before a window that started in it passed", () => {
    const rollout = new AnalyzedRollout(rolling(analysisSettings()), () => [metric("pass")]);
    rollout.runToEnd();
    expect(rollout.state.status).toBe("SUCCEEDED");
    const runs = rollout.state.analysis!.runs;
    // a passing run at each traffic level 25, 50, 75 and 100 %
    expect([...new Set(runs.filter((run) => run.verdict === "pass").map((run) => run.percentTrafficToNewVersion))]).toEqual([25, 50, 75, 100]);
    for (const shifted of rollout.history.filter((state, index) => index > 0 && state.phase === "stabilizing" && rollout.history[index - 1]!.phase !== "stabilizing")) {
      const left = rollout.history.find((state) => state.version > shifted.version && state.phase !== "stabilizing")!;
      expect(left.analysis!.runs.some((run) => run.verdict === "pass" && run.startedAt >= shifted.phaseStartedAt)).toBe(true);
    }
    expect(rollout.state.analysis).toMatchObject({ failed: 0, inconclusive: 0 });
  });

  it("without analysis a rolling deploy with no stabilization never waits for a window", () => {
    const rollout = new SimulatedRollout(rolling(null as never), { previousReady: 4 });
    rollout.runToEnd();
    expect(rollout.state.status).toBe("SUCCEEDED");
    expect(rollout.state.analysis).toBeUndefined();
  });

  it("a failed window rolls back before 100 %, with the step, metric, value and threshold in error_message", () => {
    const message = "success_rate 0.71 < 0.95 (candidate deployment-3, 412 requests)";
    const rollout = new AnalyzedRollout(rolling(analysisSettings()), (state) => [metric(state.percentTrafficToNewVersion >= 50 ? "fail" : "pass", message)]);
    rollout.runToEnd();
    expect(rollout.state.status).toBe("FAILED");
    expect(rollout.state.errorMessage).toBe(`analysis failed at step 2/4: ${message}`);
    expect(Math.max(...rollout.history.map((state) => state.percentTrafficToNewVersion))).toBe(50);
    expect(rollout.state.percentTrafficToNewVersion).toBe(0);
    expect(rollout.state.desiredReplicas).toEqual({ previous: 4, candidate: 0 });
  });

  it("failure_limit 1 tolerates one failed window and fails at the second", () => {
    let judged = 0;
    const rollout = new AnalyzedRollout(rolling(analysisSettings({ failure_limit: 1 })), () => [metric(++judged === 2 || judged === 4 ? "fail" : "pass")]);
    rollout.runToEnd();
    expect(rollout.state.status).toBe("FAILED");
    expect(rollout.state.errorMessage).toMatch(/^analysis failed at step \d\/4 \(2 failed runs, failure_limit 1\): success_rate fail$/);
    expect(rollout.state.analysis!.runs.map((run) => run.verdict)).toEqual(["pass", "fail", "pass", "fail"]);
  });

  it("no traffic is never a pass: inconclusive windows past inconclusive_limit pause it with the reason; resume measures afresh", () => {
    let verdict: AnalysisVerdict = "inconclusive";
    const rollout = new AnalyzedRollout(rolling(analysisSettings({ inconclusive_limit: 2 })), () => [metric(verdict, "success_rate inconclusive: candidate deployment-3 had 0 requests, fewer than min_requests 20")]);
    rollout.runToEnd();
    expect(rollout.state).toMatchObject({ status: "PAUSED", pausedFrom: "RAMPING_UP", percentTrafficToNewVersion: 25, step: 1 });
    expect(rollout.state.analysis).toMatchObject({ inconclusive: 3, inconclusiveInARow: 3, windowStartsAt: null });
    expect(rollout.state.analysis!.pausedReason).toContain("analysis inconclusive 3 times in a row (inconclusive_limit 2) at step 1/4: success_rate inconclusive: candidate deployment-3 had 0 requests");
    // paused: nothing is measured and nothing moves
    rollout.now += 60_000;
    const paused = rollout.state;
    rollout.pass();
    expect(rollout.state).toBe(paused);
    const resumed = applyControlAction(rollout.state, "resume", rollout.now);
    if (!resumed.ok) throw new Error(resumed.reason);
    rollout.state = resumed.state;
    expect(rollout.state.analysis).toMatchObject({ inconclusiveInARow: 0, pausedReason: null });
    verdict = "pass";
    rollout.runToEnd();
    expect(rollout.state.status).toBe("SUCCEEDED");
  });

  it("a dry run records every window and never fails, pauses or holds the promotion", () => {
    const rollout = new AnalyzedRollout(rolling(analysisSettings({ dry_run: true }), 30), () => [metric("fail")]);
    rollout.runToEnd();
    expect(rollout.state.status).toBe("SUCCEEDED");
    expect(rollout.state.analysis!.failed).toBeGreaterThanOrEqual(4);
    expect(rollout.state.analysis!.runs.every((run) => run.verdict === "fail")).toBe(true);
  });

  it("RELEASING is not measured, and the first window starts initial_delay_seconds after the first traffic", () => {
    const rollout = new AnalyzedRollout(rolling(analysisSettings({ initial_delay_seconds: 25 })), () => [metric("pass")]);
    expect(rollout.state.analysis).toMatchObject({ windowStartsAt: null, firstTrafficAt: null });
    rollout.runToEnd();
    const firstTraffic = rollout.history.find((state) => state.percentTrafficToNewVersion > 0)!;
    expect(rollout.history.filter((state) => state.status === "RELEASING").every((state) => state.analysis!.windowStartsAt === null)).toBe(true);
    expect(rollout.state.analysis!.firstTrafficAt).toBe(firstTraffic.phaseStartedAt);
    expect(rollout.state.analysis!.runs[0]!.startedAt).toBeGreaterThanOrEqual(firstTraffic.phaseStartedAt + 25_000);
  });

  it("a canary stage waits for its interval and a passing window that started in it", () => {
    const state = start(settingsWith({ ramp_up_while_promoting: true, ramp_up_duration_seconds: 100, analysis: analysisSettings({ interval_seconds: 15 }) }), 2);
    const rollout = new AnalyzedRollout(state, () => [metric("pass")]);
    rollout.runToEnd();
    expect(rollout.state.status).toBe("SUCCEEDED");
    // a 10-s stage is held until a 15-s window that started in it has passed
    const stageStarts = rollout.history.filter((s, index) => index > 0 && s.phase === "canary_stage" && s.step !== rollout.history[index - 1]!.step);
    for (const stage of stageStarts) {
      expect(rollout.state.analysis!.runs.some((run) => run.startedAt >= stage.phaseStartedAt && run.step === stage.step)).toBe(true);
    }
  });

  it("a pass with no new window and nothing else changed writes nothing", () => {
    const rollout = new AnalyzedRollout(rolling(analysisSettings()), () => [metric("pass")]);
    for (let index = 0; index < 6; index += 1) rollout.pass(), (rollout.now += 1_000);
    const again = planNextStep(rollout.state, { ...rollout.observe(), analysis: undefined as never });
    const twice = planNextStep(again.state, { ...rollout.observe(), analysis: undefined as never });
    expect(twice.state).toBe(again.state);
  });
});
