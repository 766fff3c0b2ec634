/**
 * Rows as this engine last read or wrote them, so that a write can be decided without reading the
 * row first (the deployment controller's observation writes: the row read before each one was ~7
 * of the control loop's statements per rolling step in bench/scale).
 *
 * A statement's result is kept only if no other statement's result, and no `forget`, arrived for
 * the same id while it ran; otherwise the id is forgotten. On PostgreSQL statements overlap: a read
 * sent before a write committed can return after the write's own result, and which of two
 * overlapping results is the newer is unknown — so neither is kept and the next user reads.
 */
export class KnownRows<Row> {
  readonly #entries = new Map<string, { row: Row | undefined; version: number; running: number }>();

  /** The row as last kept (undefined: unknown, read it). */
  get(id: string): Row | undefined {
    return this.#entries.get(id)?.row;
  }

  /**
   * Run `statement` (a read of rows, or a batched write that returns them: one statement for all
   * the ids) and keep each id's returned row as `keepAs` makes it, unless another result or a
   * `forget` for that id arrived meanwhile. An id not returned (no row, a compare-and-set that found
   * the row changed) or a failed statement forgets it. Returns the statement's rows.
   */
  async throughMany<Result extends { id: string }>(ids: readonly string[], statement: () => Promise<Result[]>, keepAs: (result: Result) => Row): Promise<Result[]> {
    const started = ids.map((id) => {
      let entry = this.#entries.get(id);
      if (entry === undefined) this.#entries.set(id, (entry = { row: undefined, version: 0, running: 0 }));
      entry.running++;
      return { id, entry, version: entry.version };
    });
    let results: Result[] | undefined;
    try {
      results = await statement();
      return results;
    } finally {
      const byId = new Map((results ?? []).map((result) => [result.id, result]));
      for (const { id, entry, version } of started) {
        const result = byId.get(id);
        entry.row = result !== undefined && entry.version === version ? keepAs(result) : undefined;
        entry.version++;
        entry.running--;
        this.#prune(id, entry);
      }
    }
  }

  /** The row may have changed elsewhere: the next user reads it. */
  forget(id: string): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    entry.row = undefined;
    entry.version++;
    this.#prune(id, entry);
  }

  /** Every row may have changed elsewhere (a resync: lost notifications, a takeover). */
  forgetAll(): void {
    for (const id of [...this.#entries.keys()]) this.forget(id);
  }

  /** Ids known or with a statement running (tests: nothing is left behind for forgotten ids). */
  get size(): number {
    return this.#entries.size;
  }

  /** An entry with no row and no statement running holds nothing a later statement could need. */
  #prune(id: string, entry: { row: Row | undefined; running: number }): void {
    if (entry.row === undefined && entry.running === 0 && this.#entries.get(id) === entry) this.#entries.delete(id);
  }
}
