/**
 * At most `limit` tasks at once; the others wait their turn, in order. The deployment controller's
 * background writes (replica set counts, observations) go through one: a leader's first resync on a
 * store that holds none of them yet issues one or two per set and deployment at once — ~18,800
 * statements at 3,000 deployments — and, all queued in the pool, every API statement waited behind
 * them (reads p50 2 s for the ~2 s they took, bench/scale/resync.ts).
 */
export class ConcurrencyLimit {
  readonly #limit: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    // A freed slot passes straight to the next waiter, so `running` never goes over the limit.
    if (this.#running < this.#limit) this.#running++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#running--;
    }
  }
}
