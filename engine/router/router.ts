import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Pool } from "undici";
import type { AccessDecision } from "../auth/access-rules.js";
import { CLIENT_CLOSED_REQUEST, RequestTiming, type RequestMetrics } from "../metrics/request-metrics.js";
import type { ReplicaInfo, Runtime } from "../runtime/runtime.js";
import { parseDataPlaneUrl, type DataPlaneTarget } from "./data-plane-path.js";
import { sendError } from "./error-response.js";
import { FastPath, type FastPathCore } from "./fast-path.js";
import { InFlightCounts } from "./in-flight-counts.js";
import { DEPLOYMENT_ID_HEADER, forward, readSmallBody, upstreamRequestHeaders } from "./forward.js";
import { pickReplica, resolveTarget, type Resolution } from "./pick.js";
import type { RoutingTable } from "./routing-table.js";
import { ShadowStats } from "../metrics/shadow-stats.js";
import { SHADOW_BACKOFF, type ShadowBackoffPolicy } from "./shadow/backoff.js";
import { ShadowMirrors, type MirroredRequest, type ShadowCopy } from "./shadow/mirror.js";
import { UpstreamConnections } from "./upstream-connections.js";

/** Who may call a predict target, from the request's Authorization value (undefined without
 * one); the engine's is AccessView.authorizePredict. Asked before anything else happens to a
 * request: no routing, no wake-up, no autoscaling signal for a caller it turns away. */
export type AuthorizePredict = (target: DataPlaneTarget, authorization: string | undefined) => AccessDecision;

export interface RouterOptions {
  table: RoutingTable;
  authorize: AuthorizePredict;
  runtime: Pick<Runtime, "readyReplicas" | "observe" | "onChange">;
  /** The per-replica request counts this router keeps (the runtime drains on them); made at the
   * composition root and given to the runtime too. Default: a new one. */
  inFlight?: InFlightCounts;
  /** How long a request is held while its deployment wakes up. Default 60 s. */
  wakeTimeoutMs?: number;
  /** Other replicas tried when one refuses the connection (a replica that just died). Default 2. */
  maxConnectRetries?: number;
  /** [0, 1) source for the canary split; Math.random by default. */
  rand?: () => number;
  /** undici Pool options per replica (connections, keep-alive, timeouts), for the requests
   * node:http serves (large and chunked bodies, requests held while a deployment wakes). */
  poolOptions?: Pool.Options;
  /** Idle time after which the fast path closes a client's keep-alive connection. Default 5 s. */
  keepAliveTimeoutMs?: number;
  /** How long a replica may stay silent — before its response head, or between two pieces of its
   * body — before the request is given up: 504 if nothing was sent yet, else the response is cut.
   * Default 300 s (undici's own defaults). */
  replicaTimeoutMs?: number;
  /** The fast path's limits on slow clients, as node:http's headersTimeout and requestTimeout:
   * the request head within 60 s, the whole request within 300 s (408 and close otherwise). */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Counts and times every predict request on both paths (engine/metrics); none when undefined
   * (only the router bench leaves it out, to measure what it costs). */
  metrics?: RequestMetrics;
  /** where the environments' shadows are counted (engine/metrics/shadow-stats.ts); default: a new one */
  shadowStats?: ShadowStats;
  /** when copies to an unreachable shadow replica stop (engine/router/shadow/backoff.ts); default
   * SHADOW_BACKOFF (5 failures in a row; 1 s doubling to 30 s) */
  shadowBackoff?: ShadowBackoffPolicy;
  /** milliseconds, for the shadow back-off; default performance.now (tests move time themselves) */
  clock?: () => number;
}

export interface Router {
  /** Serves the request if its path is a data-plane path (true), else leaves it alone (false). */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Serves a new client connection on the fast path (see fast-path.ts) until a request it does
   * not take arrives; then `handOff` gives the connection, that request unread, to the node:http
   * server whose handler calls `handle`. */
  acceptConnection(socket: Socket, handOff: (socket: Socket) => void): void;
  /** Requests being forwarded to a replica right now (the runtime drains on this). */
  inFlight(replicaId: string): number;
  /** Requests for a replica set right now, including those held while it wakes (the
   * autoscaler's load signal). */
  inFlightForSet(replicaSetId: string): number;
  /** Requests ever received for a replica set (monotonic), so a sampler can tell that traffic
   * arrived between two samples even if none was in flight at either. */
  requestsForSet(replicaSetId: string): number;
  /** The sets with requests in flight now (the load report samples only these: idle sets cost nothing). */
  setsInFlight(): Iterable<string>;
  /** The sets that ever received a request (where the load report looks for new arrivals). */
  setsWithRequests(): Iterable<string>;
  /** Calls `listener` with the set of every request that arrives (the autoscaler wakes idle sets
   * on it); it must be cheap and must not throw. Returns the unsubscribe function. */
  onArrival(listener: (replicaSetId: string) => void): () => void;
  /** A request reached an active deployment whose replica set has no ready replica (scaled to
   * zero): the listener should scale it up. Called once per held request; must be idempotent and
   * must not throw. Returns the unsubscribe function. */
  onWake(listener: (replicaSetId: string) => void): () => void;
  /** Engine shutdown begins: answers say `connection: close`; idle client connections are closed
   * once they stay idle `idleGraceMs` (see FastPath.close). The router keeps routing meanwhile. */
  drainConnections(idleGraceMs: number): void;
  close(): Promise<void>;
}

/** `stalled`: the set has no ready replica and none asked for (a promotion scaled it to 0 or removed it). */
type WakeOutcome = "ready" | "failing" | "stalled" | "timeout" | "gone" | "closed";

interface Waiter {
  settle(outcome: WakeOutcome): void;
}

/** One predict request on its way to a replica. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  deploymentId: string;
  replicaSetId: string;
  /** what the client asked for, to route a held request again */
  target: DataPlaneTarget;
  query: string;
  /** path and query on the replica */
  path: string;
  headers: string[];
  /** collected small body, or undefined when the body streams from req */
  body: Buffer | undefined;
  /** the environment's shadow copy of this request, told the primary's answer */
  shadow: ShadowCopy | undefined;
  /** the request's clock and series (metrics) */
  timing: RequestTiming | undefined;
}

/** How the router reaches one replica: raw keep-alive connections for the fast path, an undici
 * Pool for what node:http serves, and raw connections of their own for shadow copies sent to it;
 * each made at first use. */
interface ReplicaPool {
  replicaSetId: string;
  url: string;
  pool: Pool | undefined;
  connections: UpstreamConnections | undefined;
  /** shadow copies' own keep-alive connections (engine/router/shadow/mirror.ts): a slow or dead
   * shadow holds these, never the replica's other connections; those in use are bounded by the
   * shadowing environments' max_concurrency */
  shadowConnections: UpstreamConnections | undefined;
}

/**
 * The data plane, on the engine's single port in two parts: `acceptConnection`, the fast path
 * every connection starts on (fast-path.ts: raw sockets, the common predict request), and
 * `handle`, mounted in the engine's node:http server (`if (router.handle(req, res)) return;`
 * before the management API) for what the fast path hands over: large and chunked bodies,
 * requests held while a deployment wakes, 404s, anything unusual. Both share the routing
 * decisions and the in-flight counters. Everything needed per request is in memory: the routing
 * table, the runtime's ready replicas and those counters.
 */
export function createRouter(options: RouterOptions): Router {
  const { table, runtime, authorize, metrics } = options;
  const wakeListeners = new Set<(replicaSetId: string) => void>();
  const onWake = (replicaSetId: string): void => {
    for (const listener of wakeListeners) listener(replicaSetId);
  };
  const wakeTimeoutMs = options.wakeTimeoutMs ?? 60_000;
  const maxConnectRetries = options.maxConnectRetries ?? 2;
  const rand = options.rand ?? Math.random;
  const replicaTimeoutMs = options.replicaTimeoutMs ?? 300_000;
  const poolOptions: Pool.Options = { keepAliveTimeout: 10_000, headersTimeout: replicaTimeoutMs, bodyTimeout: replicaTimeoutMs, ...options.poolOptions };

  const inFlightByReplica = options.inFlight ?? new InFlightCounts();
  const inFlightBySet = new Map<string, number>();
  const requestsBySet = new Map<string, number>();
  const arrivalListeners = new Set<(replicaSetId: string) => void>();
  const arrived = (replicaSetId: string): void => {
    increment(requestsBySet, replicaSetId);
    for (const listener of arrivalListeners) listener(replicaSetId);
  };
  const rotationBySet = new Map<string, number>();
  const pools = new Map<string, ReplicaPool>();
  const waiters = new Map<string, Set<Waiter>>();
  let closed = false;

  const inFlight = (replicaId: string): number => inFlightByReplica.inFlight(replicaId);

  const unsubscribe = runtime.onChange((replicaSetId) => {
    closeStalePools(replicaSetId);
    const waiting = waiters.get(replicaSetId);
    if (waiting === undefined) return;
    if (runtime.readyReplicas(replicaSetId).length > 0) {
      for (const waiter of waiting) waiter.settle("ready");
    } else {
      const observation = runtime.observe(replicaSetId);
      if (observation.failing) for (const waiter of waiting) waiter.settle("failing");
      else if (observation.desired === 0) for (const waiter of waiting) waiter.settle("stalled");
    }
  });

  /** A replica that left the ready set gets no new request: close its pool once the requests
   * already on it finish (Pool.close is graceful). */
  function closeStalePools(replicaSetId: string): void {
    let readyIds: Set<string> | undefined;
    for (const [replicaId, entry] of pools) {
      if (entry.replicaSetId !== replicaSetId) continue;
      readyIds ??= new Set(runtime.readyReplicas(replicaSetId).map((replica) => replica.id));
      if (readyIds.has(replicaId)) continue;
      pools.delete(replicaId);
      void closeReplicaPool(entry);
    }
  }

  function closeReplicaPool(entry: ReplicaPool): Promise<void> {
    entry.connections?.close();
    entry.shadowConnections?.close();
    return entry.pool?.close().catch(() => undefined) ?? Promise.resolve();
  }

  function replicaPool(replica: ReplicaInfo): ReplicaPool {
    let entry = pools.get(replica.id);
    if (entry === undefined || entry.url !== replica.url) {
      if (entry !== undefined) void closeReplicaPool(entry);
      entry = { replicaSetId: replica.replicaSetId, url: replica.url, pool: undefined, connections: undefined, shadowConnections: undefined };
      pools.set(replica.id, entry);
    }
    return entry;
  }

  function poolFor(replica: ReplicaInfo): Pool {
    const entry = replicaPool(replica);
    return (entry.pool ??= new Pool(replica.url, poolOptions));
  }

  /** Copies to one shadow replica: keep-alive connections of their own. Several environments
   * shadowed by one replica share them; each environment's queue keeps at most its
   * max_concurrency in use. */
  function shadowConnectionsTo(replica: ReplicaInfo): UpstreamConnections {
    const entry = replicaPool(replica);
    return (entry.shadowConnections ??= new UpstreamConnections(replica.url));
  }

  const mirrors = new ShadowMirrors({
    table,
    stats: options.shadowStats ?? new ShadowStats(),
    rand,
    pickReplica: pickReadyReplica,
    now: options.clock ?? (() => performance.now()),
    backoff: options.shadowBackoff ?? SHADOW_BACKOFF,
    shadowConnectionsTo,
    wake: onWake,
    started(setId, replicaId) {
      inFlightByReplica.started(replicaId);
      increment(inFlightBySet, setId);
      arrived(setId);
    },
    finished(setId, replicaId) {
      inFlightByReplica.finished(replicaId);
      decrement(inFlightBySet, setId);
    },
  });

  const fastPath = new FastPath(
    {
      route(method, target, authorization, fields, socket) {
        if (method !== "POST") return undefined;
        const parsed = parseDataPlaneUrl(target);
        if (parsed === undefined) return undefined;
        let routed = parsed.target;
        if (table.hasHeaderRouting) {
          const chosen = headerRoutedTarget(table, routed, fastPathRequest(method, target, fields).header);
          // a refused value goes to node:http, which answers the 403
          if (!("kind" in chosen)) return undefined;
          routed = chosen;
        }
        // Turned away callers go to node:http, which checks again and answers 401/403.
        if (!authorize(routed, authorization).ok) return undefined;
        const resolution = resolveTarget(table, routed, rand);
        if (!resolution.ok) return undefined;
        if (runtime.readyReplicas(resolution.replicaSetId).length === 0) {
          // node:http holds it until the set is ready; with the deployment picked here, or the
          // split would be drawn twice (and lean to whatever is ready: an engine restarted mid-
          // promotion sent the candidate ~25 % of the requests of a 50 % split while it was cold)
          if (routed.kind === "environment") pickedBeforeHandOff.set(socket, { key: environmentTargetKey(routed), resolution });
          return undefined;
        }
        return {
          deploymentId: resolution.deploymentId,
          replicaSetId: resolution.replicaSetId,
          path: resolution.deployment.predictPath + parsed.query,
          series: metrics?.seriesFor(resolution),
          // the one check the fast path pays while no environment has a shadow
          shadow: table.hasShadows ? mirrors.select(resolution, fastPathRequest(method, target, fields)) : undefined,
        };
      },
      pickReplica: pickReadyReplica,
      connectionsTo(replica) {
        const entry = replicaPool(replica);
        return (entry.connections ??= new UpstreamConnections(replica.url));
      },
      requestStarted(replicaSetId) {
        increment(inFlightBySet, replicaSetId);
        arrived(replicaSetId);
      },
      requestFinished: (replicaSetId) => decrement(inFlightBySet, replicaSetId),
      replicaStarted: (replicaId) => inFlightByReplica.started(replicaId),
      replicaFinished: (replicaId) => inFlightByReplica.finished(replicaId),
      maxConnectRetries,
    } satisfies FastPathCore,
    {
      replicaTimeoutMs,
      ...(options.keepAliveTimeoutMs !== undefined ? { keepAliveTimeoutMs: options.keepAliveTimeoutMs } : {}),
      ...(options.headersTimeoutMs !== undefined ? { headersTimeoutMs: options.headersTimeoutMs } : {}),
      ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    },
  );

  /** The deployment the fast path picked for a connection's next request before handing it to node:http. */
  const pickedBeforeHandOff = new WeakMap<Socket, { key: string; resolution: Resolution }>();

  /** The fast path's pick for this request (once), if it was for the same target. */
  function pickedOnFastPath(socket: Socket, target: DataPlaneTarget): Resolution | undefined {
    const picked = pickedBeforeHandOff.get(socket);
    if (picked === undefined) return undefined;
    pickedBeforeHandOff.delete(socket);
    return target.kind === "environment" && picked.key === environmentTargetKey(target) ? picked.resolution : undefined;
  }

  /** Least in flight among the set's ready replicas, skipping those that refused. */
  function pickReadyReplica(replicaSetId: string, refused: ReadonlySet<string> | undefined): ReplicaInfo | undefined {
    const ready = runtime.readyReplicas(replicaSetId);
    const candidates = refused === undefined ? ready : ready.filter((replica) => !refused.has(replica.id));
    const rotation = rotationBySet.get(replicaSetId) ?? 0;
    rotationBySet.set(replicaSetId, rotation + 1);
    return pickReplica(candidates, inFlight, rotation);
  }

  function increment(counts: Map<string, number>, key: string): void {
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }

  function decrement(counts: Map<string, number>, key: string): void {
    const count = (counts.get(key) ?? 0) - 1;
    if (count > 0) counts.set(key, count);
    else counts.delete(key);
  }

  function handle(req: IncomingMessage, res: ServerResponse): boolean {
    const parsed = parseDataPlaneUrl(req.url ?? "/");
    if (parsed === undefined) return false;
    const { authorization } = req.headers;
    let routed = parsed.target;
    if (table.hasHeaderRouting) {
      const chosen = headerRoutedTarget(table, routed, nodeRequest(req).header);
      if (!("kind" in chosen)) {
        metrics?.reject("forbidden");
        req.resume();
        sendError(res, chosen.code, chosen.message);
        return true;
      }
      routed = chosen;
    }
    const access = authorize(routed, authorization);
    if (!access.ok) {
      metrics?.reject(access.code === "UNAUTHORIZED" ? "unauthorized" : "forbidden");
      req.resume();
      sendError(res, access.code, access.message, access.code === "UNAUTHORIZED" ? { "www-authenticate": 'Api-Key, Bearer realm="modelplane"' } : {});
      return true;
    }
    if (req.method !== "POST") {
      metrics?.reject("method_not_allowed");
      req.resume();
      sendError(res, "METHOD_NOT_ALLOWED", "predict endpoints accept POST only", { allow: "POST" });
      return true;
    }
    serve(req, res, routed, parsed.query);
    return true;
  }

  function serve(req: IncomingMessage, res: ServerResponse, target: DataPlaneTarget, query: string): void {
    const resolution = pickedOnFastPath(req.socket, target) ?? resolveTarget(table, target, rand);
    if (!resolution.ok) {
      metrics?.reject("not_found");
      req.resume();
      sendError(res, "NOT_FOUND", resolution.message);
      return;
    }
    const { deploymentId, replicaSetId } = resolution;
    const timing = metrics === undefined ? undefined : new RequestTiming(metrics.seriesFor(resolution));
    const shadow = table.hasShadows ? mirrors.select(resolution, nodeRequest(req)) : undefined;
    increment(inFlightBySet, replicaSetId);
    arrived(replicaSetId);
    // A pipelined request's response waits its turn without a socket; if the connection dies
    // first, that response never emits 'close': the socket's 'close' ends the count then.
    const { socket } = req;
    const finished = (): void => {
      res.off("close", finished);
      socket.off("close", finished);
      decrement(inFlightBySet, replicaSetId);
      timing?.end(res.headersSent ? res.statusCode : CLIENT_CLOSED_REQUEST);
      shadow?.primaryEnded(res.writableFinished);
    };
    res.once("close", finished);
    socket.once("close", finished);

    const path = resolution.deployment.predictPath + query;
    const headers = upstreamRequestHeaders(req.rawHeaders, req.headers.connection);
    readSmallBody(req, (body, error) => {
      if (error !== undefined) {
        res.destroy(); // the client broke off its upload
        return;
      }
      shadow?.start(body, shadow === undefined ? "" : fieldLines(headers));
      const exchange: Exchange = { req, res, deploymentId, replicaSetId, target, query, path, headers, body, timing, shadow };
      if (runtime.readyReplicas(replicaSetId).length > 0) {
        dispatch(exchange, 0, undefined);
        return;
      }
      void wakeThenDispatch(exchange, resolution.modelId);
    });
  }

  async function wakeThenDispatch(exchange: Exchange, modelId: string): Promise<void> {
    const { req, res } = exchange;
    let outcome: WakeOutcome;
    for (;;) {
      onWake(exchange.replicaSetId);
      outcome = runtime.observe(exchange.replicaSetId).failing ? "failing" : await waitForReady(exchange.replicaSetId, res);
      if (outcome !== "stalled") break;
      // The set this request waited for went to 0 without being woken: a promotion took it away
      // (scaled down, or removed once the environment moved on). An environment request is routed
      // again, to whatever serves the environment now; any other one waits on.
      if (exchange.target.kind !== "environment") continue;
      const resolution = resolveTarget(table, exchange.target, rand);
      if (!resolution.ok) {
        req.resume();
        sendError(res, "NOT_FOUND", resolution.message);
        return;
      }
      exchange.deploymentId = resolution.deploymentId;
      exchange.replicaSetId = resolution.replicaSetId;
      if (exchange.timing !== undefined && metrics !== undefined) exchange.timing.series = metrics.seriesFor(resolution);
      exchange.path = resolution.deployment.predictPath + exchange.query;
      if (runtime.readyReplicas(exchange.replicaSetId).length > 0) {
        outcome = "ready";
        break;
      }
    }
    const { deploymentId } = exchange;
    const deploymentHeader = { [DEPLOYMENT_ID_HEADER]: deploymentId };
    if (outcome === "gone") return;
    if (outcome === "failing") {
      req.resume();
      sendError(res, "UNAVAILABLE", `deployment "${deploymentId}" is failing: its replicas crash or never become ready`, deploymentHeader);
      return;
    }
    if (outcome === "closed") {
      req.resume();
      sendError(res, "UNAVAILABLE", "the engine is shutting down", deploymentHeader);
      return;
    }
    if (outcome === "timeout") {
      req.resume();
      sendError(res, "UNAVAILABLE", `deployment "${deploymentId}" has no ready replica after ${wakeTimeoutMs / 1000} s`, deploymentHeader);
      return;
    }
    // Deactivated or deleted while the request was held.
    if (table.deployment(modelId, deploymentId)?.active !== true) {
      req.resume();
      sendError(res, "NOT_FOUND", `deployment "${deploymentId}" of model "${modelId}" is no longer active`);
      return;
    }
    dispatch(exchange, 0, undefined);
  }

  function waitForReady(replicaSetId: string, res: ServerResponse): Promise<WakeOutcome> {
    if (closed) return Promise.resolve("closed");
    return new Promise((resolve) => {
      let waiting = waiters.get(replicaSetId);
      if (waiting === undefined) {
        waiting = new Set();
        waiters.set(replicaSetId, waiting);
      }
      const waiter: Waiter = {
        settle(outcome) {
          clearTimeout(timer);
          res.off("close", onClientGone);
          waiting.delete(waiter);
          if (waiting.size === 0) waiters.delete(replicaSetId);
          resolve(outcome);
        },
      };
      const onClientGone = (): void => waiter.settle("gone");
      const timer = setTimeout(() => waiter.settle("timeout"), wakeTimeoutMs);
      res.once("close", onClientGone);
      waiting.add(waiter);
    });
  }

  function dispatch(exchange: Exchange, attempt: number, refusedBy: Set<string> | undefined): void {
    const { req, res, deploymentId, replicaSetId } = exchange;
    const replica = pickReadyReplica(replicaSetId, refusedBy);
    if (replica === undefined) {
      req.resume();
      sendError(res, "BAD_GATEWAY", `no replica of deployment "${deploymentId}" accepted the connection`, {
        [DEPLOYMENT_ID_HEADER]: deploymentId,
      });
      return;
    }
    inFlightByReplica.started(replica.id);
    forward({ ...exchange, upstream: poolFor(replica), capture: exchange.shadow }, (outcome) => {
      inFlightByReplica.finished(replica.id);
      if (outcome !== "refused") return;
      // Nothing reached the replica (it is probably dying and not yet marked so): another one can
      // take the request, as long as the body is in hand or was not consumed.
      const bodyReplayable = exchange.body !== undefined || !req.readableDidRead;
      if (attempt < maxConnectRetries && bodyReplayable && !res.destroyed) {
        const refused = refusedBy ?? new Set<string>();
        refused.add(replica.id);
        dispatch(exchange, attempt + 1, refused);
      } else {
        req.resume();
        sendError(res, "BAD_GATEWAY", `the replicas of deployment "${deploymentId}" refused the connection`, {
          [DEPLOYMENT_ID_HEADER]: deploymentId,
        });
      }
    });
  }

  async function close(): Promise<void> {
    closed = true;
    mirrors.close();
    unsubscribe();
    fastPath.close();
    for (const waiting of waiters.values()) for (const waiter of waiting) waiter.settle("closed");
    const closing = [...pools.values()].map(closeReplicaPool);
    pools.clear();
    await Promise.all(closing);
  }

  return {
    handle,
    acceptConnection: (socket, handOff) => fastPath.accept(socket, handOff),
    drainConnections: (idleGraceMs) => fastPath.close(idleGraceMs),
    inFlight,
    inFlightForSet: (replicaSetId) => inFlightBySet.get(replicaSetId) ?? 0,
    requestsForSet: (replicaSetId) => requestsBySet.get(replicaSetId) ?? 0,
    setsInFlight: () => inFlightBySet.keys(),
    setsWithRequests: () => requestsBySet.keys(),
    onArrival(listener) {
      arrivalListeners.add(listener);
      return () => arrivalListeners.delete(listener);
    },
    onWake(listener) {
      wakeListeners.add(listener);
      return () => wakeListeners.delete(listener);
    },
    close,
  };
}

/** What an environment request's pick depends on besides the table: which environment, and whether header routing asked for the candidate. */
function environmentTargetKey(target: Extract<DataPlaneTarget, { kind: "environment" }>): string {
  return `${target.modelId}\n${target.envName}\n${target.candidate === true ? "candidate" : ""}`;
}

/**
 * Header routing (sdk/schemas/header-routing.ts): the target a request to an environment with
 * header routing asks for — the candidate (the same environment, flagged), an allowed deployment
 * (its per-deployment target, so the key scopes of that endpoint apply), the target as it was
 * (no header or cookie), or a 403 for a value the environment does not allow.
 */
export function headerRoutedTarget(
  table: RoutingTable,
  target: DataPlaneTarget,
  header: (name: string) => string | undefined,
): DataPlaneTarget | Extract<AccessDecision, { ok: false }> {
  if (target.kind !== "environment") return target;
  const routing = table.headerRouting(target.modelId, target.envName);
  if (routing === undefined) return target;
  let value = header(routing.header.toLowerCase());
  if (value === undefined && routing.cookie !== undefined) value = cookieValue(header("cookie"), routing.cookie);
  if (value === undefined || value === "") return target;
  if (value === "candidate") return { ...target, candidate: true };
  if (routing.allowed_deployments.includes(value)) return { kind: "deployment", modelId: target.modelId, deploymentId: value };
  return {
    ok: false,
    code: "FORBIDDEN",
    message: `environment "${target.envName}" does not route "${value.slice(0, 64)}" by header: use "candidate" or a deployment in its header_routing.allowed_deployments`,
  };
}

/** A cookie's value from a Cookie header ("a=1; b=2"), undefined when absent. */
function cookieValue(cookies: string | undefined, name: string): string | undefined {
  if (cookies === undefined) return undefined;
  for (const pair of cookies.split(";")) {
    const equals = pair.indexOf("=");
    if (equals !== -1 && pair.slice(0, equals).trim() === name) return pair.slice(equals + 1).trim();
  }
  return undefined;
}

/** A fast-path request as the shadow's match sees it; its fields are looked at only when asked. */
function fastPathRequest(method: string, target: string, fields: string): MirroredRequest {
  return { method, target, header: (name) => fieldValue(fields, name) };
}

/** A field's value in `name: value\r\n` lines (`name` lowercase); undefined when absent. Only a
 * line whose name has the length asked is sliced: no array of lines per lookup. */
export function fieldValue(fields: string, name: string): string | undefined {
  for (let start = 0; start < fields.length; ) {
    let end = fields.indexOf("\r\n", start);
    if (end === -1) end = fields.length;
    const colon = fields.indexOf(":", start);
    if (colon !== -1 && colon < end && colon - start === name.length && fields.slice(start, colon).toLowerCase() === name) {
      return fields.slice(colon + 1, end).trim();
    }
    start = end + 2;
  }
  return undefined;
}

/** node:http's forwarded headers as the `name: value\r\n` lines a shadow copy carries (its own
 * content-length is written with it). */
function fieldLines(headers: readonly string[]): string {
  let lines = "";
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() === "content-length") continue;
    lines += `${headers[i]}: ${headers[i + 1]}\r\n`;
  }
  return lines;
}

function nodeRequest(req: IncomingMessage): MirroredRequest {
  return {
    method: req.method ?? "POST",
    target: req.url ?? "/",
    header(name) {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    },
  };
}
