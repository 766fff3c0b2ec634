/**
 * The I/O of the cluster load (the decisions are in cluster-load.ts): each engine that does not
 * lead writes its router's load per replica set to the store every 2 s; the leader reads the
 * others' rows every second and combines them with its own router's counts (`withClusterLoad`),
 * which is what its autoscaler samples. Only engines on PostgreSQL run these (on PGlite one engine has
 * all the traffic); data-plane.ts wires them.
 */
import { deleteEngineLoadOf, deleteExpiredEngineLoad, readEngineLoad, writeEngineLoad } from "../store/engine-load.js";
import type { SqlExecutor } from "../store/sql.js";
import type { LoadSource } from "./autoscaler.js";
import { combineInFlight, combineReports, LOAD_REPORT_DEFAULTS, reportsToWrite, type ReplicaSharing, type SetLoad } from "./cluster-load.js";

/** What the reporter reads of this engine's router. */
export interface RouterLoad {
  inFlightForSet(replicaSetId: string): number;
  requestsForSet(replicaSetId: string): number;
  setsInFlight(): Iterable<string>;
  setsWithRequests(): Iterable<string>;
  onArrival(listener: (replicaSetId: string) => void): () => void;
}

export interface LoadExchangeOptions {
  sql: SqlExecutor;
  /** this engine's id in the table: its control lease holder name */
  engineId: string;
  isLeader: () => boolean;
  /** whether the engines route to the same replicas (Kubernetes) or each to its own (processes) */
  sharing: ReplicaSharing;
  /** default 2 s: followers write this often, the leader reads twice as often */
  reportIntervalMs?: number;
  /** default 6 s */
  ttlMs?: number;
  /** how often a follower samples its sets in flight for the period's mean (default 250 ms, the autoscaler's) */
  sampleIntervalMs?: number;
  log?: (line: string) => void;
}

/**
 * A follower's side: samples its router's in-flight sets every 250 ms (only sets with requests in
 * flight: idle sets cost nothing), and once a period writes the sets with load or a changed load
 * in one statement. Does nothing while this engine leads (the leader's own counts are live).
 */
export class LoadReporter {
  readonly #options: LoadExchangeOptions;
  readonly #router: RouterLoad;
  /** per set: the sum of its in-flight counts at this period's samples */
  #inFlightSums = new Map<string, number>();
  #samples = 0;
  /** what the store holds of this engine's sets, as last written */
  readonly #written = new Map<string, SetLoad>();
  #sampleTimer: NodeJS.Timeout | undefined;
  #reportTimer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(router: RouterLoad, options: LoadExchangeOptions) {
    this.#router = router;
    this.#options = options;
  }

  start(): void {
    this.#sampleTimer = setInterval(() => this.sampleNow(), this.#options.sampleIntervalMs ?? 250);
    this.#sampleTimer.unref();
    this.#reportTimer = setInterval(() => {
      // one write at a time: a slow store delays the next report rather than piling them up
      this.#writing = this.#writing.then(() => this.reportNow());
    }, this.#options.reportIntervalMs ?? LOAD_REPORT_DEFAULTS.reportIntervalMs);
    this.#reportTimer.unref();
  }

  sampleNow(): void {
    if (this.#options.isLeader()) return;
    this.#samples++;
    for (const setId of this.#router.setsInFlight()) {
      this.#inFlightSums.set(setId, (this.#inFlightSums.get(setId) ?? 0) + this.#router.inFlightForSet(setId));
    }
  }

  /** Write this period's rows (if any) and start a new period. */
  async reportNow(): Promise<void> {
    const sums = this.#inFlightSums;
    const samples = this.#samples;
    this.#inFlightSums = new Map();
    this.#samples = 0;
    if (this.#closed || this.#options.isLeader()) return;
    // Only sets with something to say go into `measured`: one look per set that ever had a request,
    // no allocation for the idle ones.
    const measured = new Map<string, SetLoad>();
    for (const setId of this.#router.setsWithRequests()) {
      const inFlight = samples === 0 ? 0 : (sums.get(setId) ?? 0) / samples;
      const requests = this.#router.requestsForSet(setId);
      if (inFlight > 0 || this.#written.get(setId)?.requests !== requests) measured.set(setId, { inFlight, requests });
    }
    const rows = reportsToWrite(this.#written, measured);
    if (rows.size === 0) return;
    try {
      await writeEngineLoad(this.#options.sql, this.#options.engineId, [...rows].map(([replicaSetId, load]) => ({ replicaSetId, ...load })));
      for (const [setId, load] of rows) this.#written.set(setId, load);
    } catch (error) {
      this.#options.log?.(`load report: write failed: ${(error as Error).message}`);
    }
  }

  /** Stop, and take this engine's rows out: its load goes with it. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sampleTimer);
    clearInterval(this.#reportTimer);
    await this.#writing;
    if (this.#written.size > 0) await deleteEngineLoadOf(this.#options.sql, this.#options.engineId).catch(() => undefined);
  }
}

/**
 * The leader's side: the other engines' fresh load per set, read every second (half a report
 * period), and expired rows deleted. Holds nothing while this engine follows.
 */
export class ClusterLoad {
  readonly #options: LoadExchangeOptions;
  #inFlight = new Map<string, number>();
  /** per set: the other engines' arrivals added up since this engine started reading (monotonic) */
  readonly #requests = new Map<string, number>();
  #seen = new Map<string, number>();
  readonly #arrivalListeners = new Set<(replicaSetId: string) => void>();
  #timer: NodeJS.Timeout | undefined;
  #reading: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: LoadExchangeOptions) {
    this.#options = options;
  }

  start(): void {
    const every = Math.max(100, Math.floor((this.#options.reportIntervalMs ?? LOAD_REPORT_DEFAULTS.reportIntervalMs) / 2));
    const schedule = (): void => {
      if (this.#closed) return;
      this.#timer = setTimeout(() => {
        this.#reading = this.readNow().finally(schedule);
      }, every);
      this.#timer.unref();
    };
    schedule();
  }

  inFlightForSet(replicaSetId: string): number {
    return this.#inFlight.get(replicaSetId) ?? 0;
  }

  get sharing(): ReplicaSharing {
    return this.#options.sharing;
  }

  requestsForSet(replicaSetId: string): number {
    return this.#requests.get(replicaSetId) ?? 0;
  }

  /** Calls `listener` after each read with every set the other engines have requests in flight for or received requests for. */
  onArrival(listener: (replicaSetId: string) => void): () => void {
    this.#arrivalListeners.add(listener);
    return () => this.#arrivalListeners.delete(listener);
  }

  async readNow(): Promise<void> {
    if (this.#closed) return;
    if (!this.#options.isLeader()) {
      this.#inFlight = new Map();
      this.#seen = new Map();
      return;
    }
    const ttlMs = this.#options.ttlMs ?? LOAD_REPORT_DEFAULTS.ttlMs;
    try {
      const rows = await readEngineLoad(this.#options.sql, this.#options.engineId);
      const remote = combineReports(
        rows.map((row) => ({ engineId: row.engine_id, replicaSetId: row.replica_set_id, inFlight: row.in_flight, requests: row.requests, ageMs: row.age_ms })),
        this.#seen,
        ttlMs,
        this.#options.sharing,
      );
      this.#inFlight = remote.inFlight;
      this.#seen = remote.seen;
      for (const [setId, arrivals] of remote.arrivals) this.#requests.set(setId, (this.#requests.get(setId) ?? 0) + arrivals);
      for (const listener of this.#arrivalListeners) {
        for (const setId of remote.inFlight.keys()) listener(setId);
        for (const setId of remote.arrivals.keys()) listener(setId);
      }
      if (remote.expired > 0) await deleteExpiredEngineLoad(this.#options.sql, ttlMs);
    } catch (error) {
      // Keep the last figures: they are at most one read old, and a store that cannot be read stops the leader soon anyway.
      this.#options.log?.(`cluster load: read failed: ${(error as Error).message}`);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#reading;
  }
}

/** What the leader's autoscaler samples: its own router's live counts combined with the other engines' reports. */
export function withClusterLoad(local: RouterLoad, cluster: ClusterLoad): LoadSource {
  return {
    inFlightForSet: (replicaSetId) => combineInFlight(local.inFlightForSet(replicaSetId), cluster.inFlightForSet(replicaSetId), cluster.sharing),
    requestsForSet: (replicaSetId) => local.requestsForSet(replicaSetId) + cluster.requestsForSet(replicaSetId),
    onArrival(listener) {
      const stopLocal = local.onArrival(listener);
      const stopCluster = cluster.onArrival(listener);
      return () => {
        stopLocal();
        stopCluster();
      };
    },
  };
}
