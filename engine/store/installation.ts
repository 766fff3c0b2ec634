import { createHash } from "node:crypto";
import type { SqlExecutor } from "./sql.js";

/**
 * The id of this engine installation, `mp-` + 10 hex digits: the same for every engine sharing one
 * database, different for another database. Derived from when the database's first migration ran
 * (recorded once, never changed), so no migration or setting is needed. The Kubernetes runtime
 * labels its objects with it and only ever lists, adopts and sweeps objects with its own label: two
 * installations in one namespace leave each other alone.
 */
export async function installationId(sql: SqlExecutor): Promise<string> {
  // as text in UTC: microseconds, the same string on PGlite and PostgreSQL whatever the session's time zone
  const [row] = await sql.query<{ applied_at: string }>(
    "SELECT to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') AS applied_at FROM schema_migrations WHERE version = 1",
  );
  if (row === undefined) throw new Error("the database has no schema_migrations row for version 1: not migrated");
  return `mp-${createHash("sha256").update(`modelplane-installation\0${row.applied_at}`).digest("hex").slice(0, 10)}`;
}
