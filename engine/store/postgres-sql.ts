import pg from "pg";
import type { SecretKeyring } from "./secret-keyring.js";
import { createHash } from "node:crypto";
import { databaseErrorFields, decidedTransactionOf, type Sql, type SqlExecutor, type SqlParam, type SqlTransaction, type SqlWrite } from "./sql.js";
import { StatementLine } from "./statement-line.js";

/** How long an unused pooled connection stays open (pg's default: 10 s). */
const IDLE_CONNECTION_MS = 10 * 60_000;

/**
 * PostgreSQL adapter for several engines sharing one database. A transaction holds one pooled
 * client from BEGIN to COMMIT; a failed COMMIT or a thrown callback rolls back.
 */
export async function openPostgresSql(databaseUrl: string, keyring: SecretKeyring, options: { maxConnections?: number } = {}): Promise<Sql> {
  const connections = options.maxConnections ?? 10;
  // Connections stay open through quiet spells: pg closes one idle for 10 s by default, and the
  // first requests after a quiet spell each paid a new connection (a server process forked, every
  // prepared statement prepared again) — bench/scale's API window after its idle one.
  //
  // Pipelined: a statement asked while the connection's earlier one is unanswered is sent at once,
  // not when that one's answer has come back through the event loop — a transaction's BEGIN and its
  // first statement, its writes at commit and its COMMIT go together (pg answers them in order).
  const pool = new pg.Pool({ connectionString: databaseUrl, max: connections, idleTimeoutMillis: IDLE_CONNECTION_MS, pipeline: true });
  // The pool's connections handed out in turn by kind of work (statement-line.ts), not first come,
  // first served: a burst of the control loop's statements (100 promotions stepping together) held
  // every connection, and each API request waited behind the whole burst.
  const line = new StatementLine(connections);
  // an idle client losing its connection must not crash the engine; the pool replaces it
  pool.on("error", () => {});
  // fail fast on a wrong URL instead of on the first request
  const probe = await pool.connect();
  probe.release();

  const statements = new PreparedNames();
  /** One statement on `target`, prepared once per connection. */
  async function statementOn<Row>(target: pg.Pool | pg.PoolClient, text: string, values: unknown[]): Promise<Row[]> {
    try {
      return (await target.query<Row & pg.QueryResultRow>({ name: statements.nameOf(text), text, values })).rows;
    } catch (error) {
      // A prepared `SELECT *` whose table gained a column since (another engine migrated):
      // PostgreSQL refuses to re-plan it. Prepared again under a new name it answers; outside a
      // transaction at once, inside one the next time (the failure aborted the transaction).
      if (databaseErrorFields(error)?.code !== "0A000") throw error;
      statements.renew(text);
      if (target !== pool) throw error;
      return (await target.query<Row & pg.QueryResultRow>({ name: statements.nameOf(text), text, values })).rows;
    }
  }
  // A transaction's statements run on the connection it holds (a place of the line already).
  const executorOf = (target: pg.Pool | pg.PoolClient): SqlExecutor => ({
    keyring,
    query<Row>(text: string, params: readonly SqlParam[] = []): Promise<Row[]> {
      const values = params as unknown[];
      return target === pool ? line.run(() => statementOn<Row>(target, text, values)) : statementOn<Row>(target, text, values);
    },
    async exec(script: string): Promise<void> {
      // no parameters: the simple query protocol, which accepts several statements
      await (target === pool ? line.run(() => target.query(script)) : target.query(script));
    },
  });
  const root = executorOf(pool);
  let closed = false;
  const listeners = new Set<{ stop(): Promise<void> }>();
  const sql: Sql = {
    kind: "postgres",
    keyring,
    query: root.query,
    exec: root.exec,
    async transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
      const release = await line.take();
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        release();
        throw error;
      }
      let broken = false;
      const writes: SqlWrite[] = [];
      try {
        // BEGIN is not awaited on its own: the first statement goes right behind it (pipelined). A
        // BEGIN that fails means a lost connection, which fails the statements after it too.
        const begun = client.query("BEGIN");
        begun.catch(() => undefined); // awaited below, or the transaction has failed anyway
        const tx: SqlTransaction = {
          ...executorOf(client),
          writeAtCommit(text: string, params: readonly SqlParam[] = []): void {
            writes.push({ text, params });
          },
        };
        const result = await fn(tx);
        await begun;
        // the writes and the COMMIT sent together; a failed write aborts the transaction, and COMMIT answers ROLLBACK
        const written = writes.map((write) => statementOn(client, write.text, write.params as unknown[]));
        const committed = client.query("COMMIT");
        const outcomes = await Promise.allSettled([...written, committed]);
        const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === "rejected");
        if (failure) throw failure.reason;
        if ((await committed).command !== "COMMIT") throw new Error("the transaction was rolled back: a statement in it failed");
        return result;
      } catch (error) {
        try {
          await client.query("ROLLBACK");
        } catch {
          broken = true; // connection lost: do not return it to the pool
        }
        throw error;
      } finally {
        client.release(broken);
        release();
      }
    },
    // Its statements on the connection the transaction holds: a pooled connection is not PGlite's one
    // session, and the other connections go on meanwhile.
    decidedTransaction: (plan, decided) => decidedTransactionOf(sql, plan, decided),
    async listen(channel, onPayload, onGap) {
      const listener = await listenOn(databaseUrl, channel, onPayload, onGap);
      listeners.add(listener);
      return async () => {
        listeners.delete(listener);
        await listener.stop();
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...listeners].map((listener) => listener.stop()));
      await pool.end();
    },
  };
  return sql;
}

/**
 * Each statement's name as a server-side prepared statement: parsed and planned once per pooled
 * connection, then only bound and executed (node-postgres prepares a named query on a connection the
 * first time it runs there). Unnamed, PostgreSQL parsed and planned every statement every time —
 * ~2 ms for the deployment controller's one-statement slice read (store/control-snapshot.ts). The
 * engine runs a few hundred distinct statements (some built from parts), so each connection keeps
 * a few hundred: kilobytes each.
 */
class PreparedNames {
  readonly #names = new Map<string, string>();
  #renewals = 0;

  nameOf(text: string): string {
    let name = this.#names.get(text);
    if (name === undefined) {
      name = baseName(text);
      this.#names.set(text, name);
    }
    return name;
  }

  /** A new name for the statement: every connection prepares it again at its next use. */
  renew(text: string): void {
    this.#names.set(text, `${baseName(text)}_${++this.#renewals}`);
  }
}

function baseName(text: string): string {
  return `mp_${createHash("sha256").update(text).digest("hex").slice(0, 24)}`;
}

/**
 * LISTEN on a dedicated connection (a pooled one would be handed to other queries). When it drops,
 * it reconnects (0.5 s, then doubling to 10 s) and reports the gap: notifications sent meanwhile
 * are lost, so the caller re-reads.
 */
async function listenOn(databaseUrl: string, channel: string, onPayload: (payload: string) => void, onGap: () => void): Promise<{ stop(): Promise<void> }> {
  let stopped = false;
  let client: pg.Client | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryMs = 500;
  const quoted = `"${channel.replaceAll('"', '""')}"`;
  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: databaseUrl });
    next.on("notification", (message) => {
      if (message.channel === channel && message.payload !== undefined) onPayload(message.payload);
    });
    next.on("error", () => reconnect(next));
    next.on("end", () => reconnect(next));
    await next.connect();
    await next.query(`LISTEN ${quoted}`);
    client = next;
    retryMs = 500;
  };
  const reconnect = (broken: pg.Client): void => {
    if (stopped || client !== broken) return;
    client = undefined;
    broken.end().catch(() => undefined);
    const attempt = (): void => {
      retryTimer = setTimeout(() => {
        if (stopped) return;
        connect().then(onGap, () => {
          retryMs = Math.min(retryMs * 2, 10_000);
          attempt();
        });
      }, retryMs);
      retryTimer.unref();
    };
    attempt();
  };
  await connect();
  return {
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
    },
  };
}
