import type { SecretKeyring } from "./secret-keyring.js";

/**
 * The SQL port: the only way engine code talks to the database. Two adapters implement it —
 * PGlite (embedded, one data directory) and PostgreSQL (a pool, several engines) — with one
 * dialect, so every query and migration runs unchanged on both.
 */

/** Parameter values the adapters pass through unchanged. Objects go to JSONB columns as JSON text. */
export type SqlParam = string | number | boolean | null | Date;

/** A statement whose answer is not read: what a transaction keeps of a write at commit until the COMMIT. */
export interface SqlWrite {
  text: string;
  params: readonly SqlParam[];
}

export interface SqlExecutor {
  /** The data keys secret values are encrypted with at rest (variables.ts); the same on every
   * executor of one store, transactions included. */
  readonly keyring: SecretKeyring;
  /** Run one statement with `$1…$n` parameters and return its rows. */
  query<Row = Record<string, unknown>>(text: string, params?: readonly SqlParam[]): Promise<Row[]>;
  /** Run a script of one or more statements without parameters (migrations). */
  exec(script: string): Promise<void>;
}

/** The executor a transaction's callback gets. */
export interface SqlTransaction extends SqlExecutor {
  /**
   * A write whose answer nothing reads (an audit entry, a row nothing in the transaction reads
   * again): sent with the COMMIT, after every statement the transaction ran, in the order asked —
   * so no statement of the transaction sees it. Its failure rolls the transaction back, and the
   * transaction throws it. Saves a round trip per write while the transaction holds the session
   * (PGlite's one) or a pooled connection.
   */
  writeAtCommit(text: string, params?: readonly SqlParam[]): void;
}

/** What takes writes at commit: a transaction, or a list being made for a decided transaction (writesCollector). */
export type AtCommit = Pick<SqlTransaction, "writeAtCommit">;

/** Writes at commit gathered into a list, for a decided transaction's `writes`. */
export function writesCollector(): AtCommit & { readonly writes: SqlWrite[] } {
  const writes: SqlWrite[] = [];
  return { writes, writeAtCommit: (text, params = []) => void writes.push({ text, params }) };
}

/**
 * A transaction known in full before it starts, which one statement decides: `before` (row locks,
 * in the one lock order), then `decide`; when `decide` returns rows, `writes` and COMMIT, when it
 * returns none, ROLLBACK. Asked as one request: on PGlite the database thread runs it from BEGIN
 * to its end at once, so it holds the one session for its statements only, not for the main
 * thread's turns between them (a transaction of three round trips held it 6–7 ms each while a
 * wave of 100 promotions ended and started: bench/scale).
 */
export interface DecidedTransaction {
  /** run first, their answers unread */
  before?: readonly SqlWrite[];
  /** its rows are the answer: none, and nothing is written */
  decide: SqlWrite;
  /** run after `decide` only if it returned rows, in order; a failure rolls everything back and is thrown */
  writes: readonly SqlWrite[];
}

/** Whether `sql` is a transaction's executor (some writes need one). */
export function isTransaction(sql: SqlExecutor): sql is SqlTransaction {
  return "writeAtCommit" in sql;
}

export interface Sql extends SqlExecutor {
  readonly kind: "pglite" | "postgres";
  /**
   * Run `fn` in one transaction (BEGIN … COMMIT, ROLLBACK when it throws). On PGlite transactions
   * are serialised by the driver (one session); on PostgreSQL they run concurrently on pooled
   * connections, so code must rely on constraints and row locks, not on being alone.
   */
  transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T>;
  /**
   * Run a decided transaction; returns `decide`'s rows (none: rolled back). `decided`, when given,
   * is called with them before this engine can see anything that read the outcome: on PostgreSQL
   * before the COMMIT, on PGlite before any later statement's answer is handled (the one session
   * runs them after it, and its answers arrive in order).
   */
  decidedTransaction<Row = Record<string, unknown>>(plan: DecidedTransaction, decided?: (rows: Row[]) => void): Promise<Row[]>;
  /**
   * Receive the payloads of `NOTIFY channel` (pg_notify) sent by any session — other engines on
   * the same PostgreSQL. Delivery is a hint, not a guarantee: after a lost connection the adapter
   * reconnects and calls `onGap`, so the listener re-reads everything it may have missed.
   * Returns the unsubscribe function.
   */
  listen(channel: string, onPayload: (payload: string) => void, onGap: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * A decided transaction as a transaction of separate statements, the same outcome in more round
 * trips: PostgreSQL's, where a transaction holds one pooled connection (the others go on) rather
 * than the store's one session.
 */
export async function decidedTransactionOf<Row>(
  sql: Pick<Sql, "transaction">,
  plan: DecidedTransaction,
  decided?: (rows: Row[]) => void,
): Promise<Row[]> {
  const undecided: Row[] = [];
  try {
    return await sql.transaction(async (tx) => {
      for (const statement of plan.before ?? []) await tx.query(statement.text, statement.params);
      const rows = await tx.query<Row>(plan.decide.text, plan.decide.params);
      // thrown to roll back (nothing to write), and answered as the rows it is
      if (rows.length === 0) throw undecided;
      decided?.(rows);
      for (const write of plan.writes) tx.writeAtCommit(write.text, write.params);
      return rows;
    });
  } catch (error) {
    if (error === undecided) return undecided;
    throw error;
  }
}

/** PostgreSQL SQLSTATE codes the service turns into API errors. */
export const SQLSTATE = {
  uniqueViolation: "23505",
  foreignKeyViolation: "23503",
  checkViolation: "23514",
  /** raised by our triggers (RAISE EXCEPTION … USING ERRCODE) */
  raiseException: "P0001",
} as const;

export interface DatabaseErrorFields {
  code: string;
  constraint?: string;
  message: string;
}

/** The SQLSTATE fields of a driver error (pg and PGlite both expose `code` and `constraint`). */
export function databaseErrorFields(error: unknown): DatabaseErrorFields | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { code, constraint, message } = error as { code?: unknown; constraint?: unknown; message?: unknown };
  if (typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code)) return undefined;
  return {
    code,
    message: typeof message === "string" ? message : "",
    ...(typeof constraint === "string" ? { constraint } : {}),
  };
}
