/**
 * The embedded store's session (engine/store/pglite-worker.ts): statements go to PGlite as one
 * prepared-statement message each, and the worker's own lock gives a transaction the session from
 * BEGIN to its end. What that must keep: a transaction is never interleaved with other statements,
 * a commit after a failed statement is not a commit, a prepared statement survives a schema change,
 * and any number of distinct statements can run.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { databaseErrorFields, SQLSTATE } from "../../../engine/store/index.js";
import { pgliteStoreForFile } from "../../support/pglite-store-for-file.js";
import { waitFor } from "../../../testing/index.js";

const store = pgliteStoreForFile();
// after the store's own beforeAll: vitest runs a file's beforeAll hooks in the order they are registered
beforeAll(async () => {
  await store().exec("CREATE TABLE session_test (id integer PRIMARY KEY, label text NOT NULL)");
});

describe("the embedded store's session", () => {
  it("runs a statement sent while a transaction is open after it, seeing what it committed", async () => {
    let release: () => void = () => undefined;
    const holding = new Promise<void>((resolve) => (release = resolve));
    let inserted: () => void = () => undefined;
    const insertedInTransaction = new Promise<void>((resolve) => (inserted = resolve));
    const transaction = store().transaction(async (tx) => {
      await tx.query("INSERT INTO session_test (id, label) VALUES (1, 'one')");
      inserted();
      await holding;
      await tx.query("UPDATE session_test SET label = 'one, updated' WHERE id = 1");
    });
    await insertedInTransaction;
    let committed = false;
    let answeredBeforeCommit = true;
    const outside = store().query<{ label: string }>("SELECT label FROM session_test WHERE id = 1").then((rows) => {
      answeredBeforeCommit = !committed;
      return rows;
    });
    // the outside statement waits in the worker: give it every chance to run early
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await transaction;
    committed = true;
    expect(await outside).toEqual([{ label: "one, updated" }]);
    expect(answeredBeforeCommit).toBe(false);
  });

  it("fails a commit after a failed statement, writes nothing of it, and frees the session", async () => {
    const committing = store().transaction(async (tx) => {
      await tx.query("INSERT INTO session_test (id, label) VALUES (2, 'two')");
      // the duplicate fails and aborts the transaction; the caller swallows it and commits anyway
      const duplicate = await tx.query("INSERT INTO session_test (id, label) VALUES (1, 'again')").catch((error: unknown) => error);
      expect(databaseErrorFields(duplicate)?.code).toBe(SQLSTATE.uniqueViolation);
    });
    await expect(committing).rejects.toThrow(/rolled back/);
    expect(await store().query("SELECT id FROM session_test WHERE id = 2")).toEqual([]);
    // not left inside the failed transaction: a write outside it commits
    await store().query("INSERT INTO session_test (id, label) VALUES (3, 'three')");
    expect(await store().query("SELECT label FROM session_test WHERE id = 3")).toEqual([{ label: "three" }]);
  });

  it("keeps answering a prepared SELECT * after its table gained a column", async () => {
    const before = await store().query("SELECT * FROM session_test WHERE id = $1", [3]);
    expect(before).toEqual([{ id: 3, label: "three" }]);
    await store().exec("ALTER TABLE session_test ADD COLUMN note text NOT NULL DEFAULT 'none'");
    expect(await store().query("SELECT * FROM session_test WHERE id = $1", [3])).toEqual([{ id: 3, label: "three", note: "none" }]);
  });

  it("runs more distinct statements than it keeps prepared, each with its own answer", async () => {
    for (let n = 0; n < 1_100; n += 1) {
      const [row] = await store().query<{ sum: number }>(`SELECT $1::integer + ${n} AS sum`, [1]);
      expect(row?.sum).toBe(n + 1);
    }
    // the earliest were closed to make room, and are parsed again when they come back
    expect(await store().query("SELECT $1::integer + 0 AS sum", [41])).toEqual([{ sum: 41 }]);
  });

  it("passes parameters of every kind the engine uses, and parses their columns back", async () => {
    const at = new Date("2026-01-02T03:04:05.678Z");
    const [row] = await store().query<Record<string, unknown>>(
      "SELECT $1::text AS text, $2::integer AS integer, $3::double precision AS double, $4::boolean AS flag, $5::timestamptz AS at, $6::jsonb AS json, $7::text AS nothing, $8::bigint AS big",
      ["a 'quoted' text", 42, 0.25, false, at, JSON.stringify({ a: [1, "x"] }), null, 9_007_199_254_740_991],
    );
    expect(row).toEqual({ text: "a 'quoted' text", integer: 42, double: 0.25, flag: false, at, json: { a: [1, "x"] }, nothing: null, big: 9_007_199_254_740_991 });
  });
});

describe("the embedded store's statistics", () => {
  it("analyses a table once it has grown, as autovacuum would (PGlite runs none)", async () => {
    await store().exec("CREATE TABLE growing_test (id integer PRIMARY KEY, label text NOT NULL)");
    // a plan made now, for an empty table, would scan it whole
    for (let n = 0; n < 10; n += 1) expect(await store().query("SELECT * FROM growing_test WHERE id = $1", [n])).toEqual([]);
    const reltuples = async () => (await store().query<{ reltuples: number }>("SELECT reltuples FROM pg_class WHERE relname = 'growing_test'"))[0]?.reltuples;
    expect(await reltuples()).toBeLessThan(0); // never analysed
    await store().query("INSERT INTO growing_test (id, label) SELECT n, 'row ' || n FROM generate_series(1, 5000) n");
    await waitFor(async () => (await reltuples()) === 5000, { timeoutMs: 20_000, intervalMs: 100, message: "growing_test analysed" });
    expect(await store().query("SELECT label FROM growing_test WHERE id = $1", [4321])).toEqual([{ label: "row 4321" }]);
    // analysed with a small sample (it holds the one session: 11 histogram bounds, not 101), the session's own setting put back
    const [bounds] = await store().query<{ bounds: number }>(
      "SELECT array_length(histogram_bounds::text::text[], 1) AS bounds FROM pg_stats WHERE tablename = 'growing_test' AND attname = 'label'",
    );
    expect(bounds?.bounds).toBeLessThanOrEqual(11);
    expect(await store().query("SHOW default_statistics_target")).toEqual([{ default_statistics_target: "100" }]);
  });
});
