/**
 * Counts the engine's store queries by wrapping its Sql port. The engine opens its store itself
 * (engine/engine.ts) and every component holds that one object, so its methods are replaced in
 * place, once, right after the engine started: from then on each statement, inside transactions
 * too, is counted under its shape (whitespace collapsed, first 90 characters), and what it
 * returned is shown to `onRows` (the bench reads promotion writes from there, see promotion-watch.ts).
 * Queries of the engine's start (migrations, the first sync) are not counted.
 */
import { performance } from "node:perf_hooks";
import type { DecidedTransaction, Sql, SqlExecutor, SqlParam, SqlTransaction } from "../../engine/store/sql.js";
import { currentWork, type StatementWork } from "../../engine/store/statement-priority.js";

export interface QueryCounts {
  /** statements run (query and exec), transactions' included */
  queries: number;
  transactions: number;
  /** statement shape → count */
  byShape: Map<string, number>;
  /** every statement: when it was asked (epoch ms), how long until its answer (line, thread and run), its shape and kind of work */
  timeline: TimedStatement[];
}

export interface TimedStatement {
  at: number;
  ms: number;
  shape: string;
  work: StatementWork | "transaction";
}

export interface CountingSql {
  counts(): QueryCounts;
  reset(): void;
}

/** The shape a statement is counted under: its text with whitespace collapsed, cut at 90 characters. */
export function statementShape(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 90 ? `${flat.slice(0, 90)}…` : flat;
}

/** `timed`: keep every statement's timing too (memory and time in the engine under test: only when asked). */
export function instrumentSql(sql: Sql, onRows: (text: string, rows: readonly unknown[]) => void = () => undefined, timed = false): CountingSql {
  let queries = 0;
  let transactions = 0;
  let byShape = new Map<string, number>();
  let timeline: TimedStatement[] = [];
  // The engine's statements are a few hundred texts: each one's shape computed once (a regular
  // expression over every statement was ~3 MiB/s of garbage in the engine under test).
  const shapes = new Map<string, string>();
  const count = (text: string) => {
    queries++;
    let shape = shapes.get(text);
    if (shape === undefined) {
      shape = statementShape(text);
      if (shapes.size < 10_000) shapes.set(text, shape);
    }
    byShape.set(shape, (byShape.get(shape) ?? 0) + 1);
  };
  const counted = (executor: SqlExecutor, inTransaction: boolean) => ({
    query: async <Row>(text: string, params?: readonly SqlParam[]): Promise<Row[]> => {
      count(text);
      const asked = performance.now();
      const rows = await executor.query<Row>(text, params);
      if (timed) timeline.push({ at: performance.timeOrigin + asked, ms: performance.now() - asked, shape: shapes.get(text) ?? "", work: inTransaction ? "transaction" : currentWork() });
      onRows(text, rows);
      return rows;
    },
    exec: async (script: string): Promise<void> => {
      count(script);
      await executor.exec(script);
    },
  });
  // The adapters' methods are closures over their driver (no `this`), so the originals can be kept as values.
  const original: SqlExecutor & Pick<Sql, "transaction" | "decidedTransaction"> = {
    keyring: sql.keyring,
    query: sql.query,
    exec: sql.exec,
    transaction: sql.transaction,
    decidedTransaction: sql.decidedTransaction,
  };
  const root = counted(original, false);
  sql.query = root.query;
  sql.exec = root.exec;
  sql.transaction = <T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> => {
    transactions++;
    const asked = performance.now();
    const work = currentWork();
    return original
      .transaction((tx) => fn({ keyring: tx.keyring, ...counted(tx, true), writeAtCommit: (text, params) => (count(text), tx.writeAtCommit(text, params)) }))
      .finally(() => timed && timeline.push({ at: performance.timeOrigin + asked, ms: performance.now() - asked, shape: "(transaction)", work }));
  };
  // one request: its statements counted (the writes only when `decide` let them run), timed as a transaction
  sql.decidedTransaction = async <Row>(plan: DecidedTransaction, decided?: (rows: Row[]) => void): Promise<Row[]> => {
    transactions++;
    for (const statement of [...(plan.before ?? []), plan.decide]) count(statement.text);
    const asked = performance.now();
    const work = currentWork();
    const rows = await original.decidedTransaction(plan, decided).finally(
      () => timed && timeline.push({ at: performance.timeOrigin + asked, ms: performance.now() - asked, shape: "(transaction)", work }),
    );
    if (rows.length > 0) for (const write of plan.writes) count(write.text);
    onRows(plan.decide.text, rows);
    return rows;
  };
  return {
    counts: () => ({ queries, transactions, byShape: new Map(byShape), timeline }),
    reset() {
      timeline = [];
      queries = 0;
      transactions = 0;
      byShape = new Map();
    },
  };
}
