/**
 * KnownRows keeps a row only when its statement did not overlap another result or a forget for the
 * same id (known-rows.ts): which of two overlapping results is the newer is unknown.
 */
import { describe, expect, it } from "vitest";
import { KnownRows } from "../../../engine/control/known-rows.js";

/** A statement the test finishes when it wants. */
function pending<T>(): { statement: () => Promise<T | undefined>; finish: (value: T | undefined) => void } {
  let finish: (value: T | undefined) => void = () => undefined;
  const result = new Promise<T | undefined>((resolve) => (finish = resolve));
  return { statement: () => result, finish: (value) => finish(value) };
}

/** One id's statement, through throughMany as a single row's sync uses it (rows here: the text returned). */
function through(rows: KnownRows<string>, id: string, statement: () => Promise<string | undefined>): Promise<unknown> {
  return rows.throughMany(
    [id],
    async () => {
      const value = await statement();
      return value === undefined ? [] : [{ id, value }];
    },
    (result) => result.value,
  );
}

describe("KnownRows", () => {
  it("keeps what a statement returned, and forgets on no row", async () => {
    const rows = new KnownRows<string>();
    await through(rows, "a", async () => "a1");
    expect(rows.get("a")).toBe("a1");
    await through(rows, "a", async () => undefined);
    expect(rows.get("a")).toBeUndefined();
    expect(rows.size).toBe(0);
  });

  it("two overlapping statements for one id: neither is kept, whichever ends first", async () => {
    for (const firstToEnd of [0, 1]) {
      const rows = new KnownRows<string>();
      const statements = [pending<string>(), pending<string>()];
      const running = statements.map((statement) => through(rows, "a", statement.statement));
      statements[firstToEnd]!.finish("first");
      await running[firstToEnd];
      statements[1 - firstToEnd]!.finish("second");
      await running[1 - firstToEnd];
      expect(rows.get("a")).toBeUndefined();
    }
  });

  it("a forget while a statement runs: its result is not kept (it may predate what was forgotten)", async () => {
    const rows = new KnownRows<string>();
    await through(rows, "a", async () => "a1");
    const read = pending<string>();
    const running = through(rows, "a", read.statement);
    rows.forget("a");
    read.finish("a2");
    await running;
    expect(rows.get("a")).toBeUndefined();
    // the next statement alone is kept again
    await through(rows, "a", async () => "a3");
    expect(rows.get("a")).toBe("a3");
  });

  it("forgetAll while statements run; other ids are not touched by one id's statements; nothing is left behind", async () => {
    const rows = new KnownRows<string>();
    await through(rows, "b", async () => "b1");
    const read = pending<string>();
    const running = through(rows, "a", read.statement);
    expect(rows.get("b")).toBe("b1");
    rows.forgetAll();
    read.finish("a1");
    await running;
    expect(rows.get("a")).toBeUndefined();
    expect(rows.get("b")).toBeUndefined();
    expect(rows.size).toBe(0);
  });

  it("a failed statement forgets the id and throws", async () => {
    const rows = new KnownRows<string>();
    await through(rows, "a", async () => "a1");
    await expect(through(rows, "a", () => Promise.reject(new Error("lost connection")))).rejects.toThrow("lost connection");
    expect(rows.get("a")).toBeUndefined();
  });

  it("throughMany keeps each returned row unless that id's row was forgotten meanwhile; ids not returned and a failed statement forget", async () => {
    const rows = new KnownRows<{ id: string; v: number }>();
    const copy = (row: { id: string; v: number }) => ({ ...row });
    await rows.throughMany(["c"], async () => [{ id: "c", v: 0 }], copy);
    let finish: (result: Array<{ id: string; v: number }>) => void = () => undefined;
    const running = rows.throughMany(["a", "b", "c"], () => new Promise<Array<{ id: string; v: number }>>((resolve) => (finish = resolve)), copy);
    rows.forget("b");
    finish([
      { id: "a", v: 1 },
      { id: "b", v: 1 },
    ]);
    expect((await running).map((row) => row.id)).toEqual(["a", "b"]);
    expect(rows.get("a")).toEqual({ id: "a", v: 1 });
    expect(rows.get("b")).toBeUndefined();
    expect(rows.get("c")).toBeUndefined();
    await expect(rows.throughMany(["a"], () => Promise.reject(new Error("lost connection")), copy)).rejects.toThrow("lost connection");
    expect(rows.get("a")).toBeUndefined();
    expect(rows.size).toBe(0);
  });
});
