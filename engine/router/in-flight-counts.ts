import type { InFlightCounter } from "../runtime/runtime.js";

/**
 * Requests being forwarded to each replica right now. The router counts (both paths); the
 * runtime reads it to stop a draining replica once its requests finished. Made once at the
 * composition root and handed to both, so neither binds to the other late.
 */
export class InFlightCounts implements InFlightCounter {
  readonly #counts = new Map<string, number>();

  inFlight(replicaId: string): number {
    return this.#counts.get(replicaId) ?? 0;
  }

  started(replicaId: string): void {
    this.#counts.set(replicaId, (this.#counts.get(replicaId) ?? 0) + 1);
  }

  finished(replicaId: string): void {
    const count = (this.#counts.get(replicaId) ?? 0) - 1;
    if (count > 0) this.#counts.set(replicaId, count);
    else this.#counts.delete(replicaId);
  }
}
