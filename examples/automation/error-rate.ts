/**
 * Watching production while it changes: a closed-loop request stream of our own against the
 * production endpoint, and a sliding window over its answers. A 5xx or no answer at all counts as a
 * failure; anything else (including a 4xx, which is the caller's fault) as a success.
 *
 * The window arithmetic is pure (`ErrorRateWindow`, `breachesBudget`) so it can be reasoned about
 * without a network; `watchErrorRate` is the only part that sends requests.
 */

export interface ErrorBudget {
  /** A window whose failure ratio is above this breaks the budget, e.g. 0.05 = 5 %. */
  maxErrorRate: number;
  /** Length of the sliding window, in ms. */
  windowMs: number;
  /**
   * Fewer answers than this in the window say nothing yet: with 3 requests, one unlucky timeout
   * would be a 33 % error rate.
   */
  minRequests: number;
}

export interface WindowStats {
  requests: number;
  failures: number;
  /** failures / requests, 0 for an empty window */
  errorRate: number;
}

/** The answers of the last `windowMs` ms. Times are passed in, so tests need no clock. */
export class ErrorRateWindow {
  readonly #windowMs: number;
  /** [answeredAt, failed], oldest first */
  readonly #samples: Array<[number, boolean]> = [];

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  record(answeredAt: number, failed: boolean): void {
    this.#samples.push([answeredAt, failed]);
  }

  stats(now: number): WindowStats {
    const oldest = now - this.#windowMs;
    while (this.#samples.length > 0 && this.#samples[0]![0] < oldest) this.#samples.shift();
    const failures = this.#samples.filter(([, failed]) => failed).length;
    const requests = this.#samples.length;
    return { requests, failures, errorRate: requests === 0 ? 0 : failures / requests };
  }
}

/** E.g. 30 answers with 4 failures in the window: 13.3 % > 5 % → broken; 10 answers: too few to tell. */
export function breachesBudget(stats: WindowStats, budget: ErrorBudget): boolean {
  return stats.requests >= budget.minRequests && stats.errorRate > budget.maxErrorRate;
}

export interface Breach extends WindowStats {
  /** ms since the watch started */
  atMs: number;
  /** a few of the failing answers, e.g. `500 {"error":"..."}` */
  samples: string[];
}

export interface WatchReport {
  sent: number;
  failed: number;
  /** highest error rate of any full window (at least `minRequests` answers) */
  peakErrorRate: number;
  breach: Breach | undefined;
}

export interface WatchOptions {
  /** predict URL of the environment to watch */
  url: string;
  /** API key for the predict endpoint (an inference key is enough; the engine removes it before the replica) */
  apiKey: string;
  budget: ErrorBudget;
  /** request bodies, sent in turn */
  bodies: readonly unknown[];
  /** requests in flight at once (default 4) */
  concurrency?: number;
  /**
   * pause between an answer and the next request of the same worker, in ms (default 50: with 4
   * workers at most ~80 requests/s of extra load on production, plenty for 20 answers per window)
   */
  pauseMs?: number;
  /** per-request timeout in ms (default 10 000) */
  requestTimeoutMs?: number;
}

export interface ErrorRateWatch {
  /** Resolves with the first breach of the budget; with undefined once stopped without one. */
  readonly breached: Promise<Breach | undefined>;
  stop(): Promise<WatchReport>;
}

/** Starts sending requests at once; keeps going after a breach until `stop()`. */
export function watchErrorRate(options: WatchOptions): ErrorRateWatch {
  const started = Date.now();
  const window = new ErrorRateWindow(options.budget.windowMs);
  const failureSamples: string[] = [];
  let sent = 0;
  let failed = 0;
  let peakErrorRate = 0;
  let breach: Breach | undefined;
  let stopping = false;
  let resolveBreached: (value: Breach | undefined) => void = () => undefined;
  const breached = new Promise<Breach | undefined>((resolve) => (resolveBreached = resolve));

  const record = (isFailure: boolean, sample: string | undefined) => {
    const now = Date.now();
    sent++;
    if (isFailure) {
      failed++;
      if (sample !== undefined && failureSamples.length < 5) failureSamples.push(sample);
    }
    window.record(now, isFailure);
    const stats = window.stats(now);
    if (stats.requests >= options.budget.minRequests) peakErrorRate = Math.max(peakErrorRate, stats.errorRate);
    if (!breach && breachesBudget(stats, options.budget)) {
      breach = { ...stats, atMs: now - started, samples: [...failureSamples] };
      resolveBreached(breach);
    }
  };

  const worker = async (workerIndex: number) => {
    for (let n = workerIndex; !stopping; n += options.concurrency ?? 4) {
      const body = options.bodies[n % options.bodies.length];
      try {
        const response = await fetch(options.url, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Api-Key ${options.apiKey}` },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(options.requestTimeoutMs ?? 10_000),
        });
        const text = await response.text();
        record(response.status >= 500, `${response.status} ${text.slice(0, 200)}`);
      } catch (error) {
        record(true, `no answer: ${(error as Error).message}`);
      }
      if (!stopping) await new Promise((resolve) => setTimeout(resolve, options.pauseMs ?? 50));
    }
  };
  const workers = Array.from({ length: options.concurrency ?? 4 }, (_, index) => worker(index));

  return {
    breached,
    async stop() {
      stopping = true;
      await Promise.all(workers);
      resolveBreached(undefined);
      return { sent, failed, peakErrorRate, breach };
    },
  };
}
