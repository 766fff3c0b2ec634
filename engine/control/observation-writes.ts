/**
 * What the runtime observes (status, replica counts, error), written onto the deployment rows in
 * batches behind the controller. The controller says which deployments' observations may be due; a
 * flush takes them all, reads in one statement the rows this engine does not know (KnownRows),
 * decides each row's change from the runtime as it is then, and writes the changes in one
 * compare-and-set statement with their audit entries (engine/store/deployments.ts). A row that
 * changed under its decision is read and decided again at the next flush, a few times at most.
 * One flush runs at a time, so a deployment's writes never overlap; what arrives meanwhile waits
 * for the next. One write a deployment — a read of the row before it and a transaction around the
 * audited ones — was the largest group of statements per promotion step left in bench/scale
 * (~3.7 of 11.4 on the embedded store), and after its set-up the leader's first observations of
 * 10,000 deployments were ~1,400 statements/s for seconds, in the way of the API's requests.
 */
import { observedColumns, type ObservationWrite, type ObservedDeploymentRow } from "../store/deployments.js";
import { asBookkeeping } from "../store/statement-priority.js";
import type { KnownRows } from "./known-rows.js";

/**
 * Rows per statement at most: one statement never holds the embedded store's session for long (a
 * request waits for the statement running when it comes). On PGlite with 10,000 deployments a write
 * of 50 rows, each with its audit entry, held it 3–10 ms; of 500 rows, 44–56 ms (machine under load).
 */
export const OBSERVATION_BATCH_ROWS = 50;

/** Decisions per deployment from rows that changed under them, before it waits for its next change. */
const ATTEMPTS = 3;

/** The statements of a flush (engine/store/deployments.ts). */
export interface ObservationStore {
  /** the live rows' observed columns (ids not live are left out) */
  read(ids: readonly string[]): Promise<ObservedDeploymentRow[]>;
  /** each write compare-and-set on its expected row; returns the rows written */
  write(writes: readonly ObservationWrite[], at: string): Promise<ObservedDeploymentRow[]>;
}

/** What a row is changed to, to say what the runtime observes (undefined: it says it, or nothing is to be written). */
export type ObservationDecision = (row: ObservedDeploymentRow) => ObservationWrite["changes"] | undefined;

export interface ObservationWritesOptions {
  store: ObservationStore;
  /** the rows as this engine last read or wrote them: shared with the controller's syncs */
  rows: KnownRows<ObservedDeploymentRow>;
  decide: ObservationDecision;
  /** runs each statement (the controller's limit on its background writes; default: at once) */
  run?: <T>(statement: () => Promise<T>) => Promise<T>;
  clock: () => Date;
  newAuditId: () => string;
  log?: (line: string) => void;
  /** rows per statement at most (default OBSERVATION_BATCH_ROWS) */
  batchRows?: number;
}

export class ObservationWrites {
  readonly #store: ObservationStore;
  readonly #rows: KnownRows<ObservedDeploymentRow>;
  readonly #decide: ObservationDecision;
  readonly #run: <T>(statement: () => Promise<T>) => Promise<T>;
  readonly #clock: () => Date;
  readonly #newAuditId: () => string;
  readonly #log: (line: string) => void;
  readonly #batchRows: number;
  /** per deployment whose observation may be due, the decisions already made from rows that changed under them */
  #pending = new Map<string, number>();
  #scheduled = false;
  #flushing: Promise<void> | undefined;

  constructor(options: ObservationWritesOptions) {
    this.#store = options.store;
    this.#rows = options.rows;
    this.#decide = options.decide;
    this.#run = options.run ?? ((statement) => statement());
    this.#clock = options.clock;
    this.#newAuditId = options.newAuditId;
    this.#log = options.log ?? (() => undefined);
    this.#batchRows = Math.max(1, options.batchRows ?? OBSERVATION_BATCH_ROWS);
  }

  /** The deployment's observation may differ from its row: decided (and written) at the next flush. */
  due(deploymentId: string): void {
    if (!this.#pending.has(deploymentId)) this.#pending.set(deploymentId, 0);
    this.#schedule();
  }

  /** Deployments waiting for a flush (tests). */
  get pending(): number {
    return this.#pending.size;
  }

  /** Resolves once everything due so far is decided and written (or failed) and no flush runs. */
  async drain(): Promise<void> {
    for (;;) {
      if (this.#flushing !== undefined) await this.#flushing;
      else if (this.#pending.size > 0) this.#flush();
      else return;
    }
  }

  /** On the next turn of the event loop: the replicas of a set tend to turn ready together, and a
   * promotion's step changes many sets at once; they go in one batch, and nobody waits on a timer. */
  #schedule(): void {
    if (this.#scheduled || this.#flushing !== undefined) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#flushing !== undefined || this.#pending.size === 0) return;
    const taken = this.#pending;
    this.#pending = new Map();
    // Nobody's answer waits for an observation (statement-priority.ts), whatever started it.
    this.#flushing = asBookkeeping(() => this.#write(taken)).finally(() => {
      this.#flushing = undefined;
      if (this.#pending.size > 0) this.#schedule();
    });
  }

  /** Batches of at most batchRows deployments, one after the other. Never rejects. */
  async #write(taken: ReadonlyMap<string, number>): Promise<void> {
    const ids = [...taken.keys()];
    for (let start = 0; start < ids.length; start += this.#batchRows) {
      const batch = ids.slice(start, start + this.#batchRows);
      try {
        await this.#writeBatch(batch, taken);
      } catch (error) {
        // The next change of these deployments' replicas (or a resync) records them.
        this.#log(`${named(batch)}: could not record what the runtime observes: ${(error as Error).message}`);
      }
    }
  }

  async #writeBatch(ids: readonly string[], attempts: ReadonlyMap<string, number>): Promise<void> {
    const unknown = ids.filter((id) => this.#rows.get(id) === undefined);
    // Kept in #rows unless a statement of the controller's about the same row overlapped it; this
    // decision may still use the row it read (its write is compare-and-set on it).
    const read = unknown.length === 0 ? [] : await this.#run(() => this.#rows.throughMany(unknown, () => this.#store.read(unknown), observedColumns));
    const readById = new Map(read.map((row) => [row.id, row]));
    const at = this.#clock().toISOString();
    const writes: ObservationWrite[] = [];
    for (const id of ids) {
      const row = this.#rows.get(id) ?? readById.get(id);
      if (row === undefined) continue; // no longer live
      const changes = this.#decide(row);
      if (changes !== undefined) writes.push({ expected: row, changes, auditId: this.#newAuditId() });
    }
    if (writes.length === 0) return;
    const writeIds = writes.map((write) => write.expected.id);
    const written = new Set((await this.#run(() => this.#rows.throughMany(writeIds, () => this.#store.write(writes, at), observedColumns))).map((row) => row.id));
    const gaveUp: string[] = [];
    for (const id of writeIds) {
      if (written.has(id)) continue;
      // The row changed under the decision (it is forgotten now): read and decided again.
      const made = (attempts.get(id) ?? 0) + 1;
      if (made >= ATTEMPTS) gaveUp.push(id);
      else {
        this.#pending.set(id, Math.max(made, this.#pending.get(id) ?? 0));
        this.#schedule();
      }
    }
    if (gaveUp.length > 0) this.#log(`${named(gaveUp)}: the row changed under each observation write; the next change of the replicas records it`);
  }
}

function named(ids: readonly string[]): string {
  return ids.length === 1 ? `deployment ${ids[0]}` : `deployments ${ids.slice(0, 3).join(", ")}${ids.length > 3 ? ` and ${ids.length - 3} more` : ""}`;
}
