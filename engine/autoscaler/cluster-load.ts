/**
 * The load of one replica set across several engines on one PostgreSQL. Each engine's router
 * counts only the requests it receives; behind a load balancer spreading evenly over N engines,
 * the leader (the only engine whose autoscaler decides) sees 1/N of the load. So every other
 * engine reports its router's load per replica set to the store (engine/store/engine-load.ts),
 * and the leader's autoscaler combines the fresh reports with its own router's live counts.
 *
 * Pure: what a follower writes (`reportsToWrite`), what the leader makes of the rows it read
 * (`combineReports`) and of those with its own count (`combineInFlight`). The timers and queries are
 * in load-report.ts.
 */

/**
 * Which load one replica count must carry, by where the replicas are:
 * - "shared": every engine routes to the same replicas (Kubernetes pods): they carry the sum of
 *   the engines' load;
 * - "per-engine": each engine runs the leader's count as its own processes, which serve only its own
 *   router's requests: the count must carry the busiest engine's load (with the sum, N engines each
 *   spreading an even load would each run N times the replicas their share needs).
 */
export type ReplicaSharing = "shared" | "per-engine";

/** One set's load on one engine over one report period. */
export interface SetLoad {
  /** mean requests in flight over the period (the autoscaler's in-flight signal) */
  inFlight: number;
  /** requests ever received by this engine's router for the set (monotonic), so the leader
   * sees arrivals shorter than a sample (the autoscaler's arrivals signal) */
  requests: number;
}

/** A stored report, as the leader reads it. */
export interface LoadReport extends SetLoad {
  engineId: string;
  replicaSetId: string;
  /** how long ago the reporting engine wrote it, by the database's clock (no skew between engines) */
  ageMs: number;
}

export const LOAD_REPORT_DEFAULTS = {
  /** each follower writes its sets' load this often */
  reportIntervalMs: 2_000,
  /** a report older than this is ignored and deleted: three periods, so one slow or lost write
   * does not drop a live engine's load, while a stopped engine's in-flight counts for at most 6 s */
  ttlMs: 6_000,
} as const;

/**
 * The sets a follower writes this period: those with requests in flight (rewritten every period,
 * even unchanged, so that their rows stay fresh) and those whose load changed since the last
 * write (new arrivals, or back to zero once — so the leader stops counting it at once, not a TTL
 * later). An idle set already reported idle is not written: idle sets cost no write.
 *
 * Example: written {a: 2 in flight, 10 requests; b: 0, 5}; now a: 2, 10 (unchanged, in flight →
 * written), b: 0, 5 (idle, unchanged → not), c: 0, 3 (new arrivals → written), and a set no longer
 * measured that was written with load, d: 1, 4 → written as 0 in flight, 4 requests.
 */
export function reportsToWrite(
  written: ReadonlyMap<string, SetLoad>,
  measured: ReadonlyMap<string, SetLoad>,
): Map<string, SetLoad> {
  const rows = new Map<string, SetLoad>();
  for (const [setId, load] of measured) {
    const last = written.get(setId);
    if (load.inFlight > 0 || last === undefined || last.inFlight !== load.inFlight || last.requests !== load.requests) rows.set(setId, load);
  }
  for (const [setId, last] of written) {
    if (!measured.has(setId) && last.inFlight > 0) rows.set(setId, { inFlight: 0, requests: last.requests });
  }
  return rows;
}

/** What the other engines' reports add to the leader's own router counts. */
export interface RemoteLoad {
  /** per set: the fresh reports' mean in flight, added up ("shared") or the largest ("per-engine") */
  inFlight: Map<string, number>;
  /** per set: requests the other engines received since the previous read */
  arrivals: Map<string, number>;
  /** per `reportKey`: the request count of each fresh report, to pass as `seen` next time */
  seen: Map<string, number>;
  /** how many reports are past the TTL (their engine stopped reporting): delete them */
  expired: number;
}

export function reportKey(engineId: string, replicaSetId: string): string {
  return `${engineId}\u0000${replicaSetId}`;
}

/**
 * Combine the other engines' reports into the signal the leader's autoscaler combines with its own:
 * a report counts fully while it is at most `ttlMs` old, not at all after (its engine stopped,
 * or lost the store: its in-flight requests are gone with it). Arrivals are the growth of each
 * engine's request count since the previous read (`seen`); a report seen for the first time sets
 * the baseline and adds none (its count includes requests from before this leader was watching).
 * Arrivals add up whatever the sharing: they only tell that a set had traffic.
 *
 * Example, ttl 6 s, seen {B/s1: 100}: B/s1 4 in flight 130 requests 1 s old, C/s1 2 in flight 7
 * requests 3 s old (first seen), D/s1 5 in flight 9 s old → s1: 6 in flight shared (4 per engine),
 * 30 arrivals; seen {B/s1: 130, C/s1: 7}; 1 expired.
 */
export function combineReports(reports: readonly LoadReport[], seen: ReadonlyMap<string, number>, ttlMs: number, sharing: ReplicaSharing): RemoteLoad {
  const remote: RemoteLoad = { inFlight: new Map(), arrivals: new Map(), seen: new Map(), expired: 0 };
  for (const report of reports) {
    if (report.ageMs > ttlMs) {
      remote.expired++;
      continue;
    }
    const key = reportKey(report.engineId, report.replicaSetId);
    const previous = seen.get(key);
    // A restarted engine is a new engine id: its count only grows; max() guards a rewritten row.
    const arrivals = previous === undefined ? 0 : Math.max(0, report.requests - previous);
    remote.seen.set(key, report.requests);
    if (report.inFlight > 0) remote.inFlight.set(report.replicaSetId, combineInFlight(remote.inFlight.get(report.replicaSetId) ?? 0, report.inFlight, sharing));
    if (arrivals > 0) remote.arrivals.set(report.replicaSetId, (remote.arrivals.get(report.replicaSetId) ?? 0) + arrivals);
  }
  return remote;
}

/** Two engines' in-flight counts of one set as one replica count must carry them. Example: 2 and 5
 * → 7 shared, 5 per engine. */
export function combineInFlight(one: number, other: number, sharing: ReplicaSharing): number {
  return sharing === "shared" ? one + other : Math.max(one, other);
}
