/**
 * A view of a store that logs every statement run through it, inside transactions too (whitespace
 * collapsed), for tests that count what a component asks of the store. The store itself is not
 * changed: other components on it are not counted.
 */
import type { DecidedTransaction, Sql, SqlExecutor, SqlParam, SqlTransaction } from "../../engine/store/sql.js";

/** What a write at commit (SqlTransaction.writeAtCommit) is logged with, before its text: it costs no round trip of its own. */
export const AT_COMMIT = "at commit: ";

export interface StatementLog {
  sql: Sql;
  /** every statement so far, in order */
  statements: string[];
  /** for each statement, the number of the transaction it ran in (counted from 1), or undefined outside one */
  transactionOf: (number | undefined)[];
  /** how many statements since `from` (an index into `statements`) start with `shape` (a string) or match it */
  count(shape: string | RegExp, from?: number): number;
}

export function loggingStatements(store: Sql): StatementLog {
  const statements: string[] = [];
  const transactionOf: (number | undefined)[] = [];
  let transactions = 0;
  const log = (text: string, transaction: number | undefined) => {
    statements.push(text.replace(/\s+/g, " ").trim());
    transactionOf.push(transaction);
  };
  const executor = (target: SqlExecutor, transaction?: number): SqlExecutor => ({
    keyring: target.keyring,
    query<Row>(text: string, params?: readonly SqlParam[]): Promise<Row[]> {
      log(text, transaction);
      return target.query<Row>(text, params);
    },
    exec(script: string): Promise<void> {
      log(script, transaction);
      return target.exec(script);
    },
  });
  const sql: Sql = {
    ...executor(store),
    kind: store.kind,
    transaction: <T>(fn: (tx: SqlTransaction) => Promise<T>) =>
      store.transaction((tx) => {
        const transaction = ++transactions;
        return fn({
          ...executor(tx, transaction),
          writeAtCommit(text, params) {
            log(`${AT_COMMIT}${text}`, transaction);
            tx.writeAtCommit(text, params);
          },
        });
      }),
    // one request: its statements logged in one transaction, its writes as at commit once `decide` let them run
    async decidedTransaction<Row>(plan: DecidedTransaction, decided?: (rows: Row[]) => void): Promise<Row[]> {
      const transaction = ++transactions;
      for (const statement of [...(plan.before ?? []), plan.decide]) log(statement.text, transaction);
      const rows = await store.decidedTransaction(plan, decided);
      if (rows.length > 0) for (const write of plan.writes) log(`${AT_COMMIT}${write.text}`, transaction);
      return rows;
    },
    listen: (channel, onPayload, onGap) => store.listen(channel, onPayload, onGap),
    close: () => store.close(),
  };
  return {
    sql,
    statements,
    transactionOf,
    count: (shape, from = 0) => statements.slice(from).filter((text) => (typeof shape === "string" ? text.startsWith(shape) : shape.test(text))).length,
  };
}
