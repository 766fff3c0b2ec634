/**
 * The embedded database's thread. PGlite is PostgreSQL compiled to WebAssembly: every statement
 * runs synchronously on the thread that owns it. On the engine's main thread that blocked the API,
 * the router and the timers for as long as each statement ran (two thirds of the engine's CPU in
 * bench/scale); here it has a thread of its own, and the main thread waits for answers and decodes
 * their rows (pglite-sql.ts speaks this protocol, pglite-rows.ts decodes).
 *
 * Loaded as a worker entry point, also straight from its TypeScript source by Node's type
 * stripping when the engine runs from source (tests): erasable syntax only, no local imports
 * except types.
 */
import { PGlite, messages, protocol } from "@electric-sql/pglite";
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
// Statement parameters (SqlParam) and result values cross threads by structured clone (Dates stay Dates).
import type { DecidedTransaction, SqlParam, SqlWrite } from "./sql.js";

/**
 * A transaction's part in a message: its number (the main thread numbers them), and on its first
 * message `opens`: BEGIN runs first, once the session is free. No message of its own for BEGIN: the
 * main thread's turn between BEGIN's answer and the first statement was the session held for nothing.
 */
export interface InTransaction {
  transaction?: number;
  opens?: boolean;
}

export type ToWorker =
  | ({ kind: "query"; id: number; text: string; params: readonly SqlParam[] } & InTransaction)
  | ({ kind: "exec"; id: number; script: string } & InTransaction)
  /** run `writes` (on commit), then COMMIT (or ROLLBACK); answered once the transaction has ended */
  | { kind: "end"; id: number; transaction: number; opens?: boolean; commit: boolean; writes: readonly SqlWrite[] }
  /** a decided transaction (sql.ts), from BEGIN to its end: answered with `decide`'s answer */
  | { kind: "decided"; id: number; plan: DecidedTransaction }
  | { kind: "listen"; id: number; channel: string }
  | { kind: "close"; id: number };

export type FromWorker =
  | { kind: "ready"; arrayTypes: ArrayType[] }
  | { kind: "failed"; error: WorkerError }
  | { kind: "result"; id: number; value: unknown }
  /** a query's answer as the backend wrote it (RowDescription, DataRow, … messages): the main thread decodes the rows (pglite-rows.ts) */
  | { kind: "answer"; id: number; answer: Uint8Array }
  | { kind: "error"; id: number; error: WorkerError }
  | { kind: "notification"; channel: string; payload: string };

/** An array type of the database and its element type, for the main thread's parsers (as PGlite makes its own). */
export interface ArrayType {
  oid: number;
  typarray: number;
}

/** A database error's fields (SQLSTATE `code`, `constraint`, …), which structured clone would drop. */
export interface WorkerError {
  message: string;
  fields: Record<string, string>;
}

export interface PgliteWorkerData {
  /** the PGlite data directory, created already (pglite-first-open.ts) */
  pgdata: string;
  /** PostgreSQL settings after PGlite's defaults (`-c name=value` pairs) */
  settings: readonly string[];
}

function parent(): MessagePort {
  if (!parentPort) throw new Error("pglite-worker runs as a worker thread (pglite-sql.ts starts it)");
  return parentPort;
}
const port = parent();

function workerError(error: unknown): WorkerError {
  const fields: Record<string, string> = {};
  if (typeof error === "object" && error !== null) {
    for (const [key, value] of Object.entries(error)) if (typeof value === "string") fields[key] = value;
  }
  return { message: error instanceof Error ? error.message : String(error), fields };
}

/**
 * PGlite has one session. `db.query` would hold it for each statement and `db.transaction` for a
 * whole transaction; the statements here bypass those (see runStatement), so this lock does it:
 * a statement outside a transaction waits for it, a transaction holds it from BEGIN to its end.
 */
class SessionLock {
  #held = false;
  readonly #waiting: (() => void)[] = [];

  async acquire(): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#held = false;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await work();
    } finally {
      this.release();
    }
  }
}

const session = new SessionLock();
/**
 * Open transactions by number, each settled once its BEGIN holds the session (rejected if BEGIN
 * failed: nothing is held then). At most one holds it; numbers outlive them in late messages.
 */
const transactions = new Map<number, Promise<void>>();

/**
 * Prepared statements by SQL text. The engine runs a few hundred distinct statements many
 * thousand times each: parsed and planned once (PostgreSQL re-plans them itself after a schema
 * change), then each run is Bind/Execute only.
 */
const prepared = new Map<string, string>();
let preparedCount = 0;
/** Statements built from parts (an UPDATE of the columns given) could add up: the oldest go past this many. */
const PREPARED_MAX = 1_000;

function concatenated(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((length, part) => length + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Parameters in text format, typed by the server from the statement (as `db.query` has it do). */
function textParam(value: SqlParam): string | null {
  if (value === null) return null;
  return value instanceof Date ? value.toISOString() : String(value);
}

/**
 * One statement as one message to PGlite: [Parse,] Bind, Describe, Execute, Sync. `db.query` sends
 * each of Parse, Describe, Bind, Describe, Execute and Sync to the WebAssembly backend separately
 * and re-parses the statement every time; this is one call into it, 2–3× fewer microseconds per
 * primary-key read here (the embedded store's statements are the engine's limit under load:
 * bench/scale). The answer is the backend's bytes as they are: PGlite's own protocol parser, which
 * `execProtocol` runs over every message, took ~70 % of this thread's time per statement (a
 * primary-key read 110–220 µs with it, 40–65 µs without; 1,000 rows 12–30 ms against 3–5 ms), and
 * this thread is the one every statement queues for. The rows are decoded on the main thread
 * (pglite-rows.ts), which also saves copying them across as objects. A failed statement's
 * ErrorResponse is PGlite's DatabaseError (SQLSTATE code, constraint, …), thrown here.
 */
async function runStatement(db: PGlite, text: string, params: readonly SqlParam[], inTransaction: boolean): Promise<Uint8Array> {
  try {
    return await runPrepared(db, text, params);
  } catch (error) {
    // A prepared `SELECT *` whose table gained a column since: PostgreSQL refuses to re-plan it
    // ("cached plan must not change result type"). Parsed again it answers; outside a transaction
    // at once, inside one the next time (the failure aborted the transaction).
    if (!(typeof error === "object" && error !== null && "code" in error && error.code === "0A000" && prepared.has(text))) throw error;
    prepared.delete(text);
    if (inTransaction) throw error;
    return runPrepared(db, text, params);
  }
}

async function runPrepared(db: PGlite, text: string, params: readonly SqlParam[]): Promise<Uint8Array> {
  const { serialize } = protocol;
  const known = prepared.get(text);
  const name = known ?? `s${++preparedCount}`;
  const evicted: string[] = [];
  if (known === undefined) {
    for (const [oldest, oldName] of prepared) {
      if (prepared.size < PREPARED_MAX) break;
      prepared.delete(oldest);
      evicted.push(oldName);
    }
  }
  const message = concatenated([
    ...evicted.map((oldName) => serialize.close({ type: "S", name: oldName })),
    ...(known === undefined ? [serialize.parse({ name, text })] : []),
    serialize.bind({ statement: name, values: params.map(textParam) }),
    serialize.describe({ type: "P" }),
    serialize.execute({}),
    serialize.sync(),
  ]);
  // NodeFS writes through: there is nothing to sync to the file system after a statement.
  // Each chunk is a view of the backend's memory, reused after the call: copied.
  const chunks: Uint8Array[] = [];
  await db.execProtocolRawStream(message, { syncToFs: false, onRawData: (chunk) => void chunks.push(chunk.slice()) });
  const answer = chunks.length === 1 ? chunks[0]! : concatenated(chunks);
  checkAnswer(answer);
  // Only a Parse that succeeded is remembered: after a failed batch a new name is parsed next time
  // (one prepared before a later step failed is left unused). Each use moves it away from eviction.
  prepared.delete(text);
  prepared.set(text, name);
  return answer;
}

const ERROR_RESPONSE = 0x45; // 'E'
const DATA_ROW = 0x44; // 'D'
const NOTIFICATION_RESPONSE = 0x41; // 'A'

/**
 * Walk the answer's messages (a type byte and a length each): throw its ErrorResponse as PGlite's
 * DatabaseError, and pass on notifications to channels listened to (a NOTIFY in this session),
 * both parsed by PGlite's parser, which only these rare answers go through.
 */
function checkAnswer(answer: Uint8Array): void {
  if (!hasMessage(answer, ERROR_RESPONSE, NOTIFICATION_RESPONSE)) return;
  let failure: Error | undefined;
  new protocol.Parser().parse(answer, (message) => {
    if (message instanceof messages.DatabaseError) failure ??= message;
    else if (message instanceof messages.NotificationResponseMessage && listening.has(message.channel)) {
      port.postMessage({ kind: "notification", channel: message.channel, payload: message.payload } satisfies FromWorker);
    }
  });
  if (failure) throw failure;
}

/** Whether an answer holds a message of one of `types` (its messages: a type byte and a length each). */
function hasMessage(answer: Uint8Array, ...types: number[]): boolean {
  const view = new DataView(answer.buffer, answer.byteOffset, answer.byteLength);
  for (let offset = 0; offset + 5 <= answer.length; offset += 1 + view.getInt32(offset + 1)) if (types.includes(answer[offset]!)) return true;
  return false;
}

function begun(transaction: number): Promise<void> {
  const open = transactions.get(transaction);
  if (!open) throw new Error(`transaction ${transaction} is not open`);
  return open;
}

/** A message's transaction, begun first when the message opens it. */
function beginIfOpening(db: PGlite, message: InTransaction): void {
  if (message.opens && message.transaction !== undefined) transactions.set(message.transaction, begin(db));
}

/** A statement: in its transaction (which holds the session), or alone once the session is free. */
async function statement<T>(transaction: number | undefined, work: () => Promise<T>): Promise<T> {
  if (transaction === undefined) return session.run(work);
  await begun(transaction);
  return work();
}

/** A statement without parameters by the simple protocol; returns its command tag ("COMMIT", "ROLLBACK", …). */
async function command(db: PGlite, text: string): Promise<string | undefined> {
  const { messages } = await db.execProtocol(protocol.serialize.query(text), { syncToFs: false });
  const completed = messages.find((message): message is typeof message & { text: string } => message.name === "commandComplete" && "text" in message);
  return completed?.text;
}

/** BEGIN once the session is free; the session is held from then until the transaction's end. */
async function begin(db: PGlite): Promise<void> {
  await session.acquire();
  try {
    await command(db, "BEGIN");
  } catch (error) {
    session.release();
    throw error;
  }
}

async function end(db: PGlite, transaction: number, commit: boolean, writes: readonly SqlWrite[]): Promise<void> {
  const open = begun(transaction);
  transactions.delete(transaction);
  // a BEGIN that failed holds nothing: its error is the answer
  await open;
  try {
    if (commit) for (const write of writes) await runStatement(db, write.text, write.params, true);
    const tag = await command(db, commit ? "COMMIT" : "ROLLBACK");
    // COMMIT of a transaction that a failed statement aborted rolls it back: not a commit
    if (commit && tag === "ROLLBACK") throw new Error("the transaction was rolled back: a statement in it failed");
  } finally {
    // whatever happened, the session must not stay inside this transaction
    if (db.isInTransaction()) await command(db, "ROLLBACK").catch(() => undefined);
    session.release();
  }
}

/** A decided transaction, all at once while it holds the session: no main-thread turn inside it. */
async function decidedTransaction(db: PGlite, plan: DecidedTransaction): Promise<Uint8Array> {
  return session.run(async () => {
    await command(db, "BEGIN");
    try {
      for (const statement of plan.before ?? []) await runStatement(db, statement.text, statement.params, true);
      const answer = await runStatement(db, plan.decide.text, plan.decide.params, true);
      if (!hasMessage(answer, DATA_ROW)) {
        await command(db, "ROLLBACK");
        return answer;
      }
      for (const write of plan.writes) await runStatement(db, write.text, write.params, true);
      // COMMIT of a transaction that a failed statement aborted rolls it back: not a commit
      if ((await command(db, "COMMIT")) === "ROLLBACK") throw new Error("the transaction was rolled back: a statement in it failed");
      return answer;
    } finally {
      // whatever happened, the session must not stay inside this transaction
      if (db.isInTransaction()) await command(db, "ROLLBACK").catch(() => undefined);
    }
  });
}

/**
 * PGlite runs no autovacuum, so nothing ever runs ANALYZE, and PostgreSQL keeps a prepared
 * statement's generic plan (chosen after its 5th run) until the table's statistics change. A plan
 * made while a table was nearly empty scans the whole table: a primary-key read took 5.3 ms at
 * 10,000 deployments instead of 0.33 ms. Planning every run instead (plan_cache_mode=
 * force_custom_plan) costs ~30 % of each short statement. So each table is analysed when its row
 * count has doubled since it last was (pg_class.reltuples; -1 before the first ANALYZE): a few times
 * in a table's life, and every cached plan on it is made again from the new statistics. Checked
 * every ANALYZE_CHECK_MS while statements run (PostgreSQL's row counts reach pg_stat_user_tables up
 * to a second after a write, so a check after the last write may not see it yet), one table per
 * hold of the session.
 */
const ANALYZE_CHECK_MS = 2_000;
/**
 * The statistics target of those ANALYZEs (PostgreSQL's default 100 samples 30,000 rows): the plans
 * they are for need a table's size and its columns' rough spread, and ANALYZE holds PGlite's one
 * session — every statement waits for it. Measured here on an 80,000-row audit_logs: 126 ms at
 * 100, 12 ms at 10; at full size in bench/scale a read's p99 rose to ~250 ms in a run where one fell
 * in the loaded minute.
 */
const ANALYZE_STATISTICS_TARGET = 10;
const GROWN_TABLES = `SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
  WHERE s.n_live_tup > 2 * greatest(c.reltuples, 0) + 100`;
let statementsSinceCheck = false;

async function analyzeGrownTables(db: PGlite): Promise<void> {
  if (!statementsSinceCheck) return;
  statementsSinceCheck = false;
  const { rows: grown } = await session.run(() => db.query<{ relname: string }>(GROWN_TABLES));
  for (const { relname } of grown) {
    const table = `"${relname.replaceAll('"', '""')}"`;
    await session.run(() => command(db, `SET default_statistics_target = ${ANALYZE_STATISTICS_TARGET}; ANALYZE ${table}; RESET default_statistics_target`));
  }
}

function answer(id: number, work: () => Promise<unknown>): Promise<void> {
  return work().then(
    (value) => port.postMessage({ kind: "result", id, value } satisfies FromWorker),
    (error: unknown) => port.postMessage({ kind: "error", id, error: workerError(error) } satisfies FromWorker),
  );
}

/** A query's answer goes across as bytes, moved (not copied) to the main thread. */
function answerQuery(id: number, work: () => Promise<Uint8Array>): Promise<void> {
  return work().then(
    (answer) => port.postMessage({ kind: "answer", id, answer } satisfies FromWorker, [answer.buffer as ArrayBuffer]),
    (error: unknown) => port.postMessage({ kind: "error", id, error: workerError(error) } satisfies FromWorker),
  );
}

/** Channels LISTENed to: their notifications in a statement's answer go to the main thread (checkAnswer). */
const listening = new Set<string>();

function handle(db: PGlite, message: ToWorker): void {
  switch (message.kind) {
    case "query":
      statementsSinceCheck = true;
      beginIfOpening(db, message);
      void answerQuery(message.id, () => statement(message.transaction, () => runStatement(db, message.text, message.params, message.transaction !== undefined)));
      return;
    case "exec":
      statementsSinceCheck = true;
      beginIfOpening(db, message);
      void answer(message.id, () =>
        statement(message.transaction, async () => {
          await db.exec(message.script);
        }),
      );
      return;
    case "end":
      beginIfOpening(db, message);
      void answer(message.id, () => end(db, message.transaction, message.commit, message.writes));
      return;
    case "decided":
      statementsSinceCheck = true;
      void answerQuery(message.id, () => decidedTransaction(db, message.plan));
      return;
    case "listen":
      void answer(message.id, () =>
        session.run(async () => {
          await db.listen(message.channel, (payload) => port.postMessage({ kind: "notification", channel: message.channel, payload } satisfies FromWorker));
          listening.add(message.channel);
        }),
      );
      return;
    case "close":
      void answer(message.id, () => db.close()).then(() => port.close());
      return;
  }
}

const { pgdata, settings } = workerData as PgliteWorkerData;
try {
  const db = await PGlite.create(pgdata, { startParams: [...PGlite.defaultStartParams, ...settings] });
  port.on("message", (message: ToWorker) => handle(db, message));
  // a failed check is retried at the next tick: the statistics only make plans better
  setInterval(() => void analyzeGrownTables(db).catch(() => (statementsSinceCheck = true)), ANALYZE_CHECK_MS).unref();
  // the array types the database has, as PGlite reads them for its own parsers
  const { rows: arrayTypes } = await db.query<ArrayType>(
    `SELECT b.oid, b.typarray FROM pg_catalog.pg_type a JOIN pg_catalog.pg_type b ON b.oid = a.typelem
      WHERE a.typcategory = 'A' GROUP BY b.oid, b.typarray ORDER BY b.oid`,
  );
  port.postMessage({ kind: "ready", arrayTypes } satisfies FromWorker);
} catch (error) {
  port.postMessage({ kind: "failed", error: workerError(error) } satisfies FromWorker);
}
