import type { SqlExecutor } from "./sql.js";

/** Why a replica set runs (see engine/control/deployment-controller.ts). */
export type ReplicaSetRole = "own" | "serving" | "candidate" | "kept";

/** A replica set's desired count as the control lease's holder decided it. */
export interface ReplicaSetRow {
  id: string;
  deployment_id: string;
  environment: string | null;
  role: ReplicaSetRole;
  desired: number;
  updated_at: Date;
}

/** The lease a write is fenced by: it lands only while `holder` still holds `name` at `epoch`. */
export interface WriteFence {
  name: string;
  holder: string;
  epoch: number;
}

/**
 * Insert or update a set's row. With a fence, nothing is written unless the fence's lease is still
 * held at its epoch (an engine that lost the lease while paused cannot overwrite its successor).
 * Returns whether the row was written.
 */
export async function writeReplicaSet(
  sql: SqlExecutor,
  set: { id: string; deploymentId: string; environment: string | null; role: ReplicaSetRole; desired: number; at: Date },
  fence?: WriteFence,
): Promise<boolean> {
  const params = [set.id, set.deploymentId, set.environment, set.role, set.desired, set.at];
  const fenced = fence === undefined ? "" : " WHERE EXISTS (SELECT 1 FROM leases WHERE name = $7 AND holder = $8 AND epoch = $9)";
  const rows = await sql.query(
    `INSERT INTO replica_sets (id, deployment_id, environment, role, desired, updated_at)
     SELECT $1, $2, $3, $4, $5, $6${fenced}
     ON CONFLICT (id) DO UPDATE SET role = EXCLUDED.role, desired = EXCLUDED.desired, updated_at = EXCLUDED.updated_at
     RETURNING id`,
    fence === undefined ? params : [...params, fence.name, fence.holder, fence.epoch],
  );
  return rows.length > 0;
}

/** Remove a set's row (the set is gone); fenced like writeReplicaSet. */
export async function deleteReplicaSet(sql: SqlExecutor, id: string, fence?: WriteFence): Promise<void> {
  if (fence === undefined) {
    await sql.query("DELETE FROM replica_sets WHERE id = $1", [id]);
    return;
  }
  await sql.query(
    "DELETE FROM replica_sets WHERE id = $1 AND EXISTS (SELECT 1 FROM leases WHERE name = $2 AND holder = $3 AND epoch = $4)",
    [id, fence.name, fence.holder, fence.epoch],
  );
}
