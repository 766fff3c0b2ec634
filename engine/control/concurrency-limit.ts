import { CallerQueues } from "../store/caller-queues.js";
import { currentCaller } from "../store/statement-priority.js";

/**
 * At most `limit` tasks at once; the others wait their turn, in order, taking turns between
 * callers (store/caller-queues.ts). The controller's event workers go through one (work-queue.ts):
 * a user's change, which the user's answer waits for, is applied between the applies of a
 * pipeline's 100 promotes, not after all of them (bench/scale: PATCH autoscaling p99 99–173 ms
 * with the promotions in flight, first come, first served). So do the deployment controller's
 * background writes (replica set counts, observations): a leader's first resync on a store that
 * holds none of them yet issues one or two per set and deployment at once — ~18,800 statements at
 * 3,000 deployments — and, all queued in the pool, every API statement waited behind them (reads
 * p50 2 s for the ~2 s they took, bench/scale/resync.ts).
 */
export class ConcurrencyLimit {
  readonly #limit: number;
  #running = 0;
  readonly #waiting = new CallerQueues<() => void>();

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  async run<T>(task: () => Promise<T>, callerId: string = currentCaller()): Promise<T> {
    // A freed slot passes straight to the next waiter, so `running` never goes over the limit.
    if (this.#running < this.#limit) this.#running++;
    else await new Promise<void>((resolve) => this.#waiting.push(callerId, resolve));
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#running--;
    }
  }
}
