/**
 * Predict requests as the router sees them, counted per replica set and rollout phase on both
 * router paths. Built for the fast path: a request costs one map lookup to find its series (when
 * it is routed), three `performance.now()` reads and a handful of stores when it ends. Everything
 * Prometheus needs (label strings, cumulative buckets) is made at scrape time
 * (engine-metrics.ts), not per request.
 *
 * Labels stay bounded: the series of a set exist only for sets requests were routed to (ids the
 * engine made, environment names), status codes are three digits, and the router drops a
 * request it cannot route before it gets here — an unknown model id in a URL never becomes a
 * label; those are counted by reason only (`rejected`).
 */
import { performance } from "node:perf_hooks";
import { LatencyHistogram } from "./latency-histogram.js";

/**
 * Where the environment stands, as on Baseten's export: `promoting` while a promotion moves it
 * (for both its previous and its candidate deployment), `stable` otherwise, and "" for the
 * per-deployment and development endpoints, which serve outside any environment.
 */
export type RolloutPhase = "promoting" | "stable" | "";

/** The identity of a series: a replica set, as the router resolved it. */
export interface RoutedSet {
  modelId: string;
  deploymentId: string;
  replicaSetId: string;
  /** null: the deployment's own set (per-deployment and development endpoints) */
  environment: string | null;
  /** the environment has a promotion in progress (a candidate in its route) */
  promoting: boolean;
}

/** HTTP status counted for a request whose client left before any response head was sent
 * (nginx's "client closed request"): neither a success nor the replica's failure. */
export const CLIENT_CLOSED_REQUEST = 499;

export class RequestSeries {
  /** status code → requests that got it */
  readonly statusCounts = new Map<number, number>();
  /** request received → response complete (or cut, or abandoned) */
  readonly endToEnd = new LatencyHistogram();
  /** request received → response head sent to the client (the router's own error responses included) */
  readonly timeToFirstByte = new LatencyHistogram();

  constructor(
    readonly modelId: string,
    readonly deploymentId: string,
    /** "" for the deployment's own set */
    readonly environment: string,
    readonly replicaSetId: string,
    readonly rolloutPhase: RolloutPhase,
  ) {}

  /** One finished request; times are `performance.now()` milliseconds. `headAt` undefined: the
   * head went out with the end (a router error response) or never (client gone). */
  record(statusCode: number, startedAt: number, headAt: number | undefined, endedAt: number): void {
    this.statusCounts.set(statusCode, (this.statusCounts.get(statusCode) ?? 0) + 1);
    this.endToEnd.observe((endedAt - startedAt) / 1000);
    if (statusCode !== CLIENT_CLOSED_REQUEST) this.timeToFirstByte.observe(((headAt ?? endedAt) - startedAt) / 1000);
  }
}

/** The series of one replica set, one per phase it was seen in. */
interface SetSeries {
  stable: RequestSeries | undefined;
  promoting: RequestSeries | undefined;
  own: RequestSeries | undefined;
}

/** Why the router turned a predict request away before routing it (bounded: these four). */
export type RejectionReason = "unauthorized" | "forbidden" | "not_found" | "method_not_allowed";

export class RequestMetrics {
  readonly #bySet = new Map<string, SetSeries>();
  readonly rejected = new Map<RejectionReason, number>();

  /** The series a routed request is counted in. */
  seriesFor(route: RoutedSet): RequestSeries {
    let set = this.#bySet.get(route.replicaSetId);
    if (set === undefined) {
      set = { stable: undefined, promoting: undefined, own: undefined };
      this.#bySet.set(route.replicaSetId, set);
    }
    if (route.environment === null) return (set.own ??= this.#create(route, ""));
    if (route.promoting) return (set.promoting ??= this.#create(route, "promoting"));
    return (set.stable ??= this.#create(route, "stable"));
  }

  reject(reason: RejectionReason): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }

  *series(): IterableIterator<RequestSeries> {
    for (const set of this.#bySet.values()) {
      if (set.own !== undefined) yield set.own;
      if (set.stable !== undefined) yield set.stable;
      if (set.promoting !== undefined) yield set.promoting;
    }
  }

  /** The series of one replica set (one per rollout phase it was seen in). */
  seriesOfSet(replicaSetId: string): RequestSeries[] {
    const set = this.#bySet.get(replicaSetId);
    if (set === undefined) return [];
    return [set.own, set.stable, set.promoting].filter((series): series is RequestSeries => series !== undefined);
  }

  /** Forgets the series of sets whose deployment or environment no longer exists (deleted), so
   * that series do not pile up over the engine's life; called at scrape time. */
  prune(exists: (series: RequestSeries) => boolean): void {
    for (const [setId, set] of this.#bySet) {
      const any = set.own ?? set.stable ?? set.promoting;
      if (any !== undefined && !exists(any)) this.#bySet.delete(setId);
    }
  }

  #create(route: RoutedSet, phase: RolloutPhase): RequestSeries {
    return new RequestSeries(route.modelId, route.deploymentId, route.environment ?? "", route.replicaSetId, phase);
  }
}

/**
 * One request's clock on the node:http path, where the series can still change (a request held
 * for a set that went away is routed again) and the end is seen by an event.
 */
export class RequestTiming {
  readonly startedAt = performance.now();
  headAt: number | undefined;
  #ended = false;

  constructor(public series: RequestSeries) {}

  head(): void {
    this.headAt ??= performance.now();
  }

  end(statusCode: number): void {
    if (this.#ended) return;
    this.#ended = true;
    this.series.record(statusCode, this.startedAt, this.headAt, performance.now());
  }
}
