import { ConcurrencyLimit } from "./concurrency-limit.js";

/**
 * The engine's events as the controller handles them: in order per model, different models at once
 * (at most `limit`), as Kubernetes controllers' work queues run several workers. Work of no one
 * model (a resync, a change of leader) runs alone: after everything queued before it, before
 * anything queued after it.
 *
 * Why not one chain of every event: each handler is a few statements run one after another, so one
 * chain is bound by a statement's latency, not by the store's capacity. In bench/scale (100
 * promotions in flight, 200 API req/s, ~10 promotions starting or ending a second, each syncing two
 * deployments) the chain fell behind by seconds (created deployment → its replica set declared p50
 * 1.8 s on PGlite), and every API write, which answers once this engine applied it, waited that long.
 */
export class KeyedWorkQueue {
  readonly #limit: ConcurrencyLimit;
  /** the last work queued per key, until it has run */
  readonly #tails = new Map<string, Promise<void>>();
  /** the last work queued without a key: everything queued after it waits for it */
  #barrier: Promise<void> = Promise.resolve();

  constructor(limit: number) {
    this.#limit = new ConcurrencyLimit(limit);
  }

  /**
   * Resolves once `work` has run; never rejects (a failure goes to `onError`, and the work queued
   * after it runs all the same). `key` undefined: the work runs alone.
   */
  enqueue(key: string | undefined, work: () => Promise<void>, onError: (error: unknown) => void): Promise<void> {
    if (key === undefined) {
      const before = Promise.all([this.#barrier, ...this.#tails.values()]);
      this.#tails.clear();
      const done = before.then(work).catch(onError);
      this.#barrier = done;
      return done;
    }
    const previous = this.#tails.get(key) ?? this.#barrier;
    const done = previous.then(() => this.#limit.run(work)).catch(onError);
    this.#tails.set(key, done);
    void done.then(() => {
      if (this.#tails.get(key) === done) this.#tails.delete(key);
    });
    return done;
  }

  /** Resolves once everything queued so far has run. */
  async idle(): Promise<void> {
    await Promise.all([this.#barrier, ...this.#tails.values()]);
  }
}
