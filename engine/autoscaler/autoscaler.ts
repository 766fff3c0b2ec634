import { restsUntil, recommendFromLoad, type LoadSample, type Recommendation, type WindowLoad } from "./recommend.js";
import { resolveAutoscalingSettings, type AutoscalingSettings } from "./settings.js";
import { TimeSlice } from "../time-slice.js";
import { WakeQueue } from "./wake-queue.js";

/** Where load comes from: the router. */
export interface LoadSource {
  inFlightForSet(replicaSetId: string): number;
  /** monotonic count of requests received; optional, but without it requests shorter than the
   * sampling period can go unseen */
  requestsForSet?(replicaSetId: string): number;
  /**
   * Calls `listener` with a set's id when requests for it arrive (for every request, or at least
   * once between two samples); returns the unsubscribe function. With it the autoscaler leaves
   * idle sets at rest (recommend.ts, atRest) instead of sampling them: a pass costs what the sets
   * with traffic cost, not what all of them do (bench/scale: 16,000 sets, ~8 ms of CPU every
   * 250 ms, nearly all of them idle).
   */
  onArrival?(listener: (replicaSetId: string) => void): () => void;
}

export interface AutoscalerOptions {
  source: LoadSource;
  /** Default 250 ms. */
  sampleIntervalMs?: number;
  /** Default Date.now. */
  clock?: () => number;
}

/**
 * Consecutive samples with nothing in flight and no arrivals, as one entry: the ticks
 * `firstTick` … `firstTick + count - 1` of the autoscaler's tick log. Most sets are idle most of
 * the time, and one object per set per 250 ms over a 60-s window was the engine's biggest memory
 * item (226 MiB for 16,000 sets in bench/scale) and garbage every tick.
 */
interface IdleRun {
  firstTick: number;
  count: number;
}

type WindowEntry = LoadSample | IdleRun;

interface TrackedSet {
  id: string;
  settings: AutoscalingSettings;
  /** what `settings` were resolved from */
  given: Partial<AutoscalingSettings>;
  /** the samples of the current window, oldest first; idle ones folded into runs */
  samples: WindowEntry[];
  /** what `samples` add up to, kept as they enter and leave the window */
  load: WindowLoad;
  lastRequestCount: number;
  /** requests in flight when the load was last forgotten that have not finished yet: not demand */
  inFlightBaseline: number;
  currentReplicas: number;
  lastHighDemandAt: number;
  /** a promotion owns the replica count: sampled, never applied */
  excluded: boolean;
  /** the latest decision, updated in place (recommendation() hands out copies) */
  last: Recommendation | undefined;
  /** no longer tracked: a pass under way skips it */
  untracked: boolean;
  /** the last pass it was sampled at, or caught up to when it woke from rest */
  lastTick: number;
  /** its decision cannot change until something wakes it: passes skip it (see `rouse`) */
  resting: boolean;
  /** while resting: until when (Infinity: settled; else the end of its scale-down delay, when a pass wakes it) */
  restsUntil: number;
  /** in `order` (a set put to rest stays there until the next pass drops it) */
  inOrder: boolean;
}

/**
 * Samples the router's load for every tracked replica set and applies `recommendReplicas`.
 * Decisions are pure and in recommend.ts; this class only keeps samples and state between calls.
 */
export class Autoscaler {
  private readonly sets = new Map<string, TrackedSet>();
  /**
   * The same sets in the order passes sample them, untracked ones dropped at the next pass. An
   * array, because iterating the map across a pass's pauses made an object per set per pass (at
   * 16,000 sets, 0.6 of the pass's 2.4 MiB of garbage, four times a second).
   */
  private order: TrackedSet[] = [];
  /** sets untracked or put to rest since the last pass dropped them from `order` */
  private leftSinceLastPass = 0;
  /** the source tells of arrivals: idle sets can rest */
  private readonly canRest: boolean;
  private readonly stopArrivals: (() => void) | undefined;
  /** the tick of the timer's pass under way (sets it has not reached are sampled at it) */
  private passTick: number | undefined;
  /** who applies a decision (the deployment controller persists it and calls runtime.setDesired) */
  private readonly deciders = new Set<(replicaSetId: string, replicas: number) => void>();
  private readonly clock: () => number;
  private readonly sampleIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  /** the timer's pass is under way */
  private passing = false;
  private closed = false;
  /** When each sampling pass ran (every set is sampled in every pass): idle runs name passes by
   * number; `tickTimes[i]` is pass `firstKeptTick + i`. Kept for the longest window allowed. */
  private tickTimes: number[] = [];
  private firstKeptTick = 0;
  /** Resting sets waiting for their scale-down delay, by its end (entries of sets woken since are stale). */
  private readonly waiting = new WakeQueue<TrackedSet>();
  /** the sets resting until a time (the rest of `waiting`'s entries are stale) */
  private waitingSets = 0;

  constructor(private readonly options: AutoscalerOptions) {
    this.clock = options.clock ?? Date.now;
    this.sampleIntervalMs = options.sampleIntervalMs ?? 250;
    this.canRest = options.source.onArrival !== undefined;
    this.stopArrivals = options.source.onArrival?.((replicaSetId) => {
      const tracked = this.sets.get(replicaSetId);
      if (tracked !== undefined) this.rouse(tracked);
    });
  }

  /** Start autoscaling a replica set, or replace its settings. `currentReplicas` is what it runs
   * now; a new delay period starts from now, so a fresh deployment is not scaled down at once. */
  track(replicaSetId: string, settings: Partial<AutoscalingSettings>, currentReplicas: number): void {
    const existing = this.sets.get(replicaSetId);
    if (existing !== undefined) {
      // Every resync tracks every set again (16,000 at bench/scale's size): the schema's check only
      // when the settings changed.
      const changed = !sameSettings(existing.given, settings);
      // caught up under the settings it rested with, as if sampled at every pass
      if (changed || existing.currentReplicas !== currentReplicas) this.rouse(existing);
      if (changed) {
        existing.settings = resolveAutoscalingSettings(settings);
        existing.given = { ...settings };
      }
      existing.currentReplicas = currentReplicas;
    } else {
      const tracked: TrackedSet = {
        id: replicaSetId,
        settings: resolveAutoscalingSettings(settings),
        given: { ...settings },
        samples: [],
        load: emptyLoad(),
        lastRequestCount: this.options.source.requestsForSet?.(replicaSetId) ?? 0,
        inFlightBaseline: 0,
        currentReplicas,
        lastHighDemandAt: this.clock(),
        excluded: false,
        last: undefined,
        untracked: false,
        lastTick: this.caughtUpTick(),
        resting: false,
        restsUntil: Number.POSITIVE_INFINITY,
        inOrder: true,
      };
      this.sets.set(replicaSetId, tracked);
      this.order.push(tracked);
    }
    this.ensureTimer();
  }

  untrack(replicaSetId: string): void {
    const tracked = this.sets.get(replicaSetId);
    if (tracked === undefined) return;
    tracked.untracked = true;
    if (tracked.resting && tracked.restsUntil !== Number.POSITIVE_INFINITY) this.waitingSets -= 1;
    this.leftSinceLastPass += 1;
    this.sets.delete(replicaSetId);
    if (this.sets.size === 0) this.stopTimer();
  }

  /** A promotion now decides this deployment's replica count: keep measuring, stop applying. */
  exclude(replicaSetId: string): void {
    const tracked = this.sets.get(replicaSetId);
    if (tracked === undefined) return;
    this.rouse(tracked);
    tracked.excluded = true;
  }

  /** The promotion is over: autoscale again from `currentReplicas`, with a fresh delay period. */
  include(replicaSetId: string, currentReplicas: number): void {
    const tracked = this.sets.get(replicaSetId);
    if (tracked === undefined) return;
    this.rouse(tracked);
    tracked.excluded = false;
    tracked.currentReplicas = currentReplicas;
    tracked.lastHighDemandAt = this.clock();
  }

  /**
   * The traffic this set had is gone elsewhere (a promotion moved the environment to another
   * deployment): drop the samples, and do not count the requests still finishing on it, so that
   * the load it carried does not bring it back (e.g. a previous deployment just scaled to zero
   * woke up ~1 s later, from its own window of samples, and stayed for the scale-down delay).
   * Requests that arrive from now on count as usual.
   */
  forgetLoad(replicaSetId: string): void {
    const tracked = this.sets.get(replicaSetId);
    if (tracked === undefined) return;
    this.rouse(tracked);
    tracked.samples = [];
    tracked.load = emptyLoad();
    tracked.last = undefined;
    tracked.lastRequestCount = this.options.source.requestsForSet?.(replicaSetId) ?? 0;
    tracked.inFlightBaseline = this.options.source.inFlightForSet(replicaSetId);
  }

  /** The engine changed the replica count itself (activation, manual scaling). */
  setCurrentReplicas(replicaSetId: string, replicas: number): void {
    const tracked = this.sets.get(replicaSetId);
    if (tracked === undefined || tracked.currentReplicas === replicas) return;
    this.rouse(tracked);
    tracked.currentReplicas = replicas;
  }

  /**
   * A request is waiting for a replica set scaled to zero (the router's onWake): scale to one
   * replica now instead of at the next sample. Returns false when the autoscaler does not own
   * the deployment's count (untracked or excluded); the engine then decides.
   */
  wake(replicaSetId: string): boolean {
    const tracked = this.sets.get(replicaSetId);
    if (tracked === undefined || tracked.excluded) return false;
    this.rouse(tracked);
    tracked.lastHighDemandAt = this.clock();
    if (tracked.currentReplicas === 0) {
      tracked.currentReplicas = Math.min(tracked.settings.max_replica, Math.max(1, tracked.settings.min_replica));
      this.decide(replicaSetId, tracked.currentReplicas);
    }
    return true;
  }

  /** Called with each replica count decided for a set; returns the unsubscribe function. */
  onDecision(listener: (replicaSetId: string, replicas: number) => void): () => void {
    this.deciders.add(listener);
    return () => this.deciders.delete(listener);
  }

  private decide(replicaSetId: string, replicas: number): void {
    for (const listener of this.deciders) listener(replicaSetId, replicas);
  }

  /** Replicas the load calls for, unclamped (0 when untracked). For the promotion reconciler. */
  demand(replicaSetId: string): number {
    return this.sets.get(replicaSetId)?.last?.demand ?? 0;
  }

  /** The latest decision for a deployment, if any sample was taken. */
  recommendation(replicaSetId: string): Recommendation | undefined {
    const tracked = this.sets.get(replicaSetId);
    const last = tracked?.last;
    if (last === undefined) return undefined;
    // Settled, every pass since would have given the same, with its own time as the last high demand
    // (waiting for its delay, the same with the last high demand unmoved).
    return tracked!.resting && tracked!.restsUntil === Number.POSITIVE_INFINITY ? { ...last, lastHighDemandAt: this.tickTime(this.caughtUpTick()) } : { ...last };
  }

  /** One sampling pass over every tracked replica set, at once (tests call it). */
  sampleNow(): void {
    const now = this.clock();
    this.wakeDue(now);
    const tick = this.recordTick(now);
    for (const tracked of this.passOrder()) if (!tracked.untracked && !tracked.resting) this.sample(tracked, now, tick);
  }

  /**
   * The timer's sampling pass: the same, handing the event loop back every few milliseconds. At
   * 16,000 sets sampled (bench/scale's, before idle sets rested) a pass was 5–20 ms of CPU every
   * 250 ms, and an API request that met it waited for all of it. Every set of the pass is sampled
   * at the pass's time and tick (a set tracked or woken meanwhile joins it; one untracked is skipped).
   */
  async samplePass(): Promise<void> {
    const now = this.clock();
    this.wakeDue(now);
    const tick = this.recordTick(now);
    this.passTick = tick;
    try {
      const slice = new TimeSlice();
      const order = this.passOrder();
      for (let index = 0; index < order.length; index++) {
        if ((index + 1) % PASS_CLOCK_EVERY === 0 && slice.over) {
          await slice.yield();
          if (this.closed) return;
        }
        const tracked = order[index]!;
        if (!tracked.untracked && !tracked.resting) this.sample(tracked, now, tick);
      }
    } finally {
      this.passTick = undefined;
    }
  }

  /** The sets a pass samples, untracked and resting ones dropped (a set tracked or woken during
   * the pass joins it: pushed on the same array). */
  private passOrder(): readonly TrackedSet[] {
    if (this.leftSinceLastPass > 0) {
      this.order = this.order.filter((tracked) => {
        tracked.inOrder = !tracked.untracked && !tracked.resting;
        return tracked.inOrder;
      });
      this.leftSinceLastPass = 0;
    }
    return this.order;
  }

  /**
   * The last tick every sampled set has been sampled at: a pass under way has not reached all of
   * its sets yet, and those it reaches are sampled at its own tick (-1: no pass yet).
   */
  private caughtUpTick(): number {
    return this.passTick !== undefined ? this.passTick - 1 : this.firstKeptTick + this.tickTimes.length - 1;
  }

  /**
   * Something may change a resting set's decision: catch it up to the passes it skipped, exactly
   * as if it had been sampled at each (all idle: nothing arrived, and in flight only rises with
   * an arrival), and sample it again from the next pass on.
   */
  private rouse(tracked: TrackedSet): void {
    if (!tracked.resting) return;
    tracked.resting = false;
    const settled = tracked.restsUntil === Number.POSITIVE_INFINITY;
    if (!settled) this.waitingSets -= 1;
    const upTo = this.caughtUpTick();
    if (upTo > tracked.lastTick) {
      const at = this.tickTime(upTo);
      const windowStart = at - tracked.settings.autoscaling_window * 1000;
      // skipped passes the window no longer reaches are not added only to be dropped
      this.addIdleTicks(tracked, Math.max(tracked.lastTick + 1, this.firstTickAfter(windowStart)), upTo);
      this.dropSamplesBefore(tracked, windowStart);
      // at rest each pass's decision was the set's count; settled, with that pass's time as the
      // high demand (waiting for its delay, it stayed: every skipped pass came before the delay's end)
      if (settled) {
        tracked.lastHighDemandAt = at;
        if (tracked.last !== undefined) tracked.last.lastHighDemandAt = at;
      }
      tracked.lastTick = upTo;
    }
    if (!tracked.inOrder) {
      tracked.inOrder = true;
      this.order.push(tracked);
    }
  }

  private sample(tracked: TrackedSet, now: number, tick: number): void {
    const { source } = this.options;
    const replicaSetId = tracked.id;
    const requestCount = source.requestsForSet?.(replicaSetId) ?? 0;
    const inFlight = source.inFlightForSet(replicaSetId);
    // The forgotten requests can only finish: the baseline follows the count down to 0.
    tracked.inFlightBaseline = Math.min(tracked.inFlightBaseline, inFlight);
    this.addSample(tracked, now, inFlight - tracked.inFlightBaseline, Math.max(0, requestCount - tracked.lastRequestCount), tick);
    tracked.lastRequestCount = requestCount;
    tracked.lastTick = tick;
    this.dropSamplesBefore(tracked, now - tracked.settings.autoscaling_window * 1000);

    const recommendation = recommendFromLoad(tracked, now);
    // Copied into the set's record: the decision's object then lives no longer than this call.
    tracked.last ??= { replicas: 0, demand: 0, lastHighDemandAt: 0 };
    tracked.last.replicas = recommendation.replicas;
    tracked.last.demand = recommendation.demand;
    tracked.last.lastHighDemandAt = recommendation.lastHighDemandAt;
    if (tracked.excluded) return;
    tracked.lastHighDemandAt = recommendation.lastHighDemandAt;
    if (recommendation.replicas !== tracked.currentReplicas) {
      tracked.currentReplicas = recommendation.replicas;
      this.decide(replicaSetId, recommendation.replicas);
    }
    // (not a promotion's set, returned above: the promotion reads its demand at every pass)
    if (!this.canRest || tracked.inFlightBaseline !== 0) return;
    const until = restsUntil(tracked);
    if (until === undefined) return;
    tracked.resting = true;
    tracked.restsUntil = until;
    this.leftSinceLastPass += 1;
    if (until !== Number.POSITIVE_INFINITY) {
      this.waitingSets += 1;
      this.waiting.push(until, tracked);
    }
  }

  /**
   * Before a pass at `now`: wake the sets whose scale-down delay has ended by then, caught up to the
   * last pass, so that this pass samples them (and scales them down) as it would have had they
   * never rested. Entries left by sets woken earlier are dropped, and compacted away when they
   * outnumber the live ones (a set woken often before its delay ends leaves one each time).
   */
  private wakeDue(now: number): void {
    this.waiting.takeDue(now, (tracked, at) => {
      if (stillWaiting(tracked, at)) this.rouse(tracked);
    });
    if (this.waiting.size > 2 * this.waitingSets + 1_024) this.waiting.retain(stillWaiting);
  }

  /** Note this pass's time; forget passes older than any window can reach. Returns its number. */
  private recordTick(now: number): number {
    this.tickTimes.push(now);
    let old = 0;
    while (old < this.tickTimes.length - 1 && this.tickTimes[old]! < now - MAX_WINDOW_MS) old++;
    if (old > 0) {
      this.tickTimes.splice(0, old);
      this.firstKeptTick += old;
    }
    return this.firstKeptTick + this.tickTimes.length - 1;
  }

  private tickTime(tick: number): number {
    return this.tickTimes[tick - this.firstKeptTick] ?? Number.NEGATIVE_INFINITY;
  }

  /** The first kept tick later than `time` (one past the last if none is). */
  private firstTickAfter(time: number): number {
    let low = 0;
    let high = this.tickTimes.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.tickTimes[middle]! <= time) low = middle + 1;
      else high = middle;
    }
    return this.firstKeptTick + low;
  }

  /** Idle samples at the ticks `from` … `to`, as one run (the set's samples all precede `from`). */
  private addIdleTicks(tracked: TrackedSet, from: number, to: number): void {
    if (to < from) return;
    const count = to - from + 1;
    tracked.load.samples += count;
    const last = tracked.samples.at(-1);
    if (last !== undefined && isIdleRun(last) && last.firstTick + last.count === from) last.count += count;
    else tracked.samples.push({ firstTick: from, count });
  }

  private addSample(tracked: TrackedSet, at: number, inFlight: number, arrivals: number, tick: number): void {
    if (inFlight !== 0 || arrivals !== 0) {
      const sample: LoadSample = { at, inFlight, arrivals };
      addToLoad(tracked.load, sample, 1);
      tracked.samples.push(sample);
      return;
    }
    // (an idle sample adds nothing but itself, and needs no object of its own)
    this.addIdleTicks(tracked, tick, tick);
  }

  /** Samples taken at or before `windowStart` leave the window (and its sums). */
  private dropSamplesBefore(tracked: TrackedSet, windowStart: number): void {
    let stale = 0;
    for (; stale < tracked.samples.length; stale++) {
      const entry = tracked.samples[stale]!;
      if (!isIdleRun(entry)) {
        if (entry.at > windowStart) break;
        addToLoad(tracked.load, entry, -1);
        continue;
      }
      if (this.tickTime(entry.firstTick) > windowStart) break;
      // the run's ticks up to the window's start leave it (a woken set's can be many at once)
      const leaving = Math.min(entry.count, this.firstTickAfter(windowStart) - entry.firstTick);
      entry.firstTick += leaving;
      entry.count -= leaving;
      tracked.load.samples -= leaving;
      if (entry.count > 0) break;
    }
    if (stale > 0) tracked.samples.splice(0, stale);
  }

  close(): void {
    this.closed = true;
    this.stopArrivals?.();
    this.stopTimer();
    this.sets.clear();
    this.order = [];
  }

  private ensureTimer(): void {
    if (this.timer !== undefined || this.closed) return;
    // A pass still running when the next is due (a long one, sliced) lets that one go.
    this.timer = setInterval(() => {
      if (this.passing) return;
      this.passing = true;
      void this.samplePass().finally(() => {
        this.passing = false;
      });
    }, this.sampleIntervalMs);
    // The engine's server keeps the process alive; the autoscaler alone must not.
    this.timer.unref();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** The timer's pass looks at its slice's clock every this many sets (a set's sample is about half a microsecond). */
const PASS_CLOCK_EVERY = 64;

/** The longest autoscaling window the settings allow (sdk/schemas/autoscaling.ts: 3,600 s), with a margin. */
const MAX_WINDOW_MS = 3_601_000;

/** A wake-queue entry is live: its set still rests until that very time (not woken, untracked or re-rested since). */
function stillWaiting(tracked: TrackedSet, at: number): boolean {
  return tracked.resting && !tracked.untracked && tracked.restsUntil === at;
}

function isIdleRun(entry: WindowEntry): entry is IdleRun {
  return "firstTick" in entry;
}

function emptyLoad(): WindowLoad {
  return { samples: 0, inFlightSum: 0, arrivals: 0 };
}

/** A sample enters (+1) or leaves (−1) the window. Counts are integers, so the sums stay exact. */
function addToLoad(load: WindowLoad, sample: LoadSample, sign: 1 | -1): void {
  load.samples += sign;
  load.inFlightSum += sign * sample.inFlight;
  load.arrivals += sign * sample.arrivals;
}

function sameSettings(a: Partial<AutoscalingSettings>, b: Partial<AutoscalingSettings>): boolean {
  const keys = Object.keys(a) as Array<keyof AutoscalingSettings>;
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}
