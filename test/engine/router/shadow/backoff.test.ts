/**
 * The shadow back-off's decisions (engine/router/shadow/backoff.ts) as tables: a sequence of
 * events at given times, the admission of each copy and the state after each event.
 */
import { describe, expect, it } from "vitest";
import {
  admitCopy,
  copyEnded,
  isForgettable,
  SENDING,
  SHADOW_BACKOFF,
  type CopyAdmission,
  type ShadowTargetState,
} from "../../../../engine/router/shadow/backoff.js";

type Event =
  | { at: number; copy: CopyAdmission } // a copy asks to be sent; expected admission
  | { at: number; answered: true }
  | { at: number; failed: true; probe?: boolean };

/** Runs the events from `start`; returns the state after each one. */
function run(events: readonly Event[], start: ShadowTargetState = SENDING): { admissions: CopyAdmission[]; states: ShadowTargetState[] } {
  let state = start;
  const admissions: CopyAdmission[] = [];
  const states: ShadowTargetState[] = [];
  for (const event of events) {
    if ("copy" in event) {
      const decided = admitCopy(state, event.at);
      admissions.push(decided.admission);
      state = decided.next;
    } else if ("answered" in event) {
      state = copyEnded(state, { kind: "answered" }, event.at, SHADOW_BACKOFF);
    } else {
      state = copyEnded(state, { kind: "failed", probe: event.probe ?? false }, event.at, SHADOW_BACKOFF);
    }
    states.push(state);
  }
  return { admissions, states };
}

const backingOff = (until: number, backoffMs: number): ShadowTargetState => ({ kind: "backing_off", until, backoffMs });

describe("shadow back-off (5 failures in a row, 1 s doubling to 30 s)", () => {
  it.each<[string, Event[], ShadowTargetState[]]>([
    ["4 failures in a row keep sending", [1, 2, 3, 4].map((at) => ({ at, failed: true as const })), [1, 2, 3, 4].map((failures) => ({ kind: "sending", failures }))],
    [
      "the 5th failure in a row backs off 1 s from its time",
      [1, 2, 3, 4, 5].map((at) => ({ at, failed: true as const })),
      [...[1, 2, 3, 4].map((failures): ShadowTargetState => ({ kind: "sending", failures })), backingOff(1005, 1000)],
    ],
    [
      "an answer between failures resets the count",
      [{ at: 1, failed: true }, { at: 2, failed: true }, { at: 3, answered: true }, { at: 4, failed: true }],
      [{ kind: "sending", failures: 1 }, { kind: "sending", failures: 2 }, SENDING, { kind: "sending", failures: 1 }],
    ],
  ])("%s", (_name, events, states) => {
    expect(run(events).states).toEqual(states);
  });

  it("backing off: copies are not sent before the period ends; then one probe, the others still backed off", () => {
    const { admissions, states } = run(
      [
        { at: 1000, copy: "back_off" },
        { at: 1999, copy: "back_off" },
        { at: 2000, copy: "probe" },
        { at: 2001, copy: "back_off" },
        { at: 9000, copy: "back_off" }, // the probe is still out (a hung shadow's probe takes its timeout)
      ],
      backingOff(2000, 1000),
    );
    expect(admissions).toEqual(["back_off", "back_off", "probe", "back_off", "back_off"]);
    expect(states.at(-1)).toEqual({ kind: "probing", backoffMs: 1000 });
  });

  it("a failed probe doubles the period (1, 2, 4, 8, 16, 30, 30 s); an answered probe resumes sending", () => {
    let state: ShadowTargetState = backingOff(1000, 1000);
    const periods: number[] = [];
    for (let probe = 0; probe < 7; probe++) {
      const at = (state as Extract<ShadowTargetState, { kind: "backing_off" }>).until;
      const decided = admitCopy(state, at);
      expect(decided.admission).toBe("probe");
      state = copyEnded(decided.next, { kind: "failed", probe: true }, at + 10, SHADOW_BACKOFF);
      expect(state.kind).toBe("backing_off");
      periods.push((state as Extract<ShadowTargetState, { kind: "backing_off" }>).backoffMs);
    }
    expect(periods).toEqual([2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
    const until = (state as Extract<ShadowTargetState, { kind: "backing_off" }>).until;
    const probed = admitCopy(state, until);
    expect(copyEnded(probed.next, { kind: "answered" }, until + 5, SHADOW_BACKOFF)).toEqual(SENDING);
  });

  it("late ends of copies sent before the back-off began: a failure changes nothing, an answer resumes sending", () => {
    expect(run([{ at: 1500, failed: true }], backingOff(2000, 1000)).states).toEqual([backingOff(2000, 1000)]);
    expect(run([{ at: 2500, failed: true, probe: false }], { kind: "probing", backoffMs: 1000 }).states).toEqual([{ kind: "probing", backoffMs: 1000 }]);
    expect(run([{ at: 1500, answered: true }], backingOff(2000, 1000)).states).toEqual([SENDING]);
    expect(run([{ at: 2500, answered: true }], { kind: "probing", backoffMs: 1000 }).states).toEqual([SENDING]);
  });

  it("the worked example: down from 0 s, back at 40 s — 5 failed probes, the one at 61 s answers", () => {
    const events: Event[] = [0, 0, 0, 0, 0].map((at) => ({ at, failed: true as const }));
    let { states } = run(events);
    let state = states.at(-1)!;
    const probes: number[] = [];
    for (let second = 1; second <= 70; second++) {
      const at = second * 1000;
      const decided = admitCopy(state, at);
      state = decided.next;
      if (decided.admission !== "probe") continue;
      probes.push(second);
      state = copyEnded(state, at >= 40_000 ? { kind: "answered" } : { kind: "failed", probe: true }, at, SHADOW_BACKOFF);
    }
    expect(probes).toEqual([1, 3, 7, 15, 31, 61]);
    expect(state).toEqual(SENDING);
    ({ states } = run([{ at: 62_000, copy: "send" }], state));
    expect(states).toEqual([SENDING]);
  });

  it.each<[string, ShadowTargetState, number, boolean]>([
    ["a replica nothing went wrong with", SENDING, 0, true],
    ["one with failures not yet at the threshold", { kind: "sending", failures: 2 }, 0, false],
    ["one backing off", backingOff(2000, 1000), 2000, false],
    ["one whose period ended 29.999 s ago", backingOff(2000, 1000), 31_999, false],
    ["one whose period ended 30 s ago with no copy to probe it", backingOff(2000, 1000), 32_000, true],
    ["one with its probe out", { kind: "probing", backoffMs: 1000 }, 1_000_000, false],
  ])("forgettable: %s → %s", (_name, state, now, forgettable) => {
    expect(isForgettable(state, now, SHADOW_BACKOFF)).toBe(forgettable);
  });
});
