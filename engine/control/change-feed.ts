/**
 * Changes between engines on one PostgreSQL. Every engine publishes what it changed (its domain
 * events, and the leader's replica-count decisions) with NOTIFY after commit; every other engine
 * handles them as if they were its own events — each handler re-reads the rows, so the payload is
 * ids only, a lost or repeated notification does no harm, and the periodic resync
 * (deployment-controller `resync`) is the guarantee behind the hint.
 */
import { randomUUID } from "node:crypto";
import type { DomainEvent } from "../service/events.js";
import type { Sql } from "../store/sql.js";

export const CHANGES_CHANNEL = "modelplane_changes";

export type ClusterChange =
  | DomainEvent
  /** the leader changed a replica set's desired count, role or existence */
  | { type: "replica_set.changed"; deploymentId: string }
  /** a request waits on a follower for a set with no ready replica: the leader decides to wake it */
  | { type: "replica_set.wake"; setId: string };

export interface ChangeFeedOptions {
  sql: Sql;
  /** a change another engine made */
  onChange: (change: ClusterChange) => void;
  /** notifications may have been lost (the listening connection dropped): re-read everything */
  onGap: () => void;
  log?: (line: string) => void;
}

export class ChangeFeed {
  /** this engine's own notifications come back to it too: they are recognised and skipped */
  readonly #origin = randomUUID();
  readonly #options: ChangeFeedOptions;
  #unlisten: (() => Promise<void>) | undefined;

  constructor(options: ChangeFeedOptions) {
    this.#options = options;
  }

  /** Only on PostgreSQL: on PGlite this engine is the only one. */
  get shared(): boolean {
    return this.#options.sql.kind === "postgres";
  }

  async start(): Promise<void> {
    if (!this.shared) return;
    this.#unlisten = await this.#options.sql.listen(CHANGES_CHANNEL, (payload) => this.#received(payload), this.#options.onGap);
  }

  /** Tell the other engines (after the change committed); a failure only costs them the resync's delay. */
  publish(change: ClusterChange): void {
    if (!this.shared) return;
    const payload = JSON.stringify({ origin: this.#origin, change });
    this.#options.sql.query("SELECT pg_notify($1, $2)", [CHANGES_CHANNEL, payload]).catch((error: unknown) => {
      this.#options.log?.(`change feed: could not notify ${change.type}: ${(error as Error).message}`);
    });
  }

  async close(): Promise<void> {
    await this.#unlisten?.();
    this.#unlisten = undefined;
  }

  #received(payload: string): void {
    let message: { origin?: unknown; change?: ClusterChange };
    try {
      message = JSON.parse(payload) as { origin?: unknown; change?: ClusterChange };
    } catch {
      return;
    }
    if (message.origin === this.#origin || message.change === undefined || typeof message.change.type !== "string") return;
    this.#options.onChange(message.change);
  }
}
