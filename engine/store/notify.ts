import type { SqlExecutor } from "./sql.js";

/** NOTIFY `channel` with `payload` (PostgreSQL: delivered after the session's transaction commits; under 8,000 bytes). */
export async function notify(sql: SqlExecutor, channel: string, payload: string): Promise<void> {
  await sql.query("SELECT pg_notify($1, $2)", [channel, payload]);
}
