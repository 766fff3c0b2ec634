import type { SqlExecutor } from "./sql.js";

/**
 * Leases for work ownership between engines sharing one PostgreSQL. A holder takes or renews a
 * lease while it is expired or already its own; each take by a new holder bumps `epoch`, which
 * the holder checks inside its writes (fencing) so a paused ex-holder cannot write after losing it.
 */
export interface LeaseRow {
  name: string;
  holder: string | null;
  epoch: number;
  expires_at: Date | null;
  updated_at: Date;
}

/**
 * Take or renew `name` for `holder` until now + ttl. Returns the epoch, or undefined if someone else
 * holds it. One statement (it was an INSERT of the row if missing, then the UPDATE: two for every
 * promotion's renewal, bench/scale): a new row starts at epoch 1, as the row inserted at 0 and then
 * taken did.
 */
export async function tryAcquireLease(
  sql: SqlExecutor,
  lease: { name: string; holder: string; ttlMs: number; now: Date },
): Promise<number | undefined> {
  const expiresAt = new Date(lease.now.getTime() + lease.ttlMs);
  const [row] = await sql.query<{ epoch: number }>(
    `INSERT INTO leases AS l (name, holder, epoch, expires_at, updated_at) VALUES ($1, $2, 1, $3, $4)
     ON CONFLICT (name) DO UPDATE
     SET epoch = CASE WHEN l.holder = $2 THEN l.epoch ELSE l.epoch + 1 END, holder = $2, expires_at = $3, updated_at = $4
     WHERE l.holder IS NULL OR l.holder = $2 OR l.expires_at IS NULL OR l.expires_at < $4
     RETURNING epoch`,
    [lease.name, lease.holder, expiresAt, lease.now],
  );
  return row?.epoch;
}

/** Give a lease up (clean shutdown) so another engine takes over without waiting for expiry. */
export async function releaseLease(sql: SqlExecutor, name: string, holder: string): Promise<void> {
  await sql.query("UPDATE leases SET holder = NULL, expires_at = NULL WHERE name = $1 AND holder = $2", [name, holder]);
}

export async function readLease(sql: SqlExecutor, name: string): Promise<LeaseRow | undefined> {
  const [row] = await sql.query<LeaseRow>("SELECT * FROM leases WHERE name = $1", [name]);
  return row;
}

/** Fencing check inside a transaction: true while `holder` still holds `name` at `epoch`. */
export async function holdsLease(sql: SqlExecutor, name: string, holder: string, epoch: number): Promise<boolean> {
  const rows = await sql.query("SELECT 1 FROM leases WHERE name = $1 AND holder = $2 AND epoch = $3 FOR UPDATE", [
    name,
    holder,
    epoch,
  ]);
  return rows.length > 0;
}
