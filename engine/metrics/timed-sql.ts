/**
 * The store, timed: every query and transaction of the engine goes through the Sql port, so
 * wrapping it once times them all (modelplane_store_query_duration_seconds). Labels are the
 * statement's first keyword, never its text or parameters (which hold ids and ciphertexts).
 */
import { performance } from "node:perf_hooks";
import type { DecidedTransaction, Sql, SqlExecutor, SqlParam, SqlTransaction } from "../store/sql.js";

export type StoreOperation = "select" | "insert" | "update" | "delete" | "other";

export interface StoreTiming {
  query(operation: StoreOperation, seconds: number, failed: boolean): void;
  transaction(seconds: number, failed: boolean): void;
}

function isNamedOperation(keyword: string): keyword is Exclude<StoreOperation, "other"> {
  return keyword === "select" || keyword === "insert" || keyword === "update" || keyword === "delete";
}

/** `SELECT …` → select; `WITH …`, DDL, `LOCK` and anything else → other. */
export function storeOperationOf(text: string): StoreOperation {
  const keyword = /^\s*([A-Za-z]+)/.exec(text)?.[1]?.toLowerCase();
  return keyword !== undefined && isNamedOperation(keyword) ? keyword : "other";
}

export function timedSql(sql: Sql, timing: StoreTiming): Sql {
  const timed = (executor: SqlExecutor): SqlExecutor => ({
    keyring: executor.keyring,
    async query<Row>(text: string, params?: readonly SqlParam[]): Promise<Row[]> {
      const started = performance.now();
      let failed = true;
      try {
        const rows = await executor.query<Row>(text, params);
        failed = false;
        return rows;
      } finally {
        timing.query(storeOperationOf(text), (performance.now() - started) / 1000, failed);
      }
    },
    async exec(script: string): Promise<void> {
      const started = performance.now();
      let failed = true;
      try {
        await executor.exec(script);
        failed = false;
      } finally {
        timing.query("other", (performance.now() - started) / 1000, failed);
      }
    },
  });
  const root = timed(sql);
  return {
    kind: sql.kind,
    keyring: sql.keyring,
    query: root.query,
    exec: root.exec,
    async transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
      const started = performance.now();
      let failed = true;
      try {
        // writes at commit are timed with the transaction they end
        const result = await sql.transaction((tx) => fn({ ...timed(tx), writeAtCommit: (text, params) => tx.writeAtCommit(text, params) }));
        failed = false;
        return result;
      } finally {
        timing.transaction((performance.now() - started) / 1000, failed);
      }
    },
    // one request: timed as the transaction it is (its statements are not seen one by one)
    async decidedTransaction<Row>(plan: DecidedTransaction, decided?: (rows: Row[]) => void): Promise<Row[]> {
      const started = performance.now();
      let failed = true;
      try {
        const rows = await sql.decidedTransaction(plan, decided);
        failed = false;
        return rows;
      } finally {
        timing.transaction((performance.now() - started) / 1000, failed);
      }
    },
    listen: (channel, onPayload, onGap) => sql.listen(channel, onPayload, onGap),
    close: () => sql.close(),
  };
}
