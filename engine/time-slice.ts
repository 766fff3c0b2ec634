/**
 * A long pass over thousands of items on the event loop — a resync's convergence, the autoscaler's
 * sampling pass — hands the loop back every few milliseconds, so that API requests never wait for
 * all of it. Short, because an API request waits up to one slice per statement it runs (a GET runs
 * 2–4 in sequence): 4 ms keeps that within the API's 20-ms p99 target; a yield costs microseconds.
 */
export const SLICE_MS = 4;

export class TimeSlice {
  #start = performance.now();

  /** This slice's time is used up: yield before the next item. */
  get over(): boolean {
    return performance.now() - this.#start >= SLICE_MS;
  }

  /** Let timers and I/O (API requests) run, then begin the next slice. */
  async yield(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.#start = performance.now();
  }
}
