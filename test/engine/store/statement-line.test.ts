import { describe, expect, it } from "vitest";
import { nextTurn, StatementLine } from "../../../engine/store/statement-line.js";
import type { StatementWork } from "../../../engine/store/statement-priority.js";

describe("the turn each kind of work's statement takes", () => {
  it("gives changes being applied 5 ms ahead of requests, background work 200 ms and bookkeeping 1 s behind them", () => {
    expect(nextTurn({})).toBeUndefined();
    expect(nextTurn({ background: 100 })).toBe("background");
    expect(nextTurn({ bookkeeping: 100 })).toBe("bookkeeping");
    // a change being applied, asked up to 5 ms after a request, goes first
    expect(nextTurn({ applying: 105, request: 100 })).toBe("applying");
    expect(nextTurn({ applying: 106, request: 100 })).toBe("request");
    // background work waits for requests and changes asked up to 200 ms after it, not longer: it cannot starve
    expect(nextTurn({ request: 300, background: 100 })).toBe("request");
    expect(nextTurn({ request: 301, background: 100 })).toBe("background");
    expect(nextTurn({ applying: 305, background: 100 })).toBe("applying");
    expect(nextTurn({ applying: 306, request: 301, background: 100 })).toBe("background");
    // bookkeeping waits for every other kind asked up to 1 s after it
    expect(nextTurn({ background: 899, bookkeeping: 100 })).toBe("background");
    expect(nextTurn({ background: 901, bookkeeping: 100 })).toBe("bookkeeping");
    expect(nextTurn({ request: 1100, bookkeeping: 100 })).toBe("request");
    expect(nextTurn({ request: 1101, background: 901, bookkeeping: 100 })).toBe("bookkeeping");
  });
});

describe("a statement line", () => {
  /** A line of `places` on a clock the test moves; `started` lists the kinds in the order they got a place. */
  function lineOf(places: number) {
    let now = 0;
    const line = new StatementLine(places, () => now);
    const started: string[] = [];
    const releases: Array<() => void> = [];
    const ask = (work: StatementWork, name: string, callerId = "") =>
      void line.take(work, callerId).then((release) => {
        started.push(name);
        releases.push(release);
      });
    return { line, started, releases, ask, at: (ms: number) => (now = ms) };
  }
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it("hands a freed place to the earliest turn: a request before a burst of background work asked before it", async () => {
    const { started, releases, ask, at } = lineOf(1);
    ask("background", "b0");
    await settle();
    for (let i = 1; i <= 3; i++) ask("background", `b${i}`);
    at(50);
    ask("request", "r");
    ask("bookkeeping", "k");
    releases.shift()!();
    await settle();
    expect(started).toEqual(["b0", "r"]);
    releases.shift()!();
    await settle();
    releases.shift()!();
    await settle();
    expect(started).toEqual(["b0", "r", "b1", "b2"]);
  });

  it("lets background work go first once it has waited 200 ms, in the order it was asked", async () => {
    const { started, releases, ask, at } = lineOf(1);
    ask("request", "r0");
    await settle();
    ask("background", "b1");
    at(201);
    ask("request", "r1");
    releases.shift()!();
    await settle();
    expect(started).toEqual(["r0", "b1"]);
  });

  it("takes turns between callers within a kind: a caller's burst waits behind itself, not others' statements", async () => {
    const { started, releases, ask, at } = lineOf(1);
    // a rollout pipeline sends its burst first, then a user's two requests come
    for (let i = 0; i < 4; i++) ask("request", `pipeline${i}`, "key_pipeline");
    await settle();
    at(10);
    ask("request", "user0", "key_user");
    ask("request", "user1", "key_user");
    for (let i = 0; i < 5; i++) {
      releases.shift()!();
      await settle();
    }
    // the pipeline's burst was waiting first: it and the user alternate, the user's waiting one statement each
    expect(started).toEqual(["pipeline0", "pipeline1", "user0", "pipeline2", "user1", "pipeline3"]);
  });

  it("runs as many at once as it has places, and a place released twice counts once", async () => {
    const { started, releases, ask } = lineOf(2);
    for (const name of ["a", "b", "c", "d"]) ask("request", name);
    await settle();
    expect(started).toEqual(["a", "b"]);
    const first = releases.shift()!;
    first();
    first();
    await settle();
    expect(started).toEqual(["a", "b", "c"]);
  });

  it("gives a place back when its statement fails", async () => {
    const { line, started, ask } = lineOf(1);
    await expect(line.run(() => Promise.reject(new Error("refused")))).rejects.toThrow("refused");
    ask("request", "next");
    await settle();
    expect(started).toEqual(["next"]);
  });
});
