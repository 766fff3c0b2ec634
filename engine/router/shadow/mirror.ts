/**
 * The shadow mirror (issue 17): copies of an environment's predict requests sent to its shadow
 * deployment and the two answers compared, without the client's request ever waiting for it.
 *
 * Per request, both router paths ask `select` once the primary deployment is picked — one
 * `table.hasShadows` check when no environment has a shadow. A selected request gets a
 * ShadowCopy: the primary's relay tells it the status and the body (`head`, `data`,
 * `primaryEnded`), and once the request body is in hand `start` queues the copy. Each environment
 * has its own queue: at most `max_concurrency` copies in flight to the shadow, at most
 * `max_queue` waiting; beyond that a copy is shed (counted). So a slow or dead shadow costs the
 * primary nothing but the copy's bookkeeping, and memory is bounded by
 * (max_concurrency + max_queue) × (request body ≤ 64 KiB + two captured answers ≤ 64 KiB each).
 */
import { performance } from "node:perf_hooks";
import { randomUUID } from "node:crypto";
import type { Dispatcher } from "undici";
import type { ShadowOutcome, ShadowSettings } from "../../../sdk/schemas/shadow.js";
import type { ShadowStats } from "../../metrics/shadow-stats.js";
import { replicaSetId, type ReplicaInfo } from "../../runtime/runtime.js";
import type { Resolution } from "../pick.js";
import type { RoutingTable, ShadowRoute } from "../routing-table.js";
import { compareAnswers, dechunk } from "./compare.js";

/** Answers (either side) larger than this are not compared (counted as skipped_body). */
export const MAX_CAPTURED_ANSWER_BYTES = 64 * 1024;

/** Marks a copy for the shadow's model server (it may want to skip side effects or logs). */
export const SHADOW_HEADER = "x-modelplane-shadow";

/** What `select` needs to know of a request. */
export interface MirroredRequest {
  method: string;
  /** path and query as the client sent them */
  target: string;
  /** a request header's value by lowercase name, undefined when absent */
  header(name: string): string | undefined;
}

export interface MirrorDependencies {
  table: RoutingTable;
  stats: ShadowStats;
  rand: () => number;
  pickReplica(setId: string): ReplicaInfo | undefined;
  /** the undici pool of a replica (the router's, shared with node:http's requests) */
  poolFor(replica: ReplicaInfo): Dispatcher;
  /** a copy found the shadow's own set scaled to zero */
  wake(setId: string): void;
  /** per-replica and per-set bookkeeping, as for any request (drains and autoscaling see copies) */
  started(setId: string, replicaId: string): void;
  finished(setId: string, replicaId: string): void;
}

/** One environment's queue of copies: an array with a moving head (no O(n) shift per copy). */
class CopyQueue {
  active = 0;
  readonly #waiting: (ShadowCopy | undefined)[] = [];
  #head = 0;
  constructor(readonly settingsKey: string) {}
  get length(): number {
    return this.#waiting.length - this.#head;
  }
  push(copy: ShadowCopy): void {
    this.#waiting.push(copy);
  }
  shift(): ShadowCopy | undefined {
    if (this.#head >= this.#waiting.length) return undefined;
    const copy = this.#waiting[this.#head];
    this.#waiting[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
      this.#waiting.splice(0, this.#head);
      this.#head = 0;
    }
    return copy;
  }
}

export class ShadowMirrors {
  readonly #queues = new Map<string, CopyQueue>();
  #closed = false;

  constructor(readonly deps: MirrorDependencies) {}

  /**
   * A copy for this request if its environment has a shadow and the request is selected (match,
   * then percent); undefined otherwise — also when the primary is the shadow deployment itself
   * (a candidate answering its own share: nothing to compare).
   */
  select(resolution: Extract<Resolution, { ok: true }>, request: MirroredRequest): ShadowCopy | undefined {
    if (this.#closed || resolution.environment === null) return undefined;
    const route = this.deps.table.shadow(resolution.modelId, resolution.environment);
    if (route === undefined) return undefined;
    const { settings } = route;
    if (!matches(settings, request)) return undefined;
    if (!(this.deps.rand() * 100 < settings.percent)) return undefined;
    // shadowDeploymentId: the deployment judged (counted under); copyDeploymentId: where the copy goes
    let shadowDeploymentId: string | null;
    let copyDeploymentId: string | null;
    let setId: string | null = null;
    if (settings.deployment === "candidate") {
      const environment = this.deps.table.environment(resolution.modelId, resolution.environment);
      shadowDeploymentId = environment?.candidateDeploymentId ?? null;
      copyDeploymentId = shadowDeploymentId;
      if (shadowDeploymentId !== null && shadowDeploymentId === resolution.deploymentId) {
        // The candidate serves this request itself (its traffic share): the copy goes to the
        // environment's current deployment instead, so the pair compared is the same (current,
        // candidate) at every split — up to 100 %, where nothing else would be compared.
        copyDeploymentId = environment?.currentDeploymentId ?? null;
        if (copyDeploymentId === null) return undefined;
      }
      if (copyDeploymentId !== null) setId = replicaSetId(copyDeploymentId, resolution.environment);
    } else {
      shadowDeploymentId = settings.deployment;
      copyDeploymentId = shadowDeploymentId;
      // a request the shadow deployment serves itself (header routing to it): nothing to compare
      if (shadowDeploymentId === resolution.deploymentId) return undefined;
      setId = replicaSetId(shadowDeploymentId, null);
    }
    const deployment = copyDeploymentId === null ? undefined : this.deps.table.deployment(resolution.modelId, copyDeploymentId);
    return new ShadowCopy(this, route, resolution, request, shadowDeploymentId, copyDeploymentId, deployment?.active === true ? setId : null, deployment?.predictPath);
  }

  queueFor(route: ShadowRoute, resolution: Extract<Resolution, { ok: true }>): CopyQueue {
    const key = `${resolution.modelId}\0${resolution.environment}`;
    let queue = this.#queues.get(key);
    if (queue === undefined || queue.settingsKey !== route.key) {
      // a new configuration gets a new queue; copies of the old one finish on their own
      queue = new CopyQueue(route.key);
      this.#queues.set(key, queue);
    }
    return queue;
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    this.#closed = true;
    for (const queue of this.#queues.values()) {
      for (let copy = queue.shift(); copy !== undefined; copy = queue.shift()) copy.shed();
    }
    this.#queues.clear();
  }
}

function matches(settings: ShadowSettings, request: MirroredRequest): boolean {
  const match = settings.match;
  if (match === undefined) return true;
  if (match.method !== undefined && match.method !== request.method) return false;
  if (match.path_prefix !== undefined && !request.target.startsWith(match.path_prefix)) return false;
  if (match.header !== undefined) {
    const value = request.header(match.header.name.toLowerCase());
    if (value === undefined || (match.header.value !== undefined && value !== match.header.value)) return false;
  }
  return true;
}

/** One side's answer while it arrives. */
class Capture {
  status = 0;
  readonly chunks: Buffer[] = [];
  bytes = 0;
  overflow = false;
  add(chunk: Buffer): void {
    if (this.overflow || chunk.length === 0) return;
    this.bytes += chunk.length;
    if (this.bytes > MAX_CAPTURED_ANSWER_BYTES + 64) {
      this.overflow = true;
      this.chunks.length = 0;
      return;
    }
    // the relay may reuse nothing, but a chunk can be a view of a larger read: copy what is kept
    this.chunks.push(Buffer.from(chunk));
  }
  body(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
  }
}

/**
 * One mirrored request. The primary side is told by the relay; the shadow side is run by the
 * environment's queue. Recorded once, when both sides are done (or at once when shed or skipped).
 */
export class ShadowCopy {
  readonly #mirrors: ShadowMirrors;
  readonly #route: ShadowRoute;
  readonly #resolution: Extract<Resolution, { ok: true }>;
  readonly #request: MirroredRequest;
  readonly #shadowDeploymentId: string | null;
  readonly #copyDeploymentId: string | null;
  readonly #setId: string | null;
  readonly #predictPath: string | undefined;
  readonly #routedAt = performance.now();
  readonly #primary = new Capture();
  /** the primary's body arrived with its chunked framing (the fast path relays it as is) */
  primaryChunked = false;
  #primaryLatencyMs = 0;
  #primaryDone = false;
  #primaryOk = false;
  readonly #shadow = new Capture();
  #shadowLatencyMs = 0;
  #shadowDone = false;
  #shadowOutcome: ShadowOutcome | undefined;
  #requestBody: Buffer | undefined;
  #recorded = false;
  #started = false;

  constructor(
    mirrors: ShadowMirrors,
    route: ShadowRoute,
    resolution: Extract<Resolution, { ok: true }>,
    request: MirroredRequest,
    shadowDeploymentId: string | null,
    copyDeploymentId: string | null,
    setId: string | null,
    predictPath: string | undefined,
  ) {
    this.#copyDeploymentId = copyDeploymentId;
    this.#mirrors = mirrors;
    this.#route = route;
    this.#resolution = resolution;
    this.#request = request;
    this.#shadowDeploymentId = shadowDeploymentId;
    this.#setId = setId;
    this.#predictPath = predictPath;
  }

  /** The primary's response head reached the client. */
  head(status: number): void {
    this.#primary.status = status;
  }

  /** A piece of the primary's response body as relayed to the client. */
  data(chunk: Buffer): void {
    if (!this.#recorded) this.#primary.add(chunk);
  }

  /** The primary's exchange ended: `completed` when its whole answer reached the client. */
  primaryEnded(completed: boolean): void {
    if (this.#primaryDone) return;
    this.#primaryDone = true;
    this.#primaryOk = completed && this.#primary.status !== 0;
    this.#primaryLatencyMs = performance.now() - this.#routedAt;
    if (!this.#started) {
      // the body never came (client gone before it arrived): nothing was mirrored
      this.#recorded = true;
      return;
    }
    this.#maybeRecord();
  }

  /**
   * The request body is in hand (undefined: it streams, so it cannot be copied) with the headers
   * the primary was sent — already without `authorization` and hop-by-hop fields, so a copy
   * carries no more than the primary does. Queues the copy or records why not.
   */
  start(body: Buffer | undefined, upstreamHeaders: readonly string[]): void {
    if (this.#started || this.#recorded) return;
    this.#started = true;
    const settings = this.#route.settings;
    if (this.#request.header("idempotency-key") !== undefined && !settings.mirror_non_idempotent) return this.#finish("not_idempotent");
    if (body === undefined || body.length > settings.max_body_bytes) return this.#finish("skipped_body");
    if (this.#setId === null || this.#predictPath === undefined) return this.#finish("unavailable");
    const queue = this.#mirrors.queueFor(this.#route, this.#resolution);
    this.#requestBody = body;
    this.#headers = [...upstreamHeaders, SHADOW_HEADER, "1"];
    if (queue.active < settings.max_concurrency) {
      this.#run(queue);
    } else if (queue.length < settings.max_queue) {
      queue.push(this);
    } else {
      this.#finish("shed");
    }
  }

  #headers: string[] = [];

  /** Dropped from a closing router's queue. */
  shed(): void {
    this.#finish("shed");
  }

  #run(queue: CopyQueue): void {
    queue.active++;
    const deps = this.#mirrors.deps;
    const setId = this.#setId!;
    const replica = deps.pickReplica(setId);
    const done = (outcome: ShadowOutcome | undefined): void => {
      queue.active--;
      this.#shadowOutcome = outcome;
      this.#shadowDone = true;
      this.#maybeRecord();
      const next = queue.shift();
      if (next !== undefined && !this.#mirrors.closed) next.#run(queue);
    };
    if (replica === undefined) {
      deps.wake(setId);
      done("unavailable");
      return;
    }
    deps.started(setId, replica.id);
    const settings = this.#route.settings;
    const query = this.#request.target.indexOf("?");
    const path = this.#predictPath! + (query === -1 ? "" : this.#request.target.slice(query));
    const sentAt = performance.now();
    const finished = (outcome: ShadowOutcome | undefined): void => {
      this.#shadowLatencyMs = performance.now() - sentAt;
      deps.finished(setId, replica.id);
      done(outcome);
    };
    let upstream: Dispatcher;
    try {
      upstream = deps.poolFor(replica);
    } catch {
      finished("shadow_error");
      return;
    }
    upstream
      .request({
        path,
        method: this.#request.method as Dispatcher.HttpMethod,
        headers: this.#headers,
        body: this.#requestBody!,
        headersTimeout: settings.timeout_ms,
        bodyTimeout: settings.timeout_ms,
      })
      .then(async ({ statusCode, body }) => {
        this.#shadow.status = statusCode;
        for await (const chunk of body) {
          this.#shadow.add(chunk as Buffer);
          if (this.#shadow.overflow) {
            body.destroy();
            break;
          }
        }
        finished(undefined);
      })
      .catch(() => finished("shadow_error"));
  }

  #maybeRecord(): void {
    if (this.#recorded || !this.#primaryDone || !this.#shadowDone) return;
    if (!this.#primaryOk) return this.#finish("primary_error");
    if (this.#shadowOutcome !== undefined) return this.#finish(this.#shadowOutcome);
    if (this.#primary.overflow || this.#shadow.overflow) return this.#finish("skipped_body");
    let primaryBody = this.#primary.body();
    if (this.primaryChunked) {
      const payload = dechunk(primaryBody);
      if (payload === undefined) return this.#finish("primary_error");
      primaryBody = payload;
    }
    const shadowBody = this.#shadow.body();
    const settings = this.#route.settings;
    const result = compareAnswers(
      { status: this.#primary.status, body: primaryBody },
      { status: this.#shadow.status, body: shadowBody },
      settings.comparison,
    );
    const agreed = result.statusAgrees && result.outputAgrees;
    this.#recorded = true;
    const request = this.#request;
    const requestBody = this.#requestBody!;
    this.#mirrors.deps.stats.record(this.#resolution.modelId, this.#resolution.environment!, this.#route.key, {
      outcome: agreed ? "agreed" : "disagreed",
      shadowDeploymentId: this.#shadowDeploymentId,
      compared: {
        primaryDeploymentId: this.#resolution.deploymentId,
        copyDeploymentId: this.#copyDeploymentId ?? "",
        primaryStatus: this.#primary.status,
        shadowStatus: this.#shadow.status,
        primaryLatencyMs: this.#primaryLatencyMs,
        shadowLatencyMs: this.#shadowLatencyMs,
        statusAgrees: result.statusAgrees,
        differingFields: result.differingFields,
        requestId: () => request.header("x-request-id") ?? `shadow-${randomUUID()}`,
        bodies: settings.keep_bodies ? { request: requestBody, primary: primaryBody, shadow: shadowBody } : undefined,
      },
    });
    this.#release();
  }

  #finish(outcome: ShadowOutcome): void {
    if (this.#recorded) return;
    this.#recorded = true;
    this.#mirrors.deps.stats.record(this.#resolution.modelId, this.#resolution.environment!, this.#route.key, {
      outcome,
      shadowDeploymentId: this.#shadowDeploymentId,
    });
    this.#release();
  }

  #release(): void {
    this.#primary.chunks.length = 0;
    this.#shadow.chunks.length = 0;
    this.#requestBody = undefined;
  }
}
