/**
 * Changes between engines on one PostgreSQL. Every engine publishes what it changed (its domain
 * events, and the leader's replica-count decisions) with NOTIFY after commit; every other engine
 * handles them as if they were its own events — each handler re-reads the rows, so the payload is
 * ids only, a lost or repeated notification does no harm, and the periodic resync
 * (deployment-controller `resync`) is the guarantee behind the hint.
 *
 * Changes go out together, as few notifications as their size allows: those of one turn of the
 * event loop, and all those published while the notification before them waited for its turn in
 * the store's line (a NOTIFY is bookkeeping: it goes 1 s behind requests). One NOTIFY a change was
 * the engine's most frequent statement (~5 a promotion step, 676/s while the leader recorded a
 * set-up's replicas), and one a turn queued ~12,000 of them behind 3,000 promotions made 100 at a
 * time, sent at 590–670/s for 20 s after (bench/scale on PostgreSQL, runs 10 and 11).
 */
import { randomUUID } from "node:crypto";
import type { DomainEvent } from "../service/events.js";
import { notify } from "../store/notify.js";
import type { Sql } from "../store/sql.js";
import { asBookkeeping } from "../store/statement-priority.js";

export const CHANGES_CHANNEL = "modelplane_changes";

/** A notification's payload at most, in bytes: PostgreSQL refuses 8,000 and more. */
export const PAYLOAD_BYTES = 7_900;

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
  /** published, not sent yet */
  #pending: ClusterChange[] = [];
  /** sending #pending until it stays empty; undefined when nothing is to send */
  #sending: Promise<void> | undefined;

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

  /** Tell the other engines (after the change committed), with this turn's other changes; a failure only costs them the resync's delay. */
  publish(change: ClusterChange): void {
    if (!this.shared) return;
    this.#pending.push(change);
    // the rest of this turn's changes join it; if a notification is on its way, they go after it
    this.#sending ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#send());
  }

  async close(): Promise<void> {
    await this.#sending;
    await this.#unlisten?.();
    this.#unlisten = undefined;
  }

  /** One notification at a time, in order (on separate pooled connections a later one could overtake). */
  async #send(): Promise<void> {
    while (this.#pending.length > 0) {
      const changes = this.#pending;
      this.#pending = [];
      for (const payload of notificationPayloads(this.#origin, changes)) {
        try {
          // Nobody waits for it: the other engines' resync is the guarantee behind it (statement-priority.ts).
          await asBookkeeping(() => notify(this.#options.sql, CHANGES_CHANNEL, payload));
        } catch (error) {
          this.#options.log?.(`change feed: could not notify ${changes.length} changes: ${(error as Error).message}`);
        }
      }
    }
    this.#sending = undefined;
  }

  #received(payload: string): void {
    let message: { origin?: unknown; changes?: unknown };
    try {
      message = JSON.parse(payload) as { origin?: unknown; changes?: unknown };
    } catch {
      return;
    }
    if (message.origin === this.#origin || !Array.isArray(message.changes)) return;
    for (const change of message.changes as unknown[]) {
      if (typeof change === "object" && change !== null && typeof (change as { type?: unknown }).type === "string") this.#options.onChange(change as ClusterChange);
    }
  }
}

/**
 * The payloads that carry `changes` in order, each under PAYLOAD_BYTES, a change repeated within
 * them sent once (handlers re-read the rows: the second would read the same).
 */
export function notificationPayloads(origin: string, changes: readonly ClusterChange[]): string[] {
  const head = `{"origin":${JSON.stringify(origin)},"changes":[`;
  const payloads: string[] = [];
  const seen = new Set<string>();
  let body: string[] = [];
  let bytes = Buffer.byteLength(head) + 2;
  for (const change of changes) {
    const json = JSON.stringify(change);
    if (seen.has(json)) continue;
    seen.add(json);
    const size = Buffer.byteLength(json) + 1;
    if (body.length > 0 && bytes + size > PAYLOAD_BYTES) {
      payloads.push(`${head}${body.join(",")}]}`);
      body = [];
      bytes = Buffer.byteLength(head) + 2;
    }
    body.push(json);
    bytes += size;
  }
  if (body.length > 0) payloads.push(`${head}${body.join(",")}]}`);
  return payloads;
}
