import type { SqlExecutor } from "./sql.js";

/**
 * Each engine's router load per replica set (engine/autoscaler/cluster-load.ts): written by the
 * engines that do not lead, read by the leader's autoscaler. Timestamps are the database's
 * (`now()`), so ages do not depend on the engines' clocks agreeing.
 */
export interface EngineLoadRow {
  engine_id: string;
  replica_set_id: string;
  in_flight: number;
  requests: number;
  age_ms: number;
}

/** Upsert this engine's rows in one statement (a JSON array of {replica_set_id, in_flight, requests}). */
export async function writeEngineLoad(
  sql: SqlExecutor,
  engineId: string,
  rows: readonly { replicaSetId: string; inFlight: number; requests: number }[],
): Promise<void> {
  if (rows.length === 0) return;
  const json = JSON.stringify(rows.map((row) => ({ replica_set_id: row.replicaSetId, in_flight: row.inFlight, requests: row.requests })));
  await sql.query(
    `INSERT INTO engine_load (engine_id, replica_set_id, in_flight, requests, sampled_at)
     SELECT $1, r.replica_set_id, r.in_flight, r.requests, now()
     FROM jsonb_to_recordset($2::jsonb) AS r (replica_set_id text, in_flight double precision, requests bigint)
     ON CONFLICT (engine_id, replica_set_id)
     DO UPDATE SET in_flight = EXCLUDED.in_flight, requests = EXCLUDED.requests, sampled_at = EXCLUDED.sampled_at`,
    [engineId, json],
  );
}

/** Every other engine's rows, with their age by the database's clock. */
export async function readEngineLoad(sql: SqlExecutor, exceptEngineId: string): Promise<EngineLoadRow[]> {
  return sql.query<EngineLoadRow>(
    `SELECT engine_id, replica_set_id, in_flight, requests::double precision AS requests,
            (extract(epoch FROM now() - sampled_at) * 1000)::double precision AS age_ms
     FROM engine_load WHERE engine_id <> $1`,
    [exceptEngineId],
  );
}

/** Delete the rows older than `ttlMs` (engines that stopped reporting). */
export async function deleteExpiredEngineLoad(sql: SqlExecutor, ttlMs: number): Promise<void> {
  await sql.query("DELETE FROM engine_load WHERE sampled_at < now() - $1 * interval '1 millisecond'", [ttlMs]);
}

/** Remove an engine's rows (it stops: its load is gone with it). */
export async function deleteEngineLoadOf(sql: SqlExecutor, engineId: string): Promise<void> {
  await sql.query("DELETE FROM engine_load WHERE engine_id = $1", [engineId]);
}
