import { join } from "node:path";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { acquireDataDirLock } from "./data-dir-lock.js";
import { restrictToOwner } from "./owner-only.js";
import type { SecretKeyring } from "./secret-keyring.js";
import type { Sql, SqlExecutor, SqlParam } from "./sql.js";

/**
 * PGlite adapter. The database lives in `<dataDir>/pgdata`; `<dataDir>/engine.lock` keeps a second
 * engine out. PGlite serialises every query and transaction on its single session, so a
 * transaction is never interleaved with another statement. It does not fsync: state survives a
 * crashed or killed engine, not a power loss.
 */
export async function openPgliteSql(dataDir: string, keyring: SecretKeyring): Promise<Sql> {
  const lock = acquireDataDirLock(dataDir);
  let db: PGlite;
  try {
    db = await PGlite.create(join(dataDir, "pgdata"));
    // PGlite creates its files with the process umask (0755 directories, 0644 files seen): the
    // database holds the secrets' ciphertexts and every object, for the engine's user only
    restrictToOwner(dataDir);
  } catch (error) {
    lock.release();
    throw error;
  }
  const executorOf = (target: PGlite | Transaction): SqlExecutor => ({
    keyring,
    async query<Row>(text: string, params: readonly SqlParam[] = []): Promise<Row[]> {
      const result = await target.query<Row>(text, params as unknown[]);
      return result.rows;
    },
    async exec(script: string): Promise<void> {
      await target.exec(script);
    },
  });
  const root = executorOf(db);
  let closed = false;
  return {
    kind: "pglite",
    keyring,
    query: root.query,
    exec: root.exec,
    transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      return db.transaction((tx) => fn(executorOf(tx)));
    },
    async listen(channel, onPayload) {
      // One engine per data directory: only its own notifications arrive, and none are lost.
      const unlisten = await db.listen(channel, onPayload);
      return async () => {
        if (!closed) await unlisten();
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await db.close();
        // files PGlite created while open (new WAL segments, relations) get the umask's mode
        restrictToOwner(dataDir);
      } finally {
        lock.release();
      }
    },
  };
}
