/**
 * Which engine decides. Engines on one PostgreSQL share one store and, on Kubernetes, one set of
 * replicas; exactly one of them — the holder of the 'control' lease — writes replica counts (the
 * autoscaler's and the promotions'), deployment observations and Kubernetes objects. The others
 * follow the store (engine/control/deployment-controller.ts) and route by it. On PGlite there is
 * one engine per data directory: it always leads.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { releaseLease, tryAcquireLease, type WriteFence } from "../store/index.js";
import type { Sql } from "../store/sql.js";

export const CONTROL_LEASE = "control";

export interface Leadership {
  /** true while this engine holds the control lease */
  isLeader(): boolean;
  /** the fence for the leader's writes (undefined on PGlite, where nobody else writes) */
  fence(): WriteFence | undefined;
}

export interface ControlLeaseOptions {
  sql: Sql;
  /** another engine takes over this long after the leader stopped renewing (default 10 s) */
  ttlMs?: number;
  /** told when this engine gains or loses the lease */
  onChange?: (leading: boolean) => void;
  log?: (line: string) => void;
  clock?: () => number;
}

export class ControlLease implements Leadership {
  /** names the host (a pod's name on Kubernetes), so people reading the leases table see who leads */
  readonly holder = `engine-${hostname()}-${randomUUID()}`;
  readonly #options: ControlLeaseOptions;
  readonly #ttlMs: number;
  readonly #clock: () => number;
  #epoch: number | undefined;
  /** when the lease held would expire, by this engine's clock: past it, this engine stops leading even
   * if the renewal query is still hanging (a partitioned leader must not keep writing) */
  #validUntil = 0;
  /** the role last announced through onChange */
  #announced = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: ControlLeaseOptions) {
    this.#options = options;
    this.#ttlMs = options.ttlMs ?? 10_000;
    this.#clock = options.clock ?? Date.now;
  }

  /** First attempt (so the engine knows its role before it syncs), then renewals every ttl/3. */
  async start(): Promise<void> {
    if (this.#options.sql.kind === "pglite") {
      this.#epoch = 0;
      this.#validUntil = Number.POSITIVE_INFINITY;
      this.#announced = true;
      this.#options.onChange?.(true);
      return;
    }
    await this.#attempt();
    this.#schedule();
  }

  isLeader(): boolean {
    return this.#epoch !== undefined && this.#clock() < this.#validUntil;
  }

  fence(): WriteFence | undefined {
    if (this.#options.sql.kind === "pglite" || this.#epoch === undefined) return undefined;
    return { name: CONTROL_LEASE, holder: this.holder, epoch: this.#epoch };
  }

  /** Stop renewing and hand the lease over at once (clean shutdown). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    if (this.#options.sql.kind === "pglite" || this.#epoch === undefined) return;
    this.#epoch = undefined;
    await releaseLease(this.#options.sql, CONTROL_LEASE, this.holder).catch(() => undefined);
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#attempt().finally(() => this.#schedule());
    }, Math.max(100, Math.floor(this.#ttlMs / 3)));
    this.#timer.unref();
  }

  async #attempt(): Promise<void> {
    const startedAt = this.#clock();
    let epoch: number | undefined;
    try {
      epoch = await tryAcquireLease(this.#options.sql, { name: CONTROL_LEASE, holder: this.holder, ttlMs: this.#ttlMs, now: new Date(startedAt) });
    } catch (error) {
      // Unknown: keep the current role until the lease would have expired (isLeader checks the time).
      this.#options.log?.(`control lease: renewal failed: ${(error as Error).message}`);
      return;
    }
    if (this.#closed) return;
    if (epoch === undefined) {
      this.#epoch = undefined;
      this.#validUntil = 0;
    } else {
      this.#epoch = epoch;
      // counted from before the query: the store's expiry is at least this late
      this.#validUntil = startedAt + this.#ttlMs;
    }
    const leading = this.isLeader();
    if (leading !== this.#announced) {
      this.#announced = leading;
      this.#options.log?.(leading ? `control lease: this engine leads now (epoch ${epoch})` : "control lease: another engine leads; following the store");
      this.#options.onChange?.(leading);
    }
  }
}
