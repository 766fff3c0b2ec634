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

/** Take or renew `name` for `holder` until now + ttl. Returns the epoch, or undefined if someone else holds it. */
export async function tryAcquireLease(
  sql: SqlExecutor,
  lease: { name: string; holder: string; ttlMs: number; now: Date },
): Promise<number | undefined> {
  const expiresAt = new Date(lease.now.getTime() + lease.ttlMs);
  await sql.query("INSERT INTO leases (name, updated_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", [
    lease.name,
    lease.now,
  ]);
  const [row] = await sql.query<{ epoch: number }>(
    `UPDATE leases
     SET epoch = CASE WHEN holder = $2 THEN epoch ELSE epoch + 1 END, holder = $2, expires_at = $3, updated_at = $4
     WHERE name = $1 AND (holder IS NULL OR holder = $2 OR expires_at IS NULL OR expires_at < $4)
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
