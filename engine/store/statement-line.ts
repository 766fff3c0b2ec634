import { performance } from "node:perf_hooks";
import { CallerQueues } from "./caller-queues.js";
import { currentCaller, currentWork, type StatementWork } from "./statement-priority.js";

/**
 * When each kind of work's statement takes its turn, in ms after it was asked: the earliest turn
 * goes first (statement-priority.ts says why each kind is where it is). A request waits at most
 * 5 ms for changes being applied that were asked after it; background work waits for requests and
 * changes asked up to 200 ms after it, bookkeeping up to 1 s — no kind can starve another. These
 * bounds are what a request can wait behind a burst: at 20 ms, the statements of 100 promotions
 * stepping together (asked within a few ms, ~0.3 s of PGlite's session) all went ahead of every
 * request asked 20 ms after them: each kind of request's p99 was ~100 ms with the promotions in
 * flight (bench/scale, 3/10 size), the requests' own waits in this line up to 118 ms. Background
 * work's bound keeps the reconciler within its lag target (250 ms p99): in the same bursts on
 * PostgreSQL its statements waited up to the bound (lag p99 189 ms at 250).
 */
const TURN_AFTER_MS: Readonly<Record<StatementWork, number>> = { applying: -5, request: 0, background: 200, bookkeeping: 1000 };

const KINDS = ["applying", "request", "background", "bookkeeping"] as const satisfies readonly StatementWork[];

/** Which queue's first statement goes next, from the times each queue's first was asked at (ms). */
export function nextTurn(firstAskedAt: Readonly<Partial<Record<StatementWork, number>>>): StatementWork | undefined {
  let next: StatementWork | undefined;
  let earliest = Infinity;
  for (const work of KINDS) {
    const askedAt = firstAskedAt[work];
    if (askedAt !== undefined && askedAt + TURN_AFTER_MS[work] < earliest) {
      earliest = askedAt + TURN_AFTER_MS[work];
      next = work;
    }
  }
  return next;
}

interface Waiting {
  askedAt: number;
  start(): void;
}

function firstAskedAt(queues: CallerQueues<Waiting>): number | undefined {
  let earliest: number | undefined;
  for (const { askedAt } of queues.firsts()) if (earliest === undefined || askedAt < earliest) earliest = askedAt;
  return earliest;
}

/**
 * A store's places for statements (PGlite: the few sent to its thread at a time; PostgreSQL: the
 * pool's connections), handed out in turn (nextTurn) to the kinds of work waiting for one, and
 * within a kind in turn to its callers. Without it a burst of the control loop's statements held
 * them all, and requests waited behind the whole burst (first come, first served).
 */
export class StatementLine {
  readonly #now: () => number;
  #free: number;
  readonly #waiting: Record<StatementWork, CallerQueues<Waiting>> = {
    applying: new CallerQueues(),
    request: new CallerQueues(),
    background: new CallerQueues(),
    bookkeeping: new CallerQueues(),
  };

  constructor(places: number, now: () => number = () => performance.now()) {
    this.#free = Math.max(1, places);
    this.#now = now;
  }

  /** Wait for a place, in the turn of the caller's kind of work and then the caller's; resolves with the place's release. */
  take(work: StatementWork = currentWork(), callerId: string = currentCaller()): Promise<() => void> {
    return new Promise((resolve) => {
      this.#waiting[work].push(callerId, { askedAt: this.#now(), start: () => resolve(this.#releaseOnce()) });
      this.#handOut();
    });
  }

  /** Run `statement` in a place of the line. */
  async run<T>(statement: () => Promise<T>): Promise<T> {
    const release = await this.take();
    try {
      return await statement();
    } finally {
      release();
    }
  }

  #releaseOnce(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#free += 1;
      this.#handOut();
    };
  }

  #handOut(): void {
    while (this.#free > 0) {
      // each kind in its place among the kinds by its longest-waiting caller's first statement
      const turn = nextTurn({
        applying: firstAskedAt(this.#waiting.applying),
        request: firstAskedAt(this.#waiting.request),
        background: firstAskedAt(this.#waiting.background),
        bookkeeping: firstAskedAt(this.#waiting.bookkeeping),
      });
      const next = turn === undefined ? undefined : this.#waiting[turn].shift();
      if (next === undefined) return;
      this.#free -= 1;
      next.start();
    }
  }
}
