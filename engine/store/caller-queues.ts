/**
 * Things waiting their turn, a queue per caller (statement-priority.ts: the API key a request came
 * with; "" for the engine's own work), served in rotation: each caller's first in turn, each
 * caller's own in the order they came. With one caller, first come, first served. What lets one
 * caller's burst wait behind itself rather than in front of everyone (kube-apiserver's fair
 * queuing gives each user such a queue): the store's line (statement-line.ts) and the controller's
 * event workers (control/concurrency-limit.ts) take their waiting in this order.
 */
export class CallerQueues<T> {
  /** in rotation order: the next to be served first; a caller served goes to the back */
  readonly #queues = new Map<string, T[]>();

  push(callerId: string, item: T): void {
    const queue = this.#queues.get(callerId);
    if (queue === undefined) this.#queues.set(callerId, [item]);
    else queue.push(item);
  }

  /** Each waiting caller's first. */
  *firsts(): IterableIterator<T> {
    for (const queue of this.#queues.values()) yield queue[0]!;
  }

  /** The next caller's first. */
  shift(): T | undefined {
    for (const [callerId, queue] of this.#queues) {
      const next = queue.shift()!;
      this.#queues.delete(callerId);
      if (queue.length > 0) this.#queues.set(callerId, queue);
      return next;
    }
    return undefined;
  }
}
