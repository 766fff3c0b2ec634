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
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
