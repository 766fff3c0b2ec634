/**
 * The embedded database's thread. PGlite is PostgreSQL compiled to WebAssembly: every statement
 * runs synchronously on the thread that owns it, parsing its results too. On the engine's main
 * thread that blocked the API, the router and the timers for as long as each statement ran (two
 * thirds of the engine's CPU in bench/scale); here it has a thread of its own and the main thread
 * only waits for answers (pglite-sql.ts speaks this protocol).
 *
 * Loaded as a worker entry point, also straight from its TypeScript source by Node's type
 * stripping when the engine runs from source (tests): erasable syntax only, no local imports
 * except types.
 */
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { parentPort, workerData, type MessagePort } from "node:worker_threads";

/** Statement parameters and result values cross threads by structured clone (Dates stay Dates). */
type Param = string | number | boolean | null | Date;

export type ToWorker =
  | { kind: "query"; id: number; text: string; params: readonly Param[]; transaction?: number }
  | { kind: "exec"; id: number; script: string; transaction?: number }
  /** answered with the transaction's number once it holds PGlite's session */
  | { kind: "begin"; id: number }
  /** answered once the transaction has committed (or rolled back) */
  | { kind: "end"; id: number; transaction: number; commit: boolean }
  | { kind: "listen"; id: number; channel: string }
  | { kind: "close"; id: number };

export type FromWorker =
  | { kind: "ready" }
  | { kind: "failed"; error: WorkerError }
  | { kind: "result"; id: number; value: unknown }
  | { kind: "error"; id: number; error: WorkerError }
  | { kind: "notification"; channel: string; payload: string };

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

/** Thrown inside PGlite's transaction callback to roll it back. */
const ROLLBACK = Symbol("rollback");

interface OpenTransaction {
  tx: Transaction;
  finish(commit: boolean): void;
  ended: Promise<void>;
}

const transactions = new Map<number, OpenTransaction>();
let transactionCount = 0;

function target(db: PGlite, transaction: number | undefined): PGlite | Transaction {
  if (transaction === undefined) return db;
  const open = transactions.get(transaction);
  if (!open) throw new Error(`transaction ${transaction} is not open`);
  return open.tx;
}

function answer(id: number, work: () => Promise<unknown>): Promise<void> {
  return work().then(
    (value) => port.postMessage({ kind: "result", id, value } satisfies FromWorker),
    (error: unknown) => port.postMessage({ kind: "error", id, error: workerError(error) } satisfies FromWorker),
  );
}

/** Begin a transaction: resolves with its number once it holds the session; `end` decides it. */
function begin(db: PGlite): Promise<number> {
  const number = ++transactionCount;
  return new Promise<number>((started, failed) => {
    let finish: (commit: boolean) => void = () => undefined;
    const decided = new Promise<boolean>((resolve) => (finish = resolve));
    const ended = db
      .transaction(async (tx) => {
        transactions.set(number, { tx, finish, ended });
        started(number);
        if (!(await decided)) throw ROLLBACK;
      })
      .catch((error: unknown) => {
        if (error !== ROLLBACK) throw error;
      })
      .finally(() => transactions.delete(number));
    // a transaction that never started (its BEGIN failed) fails the begin
    ended.catch(failed);
  });
}

function handle(db: PGlite, message: ToWorker): void {
  switch (message.kind) {
    case "query":
      void answer(message.id, async () => (await target(db, message.transaction).query(message.text, [...message.params])).rows);
      return;
    case "exec":
      void answer(message.id, async () => {
        await target(db, message.transaction).exec(message.script);
      });
      return;
    case "begin":
      void answer(message.id, () => begin(db));
      return;
    case "end":
      void answer(message.id, async () => {
        const open = transactions.get(message.transaction);
        if (!open) throw new Error(`transaction ${message.transaction} is not open`);
        open.finish(message.commit);
        await open.ended;
      });
      return;
    case "listen":
      void answer(message.id, async () => {
        await db.listen(message.channel, (payload) => port.postMessage({ kind: "notification", channel: message.channel, payload } satisfies FromWorker));
      });
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
  port.postMessage({ kind: "ready" } satisfies FromWorker);
} catch (error) {
  port.postMessage({ kind: "failed", error: workerError(error) } satisfies FromWorker);
}
