/**
 * The leader's replica_sets rows, written behind its decisions in batches. The controller hands
 * over each set's latest row (or its removal); what is pending is kept per set, the latest
 * operation replacing an earlier one (a count replaced by a later count or by the removal), so a
 * set's writes land in the order they were decided without ordering them. A flush takes
 * everything pending and writes it in one statement per kind (and fence) of at most BATCH_ROWS
 * rows; one flush runs at a time, what arrives meanwhile waits for the next. One statement a set
 * used to keep the embedded store's single session busy: ~620 rows/s for ~20 s after the set-up of
 * bench/scale (10,000 deployments), promotions ~3 rows per step, API requests queued behind them.
 */
import { deleteReplicaSets, writeReplicaSets, type ReplicaSetWrite, type WriteFence } from "../store/replica-sets.js";
import type { SqlExecutor } from "../store/sql.js";
import { asBookkeeping } from "../store/statement-priority.js";

/**
 * Rows per statement at most: one statement never holds the embedded store's session for long (a
 * request waits for the statement running when it comes). On PGlite with 10,000 deployments an
 * upsert of 100 rows held it 4–12 ms, of 500 rows 17–28 ms (machine under load).
 */
export const BATCH_ROWS = 100;

/** The statements a flush runs (engine/store/replica-sets.ts); each returns the ids it wrote. */
export interface ReplicaSetRowStore {
  upsert(rows: readonly ReplicaSetWrite[], fence: WriteFence | undefined): Promise<readonly string[]>;
  remove(ids: readonly string[], fence: WriteFence | undefined): Promise<readonly string[]>;
}

export function replicaSetRowStore(sql: SqlExecutor): ReplicaSetRowStore {
  return {
    upsert: (rows, fence) => writeReplicaSets(sql, rows, fence),
    remove: (ids, fence) => deleteReplicaSets(sql, ids, fence),
  };
}

export interface ReplicaSetWritesOptions {
  store: ReplicaSetRowStore;
  /** runs each statement (the controller's limit on its background writes; default: at once) */
  run?: <T>(statement: () => Promise<T>) => Promise<T>;
  /** after each statement: the deployments of the rows it wrote (upserted or removed) */
  written?: (deploymentIds: ReadonlySet<string>) => void;
  /** a statement failed: the ids it was to write (each one's `notWritten` is told too) */
  failed?: (ids: readonly string[], error: Error) => void;
  /** rows per statement at most (default BATCH_ROWS) */
  batchRows?: number;
}

/** Told when the operation's row was not written: fenced out (no error; this engine no longer
 * leads) or its statement failed. Not told when a later operation of the set replaced it. */
export type NotWritten = (error?: Error) => void;

interface Operation {
  kind: "upsert" | "remove";
  row: ReplicaSetWrite | { id: string; deploymentId: string };
  fence: WriteFence | undefined;
  notWritten: NotWritten | undefined;
}

export class ReplicaSetWrites {
  readonly #store: ReplicaSetRowStore;
  readonly #run: <T>(statement: () => Promise<T>) => Promise<T>;
  readonly #written: (deploymentIds: ReadonlySet<string>) => void;
  readonly #failed: (ids: readonly string[], error: Error) => void;
  readonly #batchRows: number;
  /** per set id, its latest operation not yet taken by a flush */
  #pending = new Map<string, Operation>();
  /** a flush is due on the next turn of the event loop */
  #scheduled = false;
  /** the flush under way, if any */
  #flushing: Promise<void> | undefined;

  constructor(options: ReplicaSetWritesOptions) {
    this.#store = options.store;
    this.#run = options.run ?? ((statement) => statement());
    this.#written = options.written ?? (() => undefined);
    this.#failed = options.failed ?? (() => undefined);
    this.#batchRows = Math.max(1, options.batchRows ?? BATCH_ROWS);
  }

  /** Store a set's row (its latest count and role), replacing what is pending for the set. */
  upsert(row: ReplicaSetWrite, fence: WriteFence | undefined, notWritten?: NotWritten): void {
    this.#add({ kind: "upsert", row, fence, notWritten });
  }

  /** Remove a set's row, replacing what is pending for the set. */
  remove(id: string, deploymentId: string, fence: WriteFence | undefined, notWritten?: NotWritten): void {
    this.#add({ kind: "remove", row: { id, deploymentId }, fence, notWritten });
  }

  /** Operations not yet taken by a flush (tests). */
  get pending(): number {
    return this.#pending.size;
  }

  /** Resolves once everything handed over so far is written (or failed) and no flush runs. */
  async drain(): Promise<void> {
    for (;;) {
      if (this.#flushing !== undefined) await this.#flushing;
      else if (this.#pending.size > 0) this.#flush();
      else return;
    }
  }

  #add(operation: Operation): void {
    // Map order is first insertion: a replaced operation keeps its place, which does not matter
    // (one row per set per flush).
    this.#pending.set(operation.row.id, operation);
    this.#schedule();
  }

  /** A flush on the next turn of the event loop: the decisions of this turn (a resync's slice, a
   * promotion's step) go in one batch, and nobody waits on a timer. */
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
    // Nobody waits on these rows (followers read them, a restart restores them): bookkeeping
    // (statement-priority.ts), whatever the decision that asked for them was part of.
    this.#flushing = asBookkeeping(() => this.#write(taken)).finally(() => {
      this.#flushing = undefined;
      if (this.#pending.size > 0) this.#schedule();
    });
  }

  /** One statement per kind and fence, BATCH_ROWS rows at most each, one after the other. Never rejects. */
  async #write(taken: ReadonlyMap<string, Operation>): Promise<void> {
    for (const batch of batchesOf(taken.values(), this.#batchRows)) {
      const ids = batch.operations.map((operation) => operation.row.id);
      let written: ReadonlySet<string>;
      try {
        written = new Set(
          await this.#run(() =>
            batch.kind === "upsert"
              ? this.#store.upsert(
                  batch.operations.map((operation) => operation.row as ReplicaSetWrite),
                  batch.fence,
                )
              : this.#store.remove(ids, batch.fence),
          ),
        );
      } catch (error) {
        for (const operation of batch.operations) operation.notWritten?.(error as Error);
        this.#failed(ids, error as Error);
        continue;
      }
      const deploymentIds = new Set<string>();
      for (const operation of batch.operations) {
        if (written.has(operation.row.id)) deploymentIds.add(operation.row.deploymentId);
        else operation.notWritten?.();
      }
      if (deploymentIds.size > 0) this.#written(deploymentIds);
    }
  }
}

interface Batch {
  kind: "upsert" | "remove";
  fence: WriteFence | undefined;
  operations: Operation[];
}

/** The statements of a flush: operations grouped by kind and fence (usually one fence: the lease
 * held when they were decided), in chunks of at most `size`. */
function batchesOf(operations: Iterable<Operation>, size: number): Batch[] {
  const groups = new Map<string, Batch>();
  for (const operation of operations) {
    const fence = operation.fence;
    const key = `${operation.kind}\0${fence === undefined ? "" : `${fence.name}\0${fence.holder}\0${fence.epoch}`}`;
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = { kind: operation.kind, fence, operations: [] }));
    group.operations.push(operation);
  }
  const batches: Batch[] = [];
  for (const group of groups.values()) {
    for (let start = 0; start < group.operations.length; start += size) batches.push({ ...group, operations: group.operations.slice(start, start + size) });
  }
  return batches;
}
