import { describe, expect, it } from "vitest";
import { storeOperationOf, timedSql, type StoreOperation } from "../../../engine/metrics/timed-sql.js";
import { decidedTransactionOf, type Sql, type SqlExecutor } from "../../../engine/store/sql.js";
import type { SecretKeyring } from "../../../engine/store/secret-keyring.js";

describe("storeOperationOf", () => {
  it.each([
    ["SELECT * FROM models", "select"],
    ["  select 1", "select"],
    ["\n    INSERT INTO promotions (id) VALUES ($1)", "insert"],
    ["UPDATE deployments SET status = $1", "update"],
    ["DELETE FROM api_keys", "delete"],
    ["WITH x AS (SELECT 1) SELECT * FROM x", "other"],
    ["CREATE TABLE t (id text)", "other"],
    ["", "other"],
  ] as const)("%j → %s", (text, operation) => {
    expect(storeOperationOf(text)).toBe(operation);
  });
});

describe("timedSql", () => {
  it("times every query, those in a transaction too, and the transaction; a decided transaction as one; a failing query is timed and reported failed", async () => {
    const executor = (): SqlExecutor => ({
      keyring: {} as SecretKeyring,
      query: async <Row>(text: string) => {
        if (text.startsWith("UPDATE")) throw new Error("constraint");
        return [] as Row[];
      },
      exec: async () => undefined,
    });
    const inner: Sql = {
      kind: "pglite",
      ...executor(),
      transaction: (fn) => fn({ ...executor(), writeAtCommit: () => undefined }),
      decidedTransaction: (plan) => decidedTransactionOf(inner, plan),
      listen: async () => async () => undefined,
      close: async () => undefined,
    };
    const queries: Array<[StoreOperation, boolean]> = [];
    const transactions: boolean[] = [];
    const sql = timedSql(inner, { query: (operation, _seconds, failed) => queries.push([operation, failed]), transaction: (_seconds, failed) => transactions.push(failed) });
    await sql.query("SELECT 1");
    await sql.transaction(async (tx) => {
      await tx.query("INSERT INTO t VALUES (1)");
      await tx.query("SELECT 2");
    });
    await expect(sql.query("UPDATE t SET x = 1")).rejects.toThrow("constraint");
    await expect(sql.transaction((tx) => tx.query("UPDATE t SET x = 2"))).rejects.toThrow("constraint");
    expect(await sql.decidedTransaction({ decide: { text: "SELECT 3", params: [] }, writes: [] })).toEqual([]);
    await expect(sql.decidedTransaction({ decide: { text: "UPDATE t SET x = 3", params: [] }, writes: [] })).rejects.toThrow("constraint");
    expect(queries).toEqual([["select", false], ["insert", false], ["select", false], ["update", true], ["update", true]]);
    expect(transactions).toEqual([false, true, false, true]);
    expect(sql.kind).toBe("pglite");
  });
});
