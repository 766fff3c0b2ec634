/**
 * Engines sharing one PostgreSQL must encrypt secrets with one key. Each engine otherwise defaults
 * to a key generated in its own data dir: a secret written through one engine then does not decrypt
 * on another, which cannot build that environment's replica set (issue 14: the follower never
 * started production's replicas after the leader promoted a deployment there, stored count 1, no
 * set in its runtime). Re-encryption at start catches it only when a secret already exists; this
 * check catches it before the first one: the database records the id of its engines' key, and an
 * engine whose keys do not include it stops at start, naming both.
 */
import { SecretKeyError, type SecretKeyring } from "./secret-keyring.js";
import type { Sql } from "./sql.js";

/** What an engine starting on a shared database does about the key recorded there. */
export type SharedKeyVerdict =
  /** nothing recorded (a new database, or one from before this check): this engine's key becomes the database's */
  | { kind: "record" }
  /** the database's key is this engine's current key */
  | { kind: "agree" }
  /** the database's key is one this engine keeps after a newer one (a rotation): the newer one becomes the database's */
  | { kind: "rotate"; from: string }
  /** the database's key is not among this engine's: it would write secrets the others cannot read, and not read theirs */
  | { kind: "refuse"; recorded: string };

/**
 * The verdict, from the recorded key id and this engine's keyring (first key current).
 * Examples: recorded none → record; recorded k1, ring [k1] → agree; recorded k1, ring [k2, k1] →
 * rotate from k1; recorded k1, ring [k2] → refuse.
 */
export function judgeSharedKey(recorded: string | undefined, keyring: Pick<SecretKeyring, "currentKeyId" | "keyIds">): SharedKeyVerdict {
  if (recorded === undefined) return { kind: "record" };
  if (recorded === keyring.currentKeyId) return { kind: "agree" };
  if (keyring.keyIds.includes(recorded)) return { kind: "rotate", from: recorded };
  return { kind: "refuse", recorded };
}

/**
 * Check this engine's key against the database's and record it when it is new (or rotated). Under
 * the migrations' advisory lock, so engines starting together on an empty database agree on the
 * first one to record. Throws SecretKeyError on a refusal; `where` names this engine's key source.
 */
export async function agreeOnSharedKey(sql: Sql, where: string): Promise<SharedKeyVerdict> {
  return sql.transaction(async (tx) => {
    // 7070: the advisory lock key of modelplane's migrations (store/migrations.ts)
    await tx.query("SELECT pg_advisory_xact_lock(7070)");
    const [row] = await tx.query<{ key_id: string }>("SELECT key_id FROM secret_key");
    const verdict = judgeSharedKey(row?.key_id, tx.keyring);
    if (verdict.kind === "refuse") {
      throw new SecretKeyError(
        `the engines sharing this database encrypt secrets with key ${verdict.recorded}, which is not among this engine's keys ` +
          `(${tx.keyring.keyIds.join(", ")} from ${where}): secrets written through one would not decrypt on the other, which then cannot start ` +
          "that environment's replicas. Give every engine the same key (MODELPLANE_SECRET_KEY or --secret-key-file; the key of " +
          `${verdict.recorded} is in the first engine's <data-dir>/secret-key when it generated one)`,
      );
    }
    if (verdict.kind === "record" || verdict.kind === "rotate") {
      await tx.query(
        `INSERT INTO secret_key (singleton, key_id, recorded_at) VALUES (true, $1, now())
         ON CONFLICT (singleton) DO UPDATE SET key_id = EXCLUDED.key_id, recorded_at = EXCLUDED.recorded_at`,
        [tx.keyring.currentKeyId],
      );
    }
    return verdict;
  });
}
