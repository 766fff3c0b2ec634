import pg from "pg";
import type { SecretKeyring } from "./secret-keyring.js";
import type { Sql, SqlExecutor, SqlParam } from "./sql.js";

/**
 * PostgreSQL adapter for several engines sharing one database. A transaction holds one pooled
 * client from BEGIN to COMMIT; a failed COMMIT or a thrown callback rolls back.
 */
export async function openPostgresSql(databaseUrl: string, keyring: SecretKeyring, options: { maxConnections?: number } = {}): Promise<Sql> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: options.maxConnections ?? 10 });
  // an idle client losing its connection must not crash the engine; the pool replaces it
  pool.on("error", () => {});
  // fail fast on a wrong URL instead of on the first request
  const probe = await pool.connect();
  probe.release();

  const executorOf = (target: pg.Pool | pg.PoolClient): SqlExecutor => ({
    keyring,
    async query<Row>(text: string, params: readonly SqlParam[] = []): Promise<Row[]> {
      const result = await target.query(text, params as unknown[]);
      return result.rows as Row[];
    },
    async exec(script: string): Promise<void> {
      // no parameters: the simple query protocol, which accepts several statements
      await target.query(script);
    },
  });
  const root = executorOf(pool);
  let closed = false;
  const listeners = new Set<{ stop(): Promise<void> }>();
  return {
    kind: "postgres",
    keyring,
    query: root.query,
    exec: root.exec,
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query("BEGIN");
        const result = await fn(executorOf(client));
        await client.query("COMMIT");
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
      }
    },
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
