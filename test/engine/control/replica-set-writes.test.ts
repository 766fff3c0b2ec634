/**
 * The replica_sets rows written behind the leader's decisions (engine/control/replica-set-writes.ts),
 * on a recording store: per set the latest operation wins, a flush writes everything pending in one
 * statement per kind (and fence) of at most its batch size, one flush at a time, what arrives during
 * a flush waits for the next; fenced-out and failed rows are reported, written ones' deployments told.
 * The statements themselves, on both stores: test/engine/store/replica-sets.test.ts.
 */
import { describe, expect, it } from "vitest";
import { ReplicaSetWrites, type ReplicaSetRowStore } from "../../../engine/control/replica-set-writes.js";
import type { ReplicaSetWrite, WriteFence } from "../../../engine/store/replica-sets.js";

interface Statement {
  kind: "upsert" | "remove";
  rows: string[];
  fence: WriteFence | undefined;
}

/** Records each statement; `hold` keeps the next one from answering until released; `fencedOut` epochs write nothing. */
function recordingStore(options: { fencedOut?: number[]; fail?: (statement: Statement) => boolean } = {}) {
  const statements: Statement[] = [];
  let running = 0;
  let mostRunning = 0;
  let held: { release: () => void; promise: Promise<void> } | undefined;
  const answer = async (statement: Statement, ids: readonly string[]): Promise<readonly string[]> => {
    statements.push(statement);
    running++;
    mostRunning = Math.max(mostRunning, running);
    try {
      if (held !== undefined) await held.promise;
      await new Promise((resolve) => setImmediate(resolve));
      if (options.fail?.(statement)) throw new Error("the store refused");
      return statement.fence !== undefined && options.fencedOut?.includes(statement.fence.epoch) ? [] : ids;
    } finally {
      running--;
    }
  };
  const store: ReplicaSetRowStore = {
    upsert: (rows, fence) => answer({ kind: "upsert", rows: rows.map((row) => `${row.id}=${row.desired}`), fence }, rows.map((row) => row.id)),
    remove: (ids, fence) => answer({ kind: "remove", rows: [...ids], fence }, ids),
  };
  return {
    store,
    statements,
    mostRunning: () => mostRunning,
    hold(): () => void {
      let release = () => undefined as void;
      const promise = new Promise<void>((resolve) => (release = resolve));
      held = { release, promise };
      return () => {
        held = undefined;
        release();
      };
    },
  };
}

const at = new Date("2026-12-03T22:00:00.000Z");
const row = (id: string, desired: number, deploymentId = id.split(".")[0] ?? id): ReplicaSetWrite => ({ id, deploymentId, environment: null, role: "own", desired, at });
const fence = (epoch: number): WriteFence => ({ name: "control", holder: "engine-a", epoch });

describe("replica set writes", () => {
  it("one turn's operations are one statement per kind, the latest per set: a count replaced by a later count or by the removal", async () => {
    const recording = recordingStore();
    const told: string[][] = [];
    const writes = new ReplicaSetWrites({ store: recording.store, written: (deployments) => told.push([...deployments].sort()) });
    writes.upsert(row("d1", 1), undefined);
    writes.upsert(row("d1.production", 1), undefined);
    writes.upsert(row("d2", 1), undefined);
    writes.upsert(row("d1", 2), undefined);
    writes.upsert(row("d1", 3), undefined);
    writes.remove("d2", "d2", undefined);
    writes.remove("d3.staging", "d3", undefined);
    writes.upsert(row("d3.staging", 4), undefined);
    // nothing is written in the turn that decided it
    expect(recording.statements).toEqual([]);
    expect(writes.pending).toBe(4);
    await writes.drain();
    expect(recording.statements).toEqual([
      { kind: "upsert", rows: ["d1=3", "d1.production=1", "d3.staging=4"], fence: undefined },
      { kind: "remove", rows: ["d2"], fence: undefined },
    ]);
    expect(told).toEqual([["d1", "d3"], ["d2"]]);
  });

  it("flushes on the next turn without being asked, and what arrives during a flush waits for the next one", async () => {
    const recording = recordingStore();
    const writes = new ReplicaSetWrites({ store: recording.store });
    const release = recording.hold();
    writes.upsert(row("a", 1), undefined);
    await new Promise((resolve) => setImmediate(resolve));
    expect(recording.statements.map((statement) => statement.rows)).toEqual([["a=1"]]);
    // during the flush: the same set again and another, coalesced, written after it
    writes.upsert(row("a", 2), undefined);
    writes.upsert(row("b", 1), undefined);
    writes.upsert(row("a", 3), undefined);
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(recording.statements.length).toBe(1);
    release();
    await writes.drain();
    expect(recording.statements.map((statement) => statement.rows)).toEqual([["a=1"], ["a=3", "b=1"]]);
    expect(recording.mostRunning()).toBe(1);
  });

  it("splits a large flush into statements of at most its batch size, and a fence change into a statement per fence", async () => {
    const recording = recordingStore();
    const writes = new ReplicaSetWrites({ store: recording.store, batchRows: 500 });
    for (let n = 0; n < 1_200; n++) writes.upsert(row(`d${n}`, 1), fence(7));
    writes.upsert(row("late", 1), fence(8));
    await writes.drain();
    expect(recording.statements.map((statement) => [statement.rows.length, statement.fence?.epoch])).toEqual([
      [500, 7],
      [500, 7],
      [200, 7],
      [1, 8],
    ]);
  });

  it("reports the rows fenced out and those of a failed statement, tells only the written ones' deployments, and goes on", async () => {
    const recording = recordingStore({ fencedOut: [1], fail: (statement) => statement.kind === "remove" });
    const notWritten: string[] = [];
    const failed: string[] = [];
    const told: string[] = [];
    const writes = new ReplicaSetWrites({
      store: recording.store,
      written: (deployments) => told.push(...deployments),
      failed: (ids, error) => failed.push(`${ids.join(",")}: ${error.message}`),
    });
    const report = (id: string) => (error?: Error) => notWritten.push(`${id}: ${error?.message ?? "fenced out"}`);
    writes.upsert(row("old.production", 2), fence(1), report("old.production"));
    writes.upsert(row("new", 1), fence(2), report("new"));
    writes.remove("gone", "gone", fence(2), report("gone"));
    // replaced before its flush: not reported, the later operation is
    writes.upsert(row("replaced", 1), fence(1), report("replaced (first)"));
    writes.upsert(row("replaced", 2), fence(2), report("replaced"));
    await writes.drain();
    expect(notWritten.sort()).toEqual(["gone: the store refused", "old.production: fenced out"]);
    expect(failed).toEqual(["gone: the store refused"]);
    expect(told.sort()).toEqual(["new", "replaced"]);
    // the writes go on after a failed statement
    writes.upsert(row("gone.production", 0), undefined);
    await writes.drain();
    expect(recording.statements.at(-1)).toEqual({ kind: "upsert", rows: ["gone.production=0"], fence: undefined });
    expect(told.at(-1)).toBe("gone");
  });

  it("drain waits for the flush under way and for what arrived during it", async () => {
    const recording = recordingStore();
    const writes = new ReplicaSetWrites({ store: recording.store });
    const release = recording.hold();
    writes.upsert(row("a", 1), undefined);
    await new Promise((resolve) => setImmediate(resolve));
    writes.upsert(row("b", 1), undefined);
    let drained = false;
    const draining = writes.drain().then(() => (drained = true));
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(drained).toBe(false);
    release();
    await draining;
    expect(writes.pending).toBe(0);
    expect(recording.statements.map((statement) => statement.rows)).toEqual([["a=1"], ["b=1"]]);
  });
});
