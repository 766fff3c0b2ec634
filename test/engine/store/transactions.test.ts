/**
 * The Sql port's transactions, on both adapters: BEGIN goes with the first statement (none sent
 * for a transaction that runs nothing), writes at commit go with the COMMIT, and a failure anywhere
 * leaves nothing behind. Decided transactions: their statement decides whether anything is written.
 */
import { describe, expect, it } from "vitest";
import { databaseErrorFields, SQLSTATE, type Sql } from "../../../engine/store/sql.js";
import { pgliteStoreForFile } from "../../support/pglite-store-for-file.js";
import { describeOnPostgres } from "../../support/postgres-store-for-file.js";

function transactionSuite(store: () => Sql): void {
  let table = 0;
  /** a table of its own per test: n unique */
  async function probeTable(): Promise<string> {
    const name = `tx_probe_${++table}`;
    await store().exec(`CREATE TABLE ${name} (n int PRIMARY KEY, note text)`);
    return name;
  }
  const numbers = async (name: string) => (await store().query<{ n: number }>(`SELECT n FROM ${name} ORDER BY n`)).map((row) => row.n);

  it("writes at commit land after the transaction's statements, in the order asked, unseen inside it", async () => {
    const name = await probeTable();
    const seen = await store().transaction(async (tx) => {
      tx.writeAtCommit(`INSERT INTO ${name} (n, note) VALUES ($1, $2)`, [2, "at commit"]);
      await tx.query(`INSERT INTO ${name} (n, note) VALUES ($1, $2)`, [1, "statement"]);
      // the second write reads the first's row: it runs after it
      tx.writeAtCommit(`INSERT INTO ${name} (n, note) SELECT n + 1, 'after ' || note FROM ${name} WHERE n = 2`);
      return (await tx.query<{ n: number }>(`SELECT n FROM ${name} ORDER BY n`)).map((row) => row.n);
    });
    expect(seen).toEqual([1]);
    expect(await numbers(name)).toEqual([1, 2, 3]);
    expect((await store().query<{ note: string }>(`SELECT note FROM ${name} WHERE n = 3`))[0]?.note).toBe("after at commit");
  });

  it("a write at commit that fails rolls the whole transaction back and is what the transaction throws", async () => {
    const name = await probeTable();
    await store().query(`INSERT INTO ${name} (n) VALUES (7)`);
    const failure = await store()
      .transaction(async (tx) => {
        await tx.query(`INSERT INTO ${name} (n) VALUES (1)`);
        tx.writeAtCommit(`INSERT INTO ${name} (n) VALUES (2)`);
        tx.writeAtCommit(`INSERT INTO ${name} (n) VALUES (7)`);
        tx.writeAtCommit(`INSERT INTO ${name} (n) VALUES (3)`);
        return "committed";
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(databaseErrorFields(failure)?.code, String(failure)).toBe(SQLSTATE.uniqueViolation);
    expect(await numbers(name)).toEqual([7]);
    // the session (PGlite's one, or the pooled connection) is usable after it
    await store().transaction(async (tx) => tx.writeAtCommit(`INSERT INTO ${name} (n) VALUES (8)`));
    expect(await numbers(name)).toEqual([7, 8]);
  });

  it("a callback that throws writes nothing, its writes at commit included, and its error is the one thrown", async () => {
    const name = await probeTable();
    await expect(
      store().transaction(async (tx) => {
        await tx.query(`INSERT INTO ${name} (n) VALUES (1)`);
        tx.writeAtCommit(`INSERT INTO ${name} (n) VALUES (2)`);
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    await expect(
      store().transaction(async (tx) => {
        tx.writeAtCommit(`INSERT INTO ${name} (n) VALUES (3)`);
        throw new Error("before any statement");
      }),
    ).rejects.toThrow("before any statement");
    expect(await numbers(name)).toEqual([]);
  });

  it("a transaction of writes at commit alone commits them; one that runs nothing answers", async () => {
    const name = await probeTable();
    await store().transaction(async (tx) => {
      tx.writeAtCommit(`INSERT INTO ${name} (n) VALUES (1)`);
      tx.writeAtCommit(`INSERT INTO ${name} (n) VALUES (2)`);
    });
    expect(await numbers(name)).toEqual([1, 2]);
    expect(await store().transaction(async () => "nothing to do")).toBe("nothing to do");
  });

  it("statements asked together as a transaction's first all run in it, ordered with the statements outside", async () => {
    const name = await probeTable();
    const outside: Promise<unknown>[] = [];
    const counts = await store().transaction(async (tx) => {
      const inside = [1, 2, 3].map((n) => tx.query(`INSERT INTO ${name} (n) VALUES ($1)`, [n]));
      // asked meanwhile outside the transaction: never sees it half done
      outside.push(store().query<{ count: string }>(`SELECT count(*)::text AS count FROM ${name}`));
      await Promise.all(inside);
      return (await tx.query<{ count: string }>(`SELECT count(*)::text AS count FROM ${name}`))[0]?.count;
    });
    expect(counts).toBe("3");
    const [seenOutside] = (await outside[0]) as { count: string }[];
    expect(["0", "3"]).toContain(seenOutside?.count);
    expect(await numbers(name)).toEqual([1, 2, 3]);
  });

  it("a decided transaction whose statement returns rows writes everything after it, answers its rows, and says so first", async () => {
    const name = await probeTable();
    await store().query(`INSERT INTO ${name} (n, note) VALUES (1, 'old')`);
    const order: string[] = [];
    const rows = await store().decidedTransaction<{ n: number; note: string }>(
      {
        before: [{ text: `SELECT 1 FROM ${name} WHERE n = 1 FOR UPDATE`, params: [] }],
        decide: { text: `UPDATE ${name} SET note = $2 WHERE n = $1 AND note = 'old' RETURNING n, note`, params: [1, "new"] },
        // the writes see the decided change: they run after it, in order
        writes: [
          { text: `INSERT INTO ${name} (n, note) SELECT 2, 'after ' || note FROM ${name} WHERE n = 1`, params: [] },
          { text: `INSERT INTO ${name} (n, note) VALUES ($1, $2)`, params: [3, "third"] },
        ],
      },
      (decided) => order.push(`decided ${decided.length}`),
    );
    order.push("answered");
    expect(rows).toEqual([{ n: 1, note: "new" }]);
    expect(order).toEqual(["decided 1", "answered"]);
    expect(await store().query(`SELECT n, note FROM ${name} ORDER BY n`)).toEqual([
      { n: 1, note: "new" },
      { n: 2, note: "after new" },
      { n: 3, note: "third" },
    ]);
  });

  it("a decided transaction whose statement returns no rows writes nothing, what ran before it included", async () => {
    const name = await probeTable();
    let decided = false;
    const rows = await store().decidedTransaction(
      {
        before: [{ text: `INSERT INTO ${name} (n) VALUES (1)`, params: [] }],
        decide: { text: `UPDATE ${name} SET note = 'x' WHERE n = 99 RETURNING n`, params: [] },
        writes: [{ text: `INSERT INTO ${name} (n) VALUES (2)`, params: [] }],
      },
      () => (decided = true),
    );
    expect(rows).toEqual([]);
    expect(decided).toBe(false);
    expect(await numbers(name)).toEqual([]);
  });

  it("a decided transaction's failing write rolls it all back and is what it throws; the session is usable after", async () => {
    const name = await probeTable();
    await store().query(`INSERT INTO ${name} (n) VALUES (7)`);
    const failure = await store()
      .decidedTransaction({
        decide: { text: `INSERT INTO ${name} (n) VALUES (1) RETURNING n`, params: [] },
        writes: [
          { text: `INSERT INTO ${name} (n) VALUES (2)`, params: [] },
          { text: `INSERT INTO ${name} (n) VALUES (7)`, params: [] },
        ],
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(databaseErrorFields(failure)?.code, String(failure)).toBe(SQLSTATE.uniqueViolation);
    expect(await numbers(name)).toEqual([7]);
    // a failing decide: the same
    await expect(store().decidedTransaction({ decide: { text: `INSERT INTO ${name} (n) VALUES (7) RETURNING n`, params: [] }, writes: [] })).rejects.toMatchObject({
      code: SQLSTATE.uniqueViolation,
    });
    await store().decidedTransaction({ decide: { text: `INSERT INTO ${name} (n) VALUES (8) RETURNING n`, params: [] }, writes: [] });
    expect(await numbers(name)).toEqual([7, 8]);
  });
}

describe("transactions on PGlite", () => {
  const store = pgliteStoreForFile();
  transactionSuite(store);

  it("a decided transaction is one request: a statement asked meanwhile runs before or after it whole, and is answered after it is decided", async () => {
    await store().exec("CREATE TABLE tx_one_request (n int PRIMARY KEY)");
    const order: string[] = [];
    const transaction = store().decidedTransaction(
      {
        before: [{ text: "INSERT INTO tx_one_request (n) VALUES (1)", params: [] }],
        decide: { text: "INSERT INTO tx_one_request (n) VALUES (2) RETURNING n", params: [] },
        writes: [{ text: "INSERT INTO tx_one_request (n) VALUES (3)", params: [] }],
      },
      () => order.push("decided"),
    );
    const read = store()
      .query<{ count: string }>("SELECT count(*)::text AS count FROM tx_one_request")
      .then(([row]) => order.push(`read ${row?.count}`));
    await Promise.all([transaction, read]);
    expect(order).toEqual(["decided", "read 3"]);
  });
});

describeOnPostgres("transactions on PostgreSQL", transactionSuite);
