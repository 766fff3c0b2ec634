import { migrate } from "./migrations.js";
import { openPgliteSql } from "./pglite-sql.js";
import { openPostgresSql } from "./postgres-sql.js";
import type { Sql } from "./sql.js";

export interface StoreOptions {
  /** engine data directory: the PGlite database lives in `<dataDir>/pgdata` */
  dataDir: string;
  /** PostgreSQL URL; when set, PGlite is not used */
  databaseUrl?: string;
}

/** Open the configured database and bring its schema up to date. */
export async function openStore(options: StoreOptions): Promise<Sql> {
  const sql = options.databaseUrl ? await openPostgresSql(options.databaseUrl) : await openPgliteSql(options.dataDir);
  try {
    await migrate(sql);
  } catch (error) {
    await sql.close();
    throw error;
  }
  return sql;
}
