/**
 * The shadow mirror (issue 17): copies of an environment's predict requests sent to its shadow
 * deployment and the two answers compared, without the client's request ever waiting for it.
 *
 * Per request, both router paths ask `select` once the primary deployment is picked — one
 * `table.hasShadows` check when no environment has a shadow. A selected request gets a
 * ShadowCopy: once the request body is in hand `start` keeps it (and decides what needs no I/O:
 * skipped bodies, Idempotency-Key requests); the primary's relay tells it the status and the body
 * (`head`, `data`, `primaryEnded`). Nothing is sent to the shadow while the primary is being
 * served: when the primary's answer has been handed to the client's socket, the copy waits for
 * the next turn of the event loop (one setImmediate for every copy handed off in a turn), so the
 * copy's connect, write and parse never run between a primary's request and its answer. A copy
 * whose primary failed is not sent at all (nothing to compare; counted as primary_error).
 *
 * Each environment has its own queue: at most `max_concurrency` copies in flight to the shadow, at
 * most `max_queue` waiting; beyond that a copy is shed (counted). Copies travel on raw keep-alive
 * connections of their own per shadow replica (./copy-exchange.ts; at most `max_concurrency` of
 * them in use per environment), not on the connections that serve the replica's own traffic. When
 * a shadow's answer ends, comparing it, recording it and sending the queue's next copy wait for
 * the next turn of the event loop too (one setImmediate for all of a turn's copies, the same as
 * the hand-offs). So a slow or dead shadow costs the primary
 * nothing but the copy's bookkeeping, and memory is bounded by
 * (max_concurrency + max_queue) × (request body ≤ 64 KiB + two captured answers ≤ 64 KiB each).
 *
 * A shadow replica that cannot be reached is backed off (./backoff.ts decides): after 5 copies in
 * a row got no answer, copies to it are counted `backed_off` and not sent, for 1 s doubling to
 * 30 s, one probe copy at a time when a period ends. A set with several replicas sends to the
 * others meanwhile; only when all its ready replicas are backing off is the copy not sent.
 */
import { performance } from "node:perf_hooks";
import { randomUUID } from "node:crypto";
import type { ShadowOutcome, ShadowSettings } from "../../../sdk/schemas/shadow.js";
import type { ShadowStats } from "../../metrics/shadow-stats.js";
import { replicaSetId, type ReplicaInfo } from "../../runtime/runtime.js";
import type { Resolution } from "../pick.js";
import type { RoutingTable, ShadowRoute } from "../routing-table.js";
import type { UpstreamConnections } from "../upstream-connections.js";
import { admitCopy, copyEnded, isForgettable, SENDING, type ShadowBackoffPolicy, type ShadowTargetState } from "./backoff.js";
import { compareAnswers, dechunk } from "./compare.js";
import { CopyExchange, type CopyAnswerSink } from "./copy-exchange.js";

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
  /** a ready replica of the set, none of `avoid` (replica ids); undefined when there is none */
  pickReplica(setId: string, avoid: ReadonlySet<string> | undefined): ReplicaInfo | undefined;
  /** the back-off's clock (ms) and policy (./backoff.ts) */
  now(): number;
  backoff: ShadowBackoffPolicy;
  /** the copies' own keep-alive connections to a shadow replica (never those of its own
   * traffic); at most an environment's max_concurrency are in use by its copies at once */
  shadowConnectionsTo(replica: ReplicaInfo): UpstreamConnections;
  /** a copy found the shadow's own set scaled to zero */
  wake(setId: string): void;
  /** per-replica and per-set bookkeeping, as for any request (drains and autoscaling see copies) */
  started(setId: string, replicaId: string): void;
  finished(setId: string, replicaId: string): void;
}

/**
 * One environment's queue of copies: at most `maxConcurrency` sent at once, at most `maxQueue`
 * waiting, an array with a moving head (no O(n) shift per copy).
 */
export class CopyQueue {
  active = 0;
  readonly #waiting: (ShadowCopy | undefined)[] = [];
  #head = 0;
  #draining = false;
  constructor(
    readonly settingsKey: string,
    readonly maxConcurrency: number,
    readonly maxQueue: number,
  ) {}
  get length(): number {
    return this.#waiting.length - this.#head;
  }
  /** Sends the copy, queues it, or sheds it when the queue is full. */
  admit(copy: ShadowCopy): void {
    if (this.active < this.maxConcurrency) {
      copy.send(this);
    } else if (this.length < this.maxQueue) {
      this.#waiting.push(copy);
    } else {
      copy.shed();
    }
  }
  /** Sends waiting copies while there is room. A loop, not a recursion: a copy that ends at once
   * (no replica) would otherwise nest one call per waiting copy. */
  drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.active < this.maxConcurrency) {
        const copy = this.shift();
        if (copy === undefined) break;
        copy.send(this);
      }
    } finally {
      this.#draining = false;
    }
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

/** Where a copy goes: a replica, and whether it is the probe after a back-off. */
export interface CopyTarget {
  replica: ReplicaInfo;
  probe: boolean;
}

export class ShadowMirrors {
  readonly #queues = new Map<string, CopyQueue>();
  /** the back-off state of each shadow replica something went wrong with, by replica id (the
   * url too: a replica id with a new url is a new process, tried afresh) */
  readonly #targets = new Map<string, { url: string; state: ShadowTargetState }>();
  #closed = false;
  /** copies whose primary answer was handed off during this turn of the event loop */
  #handedOff: ShadowCopy[] = [];
  /** copies whose shadow answer ended during this turn: compared and recorded on the next */
  #answered: ShadowCopy[] = [];
  #turnScheduled = false;
  readonly #nextTurn = (): void => this.#runTurn();

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
      queue = new CopyQueue(route.key, route.settings.max_concurrency, route.settings.max_queue);
      this.#queues.set(key, queue);
    }
    return queue;
  }

  /**
   * The replica of the set a copy goes to now: one not backing off (a probe when its period just
   * ended), or `backed_off` when every ready replica of the set is, or undefined when the set has
   * no ready replica at all.
   */
  pickTarget(setId: string): CopyTarget | "backed_off" | undefined {
    const now = this.deps.now();
    const avoid = this.#backingOff(now);
    const replica = this.deps.pickReplica(setId, avoid);
    if (replica === undefined) {
      if (avoid !== undefined && this.deps.pickReplica(setId, undefined) !== undefined) return "backed_off";
      return undefined;
    }
    const target = this.#targets.get(replica.id);
    if (target === undefined) return { replica, probe: false };
    if (target.url !== replica.url) {
      this.#targets.delete(replica.id);
      return { replica, probe: false };
    }
    const { admission, next } = admitCopy(target.state, now);
    target.state = next;
    if (admission === "back_off") return "backed_off";
    return { replica, probe: admission === "probe" };
  }

  /** A copy sent to `replica` ended: answered (any status), or not (refused, reset, timed out, cut). */
  copyEnded(target: CopyTarget, answered: boolean): void {
    const { replica, probe } = target;
    let entry = this.#targets.get(replica.id);
    if (entry === undefined || entry.url !== replica.url) {
      if (answered) return; // nothing went wrong with it: nothing to keep
      entry = { url: replica.url, state: SENDING };
      this.#targets.set(replica.id, entry);
    }
    const now = this.deps.now();
    entry.state = copyEnded(entry.state, answered ? { kind: "answered" } : { kind: "failed", probe }, now, this.deps.backoff);
    if (isForgettable(entry.state, now, this.deps.backoff)) this.#targets.delete(replica.id);
  }

  /** The replicas no copy may go to now (undefined: none, the usual case — no set is built). */
  #backingOff(now: number): Set<string> | undefined {
    if (this.#targets.size === 0) return undefined;
    let avoid: Set<string> | undefined;
    for (const [replicaId, { state }] of this.#targets) {
      if (isForgettable(state, now, this.deps.backoff)) {
        this.#targets.delete(replicaId);
      } else if (admitCopy(state, now).admission === "back_off") {
        (avoid ??= new Set()).add(replicaId);
      }
    }
    return avoid;
  }

  /**
   * The copy's primary answer reached the client's socket: the copy is sent on the next turn of
   * the event loop, after the I/O of this one (other primaries' requests and answers among it).
   */
  primaryHandedOff(copy: ShadowCopy): void {
    this.#handedOff.push(copy);
    this.#scheduleTurn();
  }

  /**
   * The copy's shadow answer ended: it is compared and recorded, and its queue's next copy sent,
   * on the next turn of the event loop too — never between a primary's request and its answer
   * that arrived in the same turn as the shadow's answer.
   */
  shadowAnswered(copy: ShadowCopy): void {
    this.#answered.push(copy);
    this.#scheduleTurn();
  }

  /** One setImmediate for all the copies of a turn, not one per copy. */
  #scheduleTurn(): void {
    if (this.#turnScheduled) return;
    this.#turnScheduled = true;
    setImmediate(this.#nextTurn);
  }

  #runTurn(): void {
    this.#turnScheduled = false;
    const answered = this.#answered;
    const handedOff = this.#handedOff;
    if (answered.length > 0) this.#answered = [];
    if (handedOff.length > 0) this.#handedOff = [];
    // answers first: their slots are free again for the copies handed off
    for (const copy of answered) copy.record();
    for (const copy of handedOff) copy.enqueue();
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    this.#closed = true;
    for (const copy of this.#answered.splice(0)) copy.record();
    for (const copy of this.#handedOff.splice(0)) copy.shed();
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
  /** the body arrives with its chunked framing (passed on raw: removed only to compare) */
  chunked = false;
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
  /** the body as compared (undefined: malformed chunked framing) */
  body(): Buffer | undefined {
    const raw = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.bytes);
    return this.chunked ? dechunk(raw) : raw;
  }
}

/**
 * One mirrored request. The primary side is told by the relay; the shadow side is run by the
 * environment's queue. Recorded once, when both sides are done (or at once when shed or skipped).
 */
export class ShadowCopy implements CopyAnswerSink {
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
  #primaryLatencyMs = 0;
  #primaryDone = false;
  #primaryOk = false;
  readonly #shadow = new Capture();
  #shadowLatencyMs = 0;
  #sentAt = 0;
  #shadowOutcome: ShadowOutcome | undefined;
  /** while the copy is sent: its queue (a slot held) and where it went */
  #queue: CopyQueue | undefined;
  #target: CopyTarget | undefined;
  #requestBody: Buffer | undefined;
  /** the request's forwarded field lines (`name: value\r\n` each), the shadow marker appended */
  #fields = "";
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

  /** The primary's response head reached the client; `chunked`: its body is relayed with the framing. */
  head(status: number, chunked = false): void {
    this.#primary.status = status;
    this.#primary.chunked = chunked;
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
    if (this.#recorded) return; // decided at start (skipped, not idempotent, unavailable)
    // a failed primary leaves nothing to compare: the shadow is spared the copy
    if (!this.#primaryOk) return this.#finish("primary_error");
    this.#mirrors.primaryHandedOff(this);
  }

  /**
   * The request body is in hand (undefined: it streams, so it cannot be copied) with the field
   * lines the primary was sent (`name: value\r\n` each) — already without `authorization`,
   * `host`, `content-length` and hop-by-hop fields, so a copy carries no more than the primary
   * does. Keeps them for the copy, or records why there is none; sends nothing (see `primaryEnded`).
   */
  start(body: Buffer | undefined, fields: string): void {
    if (this.#started || this.#recorded) return;
    this.#started = true;
    const settings = this.#route.settings;
    if (!settings.mirror_non_idempotent && this.#request.header("idempotency-key") !== undefined) return this.#finish("not_idempotent");
    if (body === undefined || body.length > settings.max_body_bytes) return this.#finish("skipped_body");
    if (this.#setId === null || this.#predictPath === undefined) return this.#finish("unavailable");
    this.#requestBody = body;
    this.#fields = `${fields}${SHADOW_HEADER}: 1\r\n`;
  }

  /** Its turn came after the primary's answer was handed off: into its environment's queue. */
  enqueue(): void {
    if (this.#recorded) return;
    if (this.#mirrors.closed) return this.#finish("shed");
    this.#mirrors.queueFor(this.#route, this.#resolution).admit(this);
  }

  /** Past its queue's bound, or dropped from a closing router's queue. */
  shed(): void {
    this.#finish("shed");
  }

  /** Sends the copy to a shadow replica (called by its queue, which has room for it). */
  send(queue: CopyQueue): void {
    if (this.#mirrors.closed) return this.#finish("shed");
    const deps = this.#mirrors.deps;
    const setId = this.#setId!;
    const target = this.#mirrors.pickTarget(setId);
    if (target === undefined) {
      deps.wake(setId);
      return this.#finish("unavailable");
    }
    if (target === "backed_off") return this.#finish("backed_off");
    const { replica } = target;
    let connections: UpstreamConnections;
    try {
      connections = deps.shadowConnectionsTo(replica);
    } catch {
      return this.#finish("shadow_error");
    }
    queue.active++;
    this.#queue = queue;
    this.#target = target;
    deps.started(setId, replica.id);
    const query = this.#request.target.indexOf("?");
    const path = query === -1 ? this.#predictPath! : this.#predictPath! + this.#request.target.slice(query);
    this.#sentAt = performance.now();
    new CopyExchange(this, this.#route.settings.timeout_ms).send(connections, this.#request.method, path, this.#fields, this.#requestBody!);
  }

  answerHead(status: number, chunked: boolean): void {
    this.#shadow.status = status;
    this.#shadow.chunked = chunked;
  }

  answerData(chunk: Buffer): boolean {
    this.#shadow.add(chunk);
    // too large to compare: the rest is not read (the answer counts as given: skipped_body)
    return !this.#shadow.overflow;
  }

  answerEnded(answered: boolean): void {
    this.#shadowLatencyMs = performance.now() - this.#sentAt;
    const target = this.#target!;
    this.#mirrors.deps.finished(this.#setId!, target.replica.id);
    this.#mirrors.copyEnded(target, answered);
    this.#shadowOutcome = answered ? undefined : "shadow_error";
    // compared, recorded and the queue's slot given on on the next turn of the event loop
    this.#mirrors.shadowAnswered(this);
  }

  /** The shadow's answer ended (shadowAnswered): frees the copy's slot, compares and records. */
  record(): void {
    const queue = this.#queue!;
    this.#queue = undefined;
    queue.active--;
    this.#compareAndRecord();
    if (!this.#mirrors.closed) queue.drain();
  }

  #compareAndRecord(): void {
    if (this.#recorded) return;
    if (!this.#primaryOk) return this.#finish("primary_error");
    if (this.#shadowOutcome !== undefined) return this.#finish(this.#shadowOutcome);
    if (this.#primary.overflow || this.#shadow.overflow) return this.#finish("skipped_body");
    const primaryBody = this.#primary.body();
    if (primaryBody === undefined) return this.#finish("primary_error");
    const shadowBody = this.#shadow.body();
    if (shadowBody === undefined) return this.#finish("shadow_error");
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
