import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { acquireDataDirLock } from "./data-dir-lock.js";
import { restrictToOwner } from "./owner-only.js";
import { initialisePgliteDataDir } from "./pglite-first-open.js";
import { decodeRows, typeParsers, type TypeParsers } from "./pglite-rows.js";
import type { FromWorker, PgliteWorkerData, ToWorker, WorkerError } from "./pglite-worker.js";
import type { SecretKeyring } from "./secret-keyring.js";
import { StatementLine } from "./statement-line.js";
import type { DecidedTransaction, Sql, SqlExecutor, SqlParam, SqlTransaction, SqlWrite } from "./sql.js";

/**
 * PostgreSQL settings PGlite starts with, after its defaults.
 * - shared_buffers: PGlite's 128 MB is most of its memory, and is touched at start; 32 MB holds a
 *   large installation's hot rows (1,000 models, 10,000 deployments: bench/scale) and saved ~120 MiB
 *   of RSS. Evicted pages are read back through the OS's page cache.
 * - wal_init_zero: each new 16-MB WAL file was written full of zeros first, by PGlite's one
 *   session, while every statement waited: the first write after a WAL switch took 88–342 ms here
 *   (2–3 ms with it off), and a burst of ~160 slow requests (the worst 171 ms) met each new file in
 *   bench/scale. Off, the file is created at its size without writing it.
 */
const PGLITE_SETTINGS: readonly string[] = ["-c", "shared_buffers=32MB", "-c", "wal_init_zero=off"];

/**
 * The database thread's young generation (V8's nursery, where its short-lived objects are first
 * allocated: each answer's bytes, PGlite's own per-statement objects), in MiB. Left to V8, it is
 * sized by the machine's memory and grew to up to 3 × 64 MiB for a thread whose live objects are
 * 20–80 MiB: the thread's heap held 150–186 MiB in bench/scale at 3/10 size, 32–35 MiB with 8.
 */
const DATABASE_THREAD_YOUNG_GENERATION_MB = 8;

/**
 * PGlite adapter. The database lives in `<dataDir>/pgdata`; `<dataDir>/engine.lock` keeps a second
 * engine out. PGlite runs on a thread of its own (pglite-worker.ts), so its statements never block
 * the engine's event loop. It serialises every query and transaction on its single session, so a
 * transaction is never interleaved with another statement. It does not fsync: state survives a
 * crashed or killed engine, not a power loss.
 */
export async function openPgliteSql(dataDir: string, keyring: SecretKeyring): Promise<Sql> {
  const lock = acquireDataDirLock(dataDir);
  let database: PgliteThread;
  try {
    const pgdata = join(dataDir, "pgdata");
    await initialisePgliteDataDir(pgdata, PGLITE_SETTINGS);
    database = await startPgliteThread(pgdata);
    // PGlite creates its files with the process umask (0755 directories, 0644 files seen): the
    // database holds the secrets' ciphertexts and every object, for the engine's user only
    restrictToOwner(dataDir);
  } catch (error) {
    lock.release();
    throw error;
  }
  const root: SqlExecutor = {
    keyring,
    async query<Row>(text: string, params: readonly SqlParam[] = []): Promise<Row[]> {
      return (await database.ask({ kind: "query", text, params })) as Row[];
    },
    async exec(script: string): Promise<void> {
      await database.ask({ kind: "exec", script });
    },
  };
  let transactions = 0;
  let closed = false;
  return {
    kind: "pglite",
    keyring,
    query: root.query,
    exec: root.exec,
    async transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
      const transaction = ++transactions;
      const writes: SqlWrite[] = [];
      // BEGIN goes with the transaction's first message (pglite-worker.ts), which waits its turn in
      // the line; the messages after it go once it has gone (statements asked together included).
      // A transaction that sends none has nothing to end.
      let opening: Promise<void> | undefined;
      const ask = async (request: Extract<Request, { kind: "query" | "exec" | "end" }>): Promise<unknown> => {
        if (opening === undefined) {
          let sent!: () => void;
          opening = new Promise((resolve) => (sent = resolve));
          return database.ask({ ...request, transaction, opens: true }, sent);
        }
        await opening;
        return database.ask({ ...request, transaction });
      };
      const tx: SqlTransaction = {
        keyring,
        async query<Row>(text: string, params: readonly SqlParam[] = []): Promise<Row[]> {
          return (await ask({ kind: "query", text, params })) as Row[];
        },
        async exec(script: string): Promise<void> {
          await ask({ kind: "exec", script });
        },
        writeAtCommit(text: string, params: readonly SqlParam[] = []): void {
          writes.push({ text, params });
        },
      };
      let result: T;
      try {
        result = await fn(tx);
      } catch (error) {
        // the callback's error is the one to see, not the rollback's (a BEGIN that failed fails it too)
        if (opening) await ask({ kind: "end", transaction, commit: false, writes: [] }).catch(() => undefined);
        throw error;
      }
      if (opening || writes.length > 0) await ask({ kind: "end", transaction, commit: true, writes });
      return result;
    },
    async decidedTransaction<Row>(plan: DecidedTransaction, decided?: (rows: Row[]) => void): Promise<Row[]> {
      // one message, which takes its turn in the line as a statement does
      const rows = (await database.ask({ kind: "decided", plan })) as Row[];
      if (rows.length > 0) decided?.(rows);
      return rows;
    },
    async listen(channel, onPayload) {
      // One engine per data directory: only its own notifications arrive, and none are lost.
      const unlisten = database.onNotification(channel, onPayload);
      await database.ask({ kind: "listen", channel });
      return async () => unlisten();
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await database.close();
        // files PGlite created while open (new WAL segments, relations) get the umask's mode
        restrictToOwner(dataDir);
      } finally {
        lock.release();
      }
    },
  };
}

/** Distributive Omit: a request without its id, per variant. */
type Request = ToWorker extends infer Message ? (Message extends ToWorker ? Omit<Message, "id"> : never) : never;

interface Waiting {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** Statements outside transactions sent to the thread at a time: enough to keep it busy. */
const IN_FLIGHT = 2;

interface PgliteThread {
  /** Send one request; resolves with its answer, rejects with the database's error. `sent`: called once it has gone to the thread (or never will). */
  ask(request: Request, sent?: () => void): Promise<unknown>;
  /** Returns the unsubscribe function. */
  onNotification(channel: string, onPayload: (payload: string) => void): () => void;
  close(): Promise<void>;
}

/** The error a database statement failed with, its SQLSTATE fields (`code`, `constraint`, …) restored. */
class PgliteError extends Error {
  constructor(error: WorkerError) {
    super(error.message);
    Object.assign(this, error.fields, { message: error.message });
    this.name = "PgliteError";
  }
}

async function startPgliteThread(pgdata: string): Promise<PgliteThread> {
  // the worker next to this module: .js when compiled, .ts when the engine runs from source
  const entry = new URL(`./pglite-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
  const worker = new Worker(entry, {
    workerData: { pgdata, settings: PGLITE_SETTINGS } satisfies PgliteWorkerData,
    resourceLimits: { maxYoungGenerationSizeMb: DATABASE_THREAD_YOUNG_GENERATION_MB },
  });
  const pending = new Map<number, Waiting>();
  const listeners = new Map<string, Set<(payload: string) => void>>();
  let requests = 0;
  let stopped: Error | undefined;
  let parsers: TypeParsers = {};
  const stop = (error: Error) => {
    stopped ??= error;
    for (const { reject } of pending.values()) reject(stopped);
    pending.clear();
  };
  const ready = new Promise<void>((resolve, reject) => {
    worker.on("message", (message: FromWorker) => {
      switch (message.kind) {
        case "ready":
          parsers = typeParsers(message.arrayTypes);
          resolve();
          return;
        case "failed":
          reject(new PgliteError(message.error));
          return;
        case "result":
        case "answer":
        case "error": {
          const waiting = pending.get(message.id);
          pending.delete(message.id);
          if (pending.size === 0) worker.unref();
          if (message.kind === "result") waiting?.resolve(message.value);
          else if (message.kind === "answer") waiting?.resolve(decodeRows(message.answer, parsers));
          else waiting?.reject(new PgliteError(message.error));
          return;
        }
        case "notification":
          for (const listener of listeners.get(message.channel) ?? []) listener(message.payload);
          return;
      }
    });
    worker.on("error", (error) => {
      reject(error);
      stop(new Error(`the embedded database's thread failed: ${error.message}`, { cause: error }));
    });
    worker.on("exit", (code) => {
      const error = new Error(`the embedded database's thread exited (code ${code})`);
      reject(error);
      stop(error);
    });
  });
  await ready;
  // the thread keeps the process alive only while a statement is awaited, as a socket would
  worker.unref();
  // Statements outside a transaction wait in a line (statement-line.ts), each kind of work taking
  // its turn, and at most IN_FLIGHT at a time wait in the thread (which runs one at a time, in the
  // order received): a statement waits for those few and for the earlier turns, not for every
  // statement queued.
  // Statements of an open transaction and its end go at once: the transaction holds PGlite's
  // session, so anything queued behind it would wait for them.
  const send = (request: Request, reply: Waiting): void => {
    const id = ++requests;
    if (pending.size === 0) worker.ref();
    pending.set(id, reply);
    worker.postMessage({ ...request, id } as ToWorker);
  };
  const line = new StatementLine(IN_FLIGHT);
  const ask = (request: Request, sent?: () => void): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (stopped) {
        sent?.();
        return reject(stopped);
      }
      // a transaction's first message waits for the session as a statement would: it takes its turn
      const inTransaction = "transaction" in request && request.transaction !== undefined && request.opens !== true;
      if (inTransaction) {
        send(request, { resolve, reject });
        return sent?.();
      }
      void line.take().then((release) => {
        if (stopped) {
          release();
          sent?.();
          return reject(stopped);
        }
        send(request, {
          resolve: (value) => {
            release();
            resolve(value);
          },
          reject: (error) => {
            release();
            reject(error);
          },
        });
        sent?.();
      });
    });
  return {
    ask,
    onNotification(channel, onPayload) {
      const set = listeners.get(channel) ?? new Set();
      listeners.set(channel, set);
      set.add(onPayload);
      return () => set.delete(onPayload);
    },
    async close() {
      await ask({ kind: "close" });
      await worker.terminate();
    },
  };
}
