/**
 * A view of a store that logs every statement run through it, inside transactions too (whitespace
 * collapsed), for tests that count what a component asks of the store. The store itself is not
 * changed: other components on it are not counted.
 */
import type { Sql, SqlExecutor, SqlParam, SqlTransaction } from "../../engine/store/sql.js";

/** What a write at commit (SqlTransaction.writeAtCommit) is logged with, before its text: it costs no round trip of its own. */
export const AT_COMMIT = "at commit: ";

export interface StatementLog {
  sql: Sql;
  /** every statement so far, in order */
  statements: string[];
  /** how many statements since `from` (an index into `statements`) start with `shape` (a string) or match it */
  count(shape: string | RegExp, from?: number): number;
}

export function loggingStatements(store: Sql): StatementLog {
  const statements: string[] = [];
  const log = (text: string) => statements.push(text.replace(/\s+/g, " ").trim());
  const executor = (target: SqlExecutor): SqlExecutor => ({
    keyring: target.keyring,
    query<Row>(text: string, params?: readonly SqlParam[]): Promise<Row[]> {
      log(text);
      return target.query<Row>(text, params);
    },
    exec(script: string): Promise<void> {
      log(script);
      return target.exec(script);
    },
  });
  const sql: Sql = {
    ...executor(store),
    kind: store.kind,
    transaction: <T>(fn: (tx: SqlTransaction) => Promise<T>) =>
      store.transaction((tx) =>
        fn({
          ...executor(tx),
          writeAtCommit(text, params) {
            log(`${AT_COMMIT}${text}`);
            tx.writeAtCommit(text, params);
          },
        }),
      ),
    listen: (channel, onPayload, onGap) => store.listen(channel, onPayload, onGap),
    close: () => store.close(),
  };
  return {
    sql,
    statements,
    count: (shape, from = 0) => statements.slice(from).filter((text) => (typeof shape === "string" ? text.startsWith(shape) : shape.test(text))).length,
  };
}
