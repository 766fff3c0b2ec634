import { arrayLiteral } from "./array-literal.js";
import type { SqlExecutor } from "./sql.js";

/** Why a replica set runs (see engine/control/deployment-controller.ts). */
export type ReplicaSetRole = "own" | "serving" | "candidate" | "kept";

/** A replica set's desired count as the control lease's holder decided it (as the controller reads
 * it: the row's updated_at is for people; 16,000 of them parsed were a tenth of a resync's CPU). */
export interface ReplicaSetRow {
  id: string;
  deployment_id: string;
  environment: string | null;
  role: ReplicaSetRole;
  desired: number;
}

/** The lease a write is fenced by: it lands only while `holder` still holds `name` at `epoch`. */
export interface WriteFence {
  name: string;
  holder: string;
  epoch: number;
}

/** A set's row as the leader writes it. */
export interface ReplicaSetWrite {
  id: string;
  deploymentId: string;
  environment: string | null;
  role: ReplicaSetRole;
  desired: number;
  at: Date;
}

/** The fence's condition on the statement's own parameters from `$first` on (none without a fence). */
function fenceCondition(fence: WriteFence | undefined, first: number): { sql: string; params: Array<string | number> } {
  if (fence === undefined) return { sql: "", params: [] };
  return {
    sql: `EXISTS (SELECT 1 FROM leases WHERE name = $${first} AND holder = $${first + 1} AND epoch = $${first + 2})`,
    params: [fence.name, fence.holder, fence.epoch],
  };
}

/**
 * Insert or update many sets' rows in one statement (ids distinct: a row is written once per
 * statement). With a fence, nothing is written unless the fence's lease is still held at its epoch
 * (an engine that lost the lease while paused cannot overwrite its successor). Returns the ids of
 * the rows written: all of them, or none when fenced out.
 */
export async function writeReplicaSets(sql: SqlExecutor, sets: readonly ReplicaSetWrite[], fence?: WriteFence): Promise<string[]> {
  if (sets.length === 0) return [];
  const fenced = fenceCondition(fence, 7);
  const rows = await sql.query<{ id: string }>(
    `INSERT INTO replica_sets (id, deployment_id, environment, role, desired, updated_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::timestamptz[])
     ${fenced.sql === "" ? "" : `WHERE ${fenced.sql}`}
     ON CONFLICT (id) DO UPDATE SET role = EXCLUDED.role, desired = EXCLUDED.desired, updated_at = EXCLUDED.updated_at
     RETURNING id`,
    [
      arrayLiteral(sets.map((set) => set.id)),
      arrayLiteral(sets.map((set) => set.deploymentId)),
      arrayLiteral(sets.map((set) => set.environment)),
      arrayLiteral(sets.map((set) => set.role)),
      arrayLiteral(sets.map((set) => set.desired)),
      arrayLiteral(sets.map((set) => set.at)),
      ...fenced.params,
    ],
  );
  return rows.map((row) => row.id);
}

/** Remove many sets' rows (the sets are gone) in one statement; fenced like writeReplicaSets.
 * Returns the ids of the rows removed (none that was not stored, none when fenced out). */
export async function deleteReplicaSets(sql: SqlExecutor, ids: readonly string[], fence?: WriteFence): Promise<string[]> {
  if (ids.length === 0) return [];
  const fenced = fenceCondition(fence, 2);
  const rows = await sql.query<{ id: string }>(
    `DELETE FROM replica_sets WHERE id = ANY($1::text[])${fenced.sql === "" ? "" : ` AND ${fenced.sql}`} RETURNING id`,
    [arrayLiteral(ids), ...fenced.params],
  );
  return rows.map((row) => row.id);
}
