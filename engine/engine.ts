import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { createApiHandler, type ApiHandler } from "./api/api-handler.js";
import { resolveApiKey } from "./api-key-file.js";
import { AccessView } from "./auth/access-view.js";
import { createMetricsEndpoint, EngineMetrics, timedSql } from "./metrics/index.js";
import { closeFrontDoor, createFrontDoor, drainConnections, type ConnectionHandler } from "./router/front-door.js";
import { ControlPlane } from "./service/control-plane.js";
import { DomainEvents } from "./service/events.js";
import type { ClusterChange } from "./control/change-feed.js";
import { DEFAULT_RING_SIZE, EventRing } from "./events/event-ring.js";
import { EventRecorder } from "./events/event-recorder.js";
import { createEventStreams } from "./events/event-stream.js";
import { createConsoleHandler } from "./console/console-files.js";
import type { PromotionExecutor } from "./service/promotions.js";
import type { VariablesRollout } from "../sdk/index.js";
import { openStore } from "./store/open-store.js";
import type { Sql } from "./store/sql.js";

export interface EngineOptions {
  /** 0 picks a free port; default 7070 */
  port?: number;
  host?: string;
  /** holds the PGlite database, the lock file and the generated API key; default ./.modelplane */
  dataDir?: string;
  /** use this PostgreSQL instead of PGlite (several engines may share it) */
  databaseUrl?: string;
  /** default: MODELPLANE_API_KEY, else `<dataDir>/api-key` (generated on first start) */
  apiKey?: string;
  /** the data key(s) secrets are encrypted with at rest, first current (engine/store/secret-keyring.ts);
   * default: MODELPLANE_SECRET_KEY, else `<dataDir>/secret-key` (generated on first start) */
  secretKey?: string;
  /** how often API keys and public environments are re-read from the store, so that a key
   * revoked through another engine on the same PostgreSQL is refused here within this time
   * (this engine's own changes apply at once); default 5000 ms */
  accessResyncMs?: number;
  /** `GET /v1/events`: how many recent events a reconnecting client can resume from (default
   * 10,000), heartbeat period (default 15 s), bytes a stream may queue before it waits (64 KiB) */
  events?: { ringSize?: number; heartbeatMs?: number; highWaterBytes?: number };
  /** operational log lines (never bodies or secrets); default: stderr */
  log?: (line: string) => void;
  /**
   * How long a stopping engine keeps serving the client connections it has (each answer now says
   * `connection: close`) before it closes those still idle; default 0: closed at once. A load
   * balancer's keep-alive clients send their next request on an open connection at any moment:
   * closing it under them cuts that request, answering it with `connection: close` does not.
   * `modelplane serve` sets it (an engine pod stops this way after its preStop delay).
   */
  connectionDrainMs?: number;
  /** Print a newly generated API key itself, not only its file: for an operator at a terminal
   * (`modelplane serve` sets it when stderr is a TTY). Default false. */
  showGeneratedApiKey?: boolean;
}

/** What the engine is built from, for what it mounts beside the API (engine/main.ts: the data plane). */
export interface EngineParts {
  sql: Sql;
  /** the control plane's domain events, emitted after each commit */
  events: DomainEvents;
  /** who may call what: API keys and public environments in memory */
  access: AccessView;
  /** what GET /metrics shows (the data plane counts its requests and adds its state) */
  metrics: EngineMetrics;
  /** a change for GET /v1/events that is not one of this engine's domain events (those are
   * recorded already): its reconciler's and controller's writes, other engines' changes */
  recordChange: (change: ClusterChange) => void;
}

/** What the engine mounts beside its management API, built before the server listens. */
export interface EngineMount {
  /** serves the paths the management API does not own (data-plane `/models/...`): true when it did */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** takes each new connection first (the router's fast path), handing it to the node:http server
   * at the first request it does not serve */
  acceptConnection: ConnectionHandler;
  /** runs promotions (without it, promote routes answer 501) */
  promotionExecutor?: PromotionExecutor;
  /** where an environment's configuration roll stands */
  variablesRollout?: (modelId: string, environmentName: string) => Promise<VariablesRollout>;
  /** shutdown begins (`connectionDrainMs`): idle client connections it holds are closed once they
   * stay idle this long, busy ones after their answer; it keeps serving meanwhile */
  drainConnections?(idleGraceMs: number): void;
  /** stops what it runs (replicas drained); called before the API closes */
  close(): Promise<void>;
}

export interface RunningEngine<M extends EngineMount = EngineMount> {
  /** what was mounted beside the API (undefined: the management API alone) */
  mounted: M | undefined;
  /** base URL, e.g. http://127.0.0.1:7070 */
  url: string;
  apiKey: string;
  service: ControlPlane;
  /** API keys and public environments in memory: the management API's and the router's checks */
  access: AccessView;
  store: Sql;
  /** the node:http server of the management API and the router's full path; it does not listen
   * itself: connections reach it through the front door (engine/router/front-door.ts) */
  server: Server;
  handleApi: ApiHandler;
  /** what GET /metrics shows (the data plane adds its requests and state) */
  metrics: EngineMetrics;
  /** Stop accepting, finish in-flight requests, close the store (and release the data-dir lock). */
  close(): Promise<void>;
}

function notFound(req: IncomingMessage, res: ServerResponse): void {
  const body = JSON.stringify({ error: { code: "NOT_FOUND", message: `no route for ${req.method} ${req.url?.split("?")[0]}`, details: {} } });
  res.writeHead(404, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/**
 * The composition root of an engine: the store, the domain events, the access view, then what is
 * mounted beside the API (built from those, before anything listens), then the control plane with
 * the mount's promotion executor, the API and the server — each made once, in order.
 */
export async function startEngine<M extends EngineMount = EngineMount>(
  options: EngineOptions = {},
  mount?: (parts: EngineParts) => Promise<M>,
): Promise<RunningEngine<M>> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dataDir = resolve(options.dataDir ?? "./.modelplane");
  const metrics = new EngineMetrics({ log });
  const store = timedSql(await openStore({
    dataDir,
    log,
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
    ...(options.secretKey !== undefined ? { secretKey: options.secretKey } : {}),
  }), metrics.store);
  let stopAccess = (): void => undefined;
  let stopRecorder = (): Promise<void> => Promise.resolve();
  let mounted: M | undefined;
  try {
    const { apiKey, source } = resolveApiKey({ dataDir, ...(options.apiKey ? { apiKey: options.apiKey } : {}) });
    if (source === "generated") {
      const keyFile = resolve(dataDir, "api-key");
      // Shown once to a person at a terminal; anywhere else (log files, collectors) only where it is.
      log(
        options.showGeneratedApiKey
          ? `modelplane: generated API key ${apiKey} (stored in ${keyFile}, readable by this user only; shown this once)`
          : `modelplane: generated an API key in ${keyFile} (readable by this user only); clients: export MODELPLANE_API_KEY=$(cat ${keyFile})`,
      );
    }
    const events = new DomainEvents();
    const access = new AccessView({
      sql: store,
      bootstrapKey: apiKey,
      log,
      ...(options.accessResyncMs !== undefined ? { resyncMs: options.accessResyncMs } : {}),
    });
    await access.start();
    stopAccess = () => access.close();
    const ring = new EventRing(options.events?.ringSize ?? DEFAULT_RING_SIZE);
    const eventStreams = createEventStreams({
      ring,
      ...(options.events?.heartbeatMs !== undefined ? { heartbeatMs: options.events.heartbeatMs } : {}),
      ...(options.events?.highWaterBytes !== undefined ? { highWaterBytes: options.events.highWaterBytes } : {}),
    });
    const recorder = new EventRecorder({ sql: store, ring, watched: () => eventStreams.watched(), log });
    events.onChange((event) => recorder.record(event));
    stopRecorder = () => recorder.close();
    mounted = await mount?.({ sql: store, events, access, metrics, recordChange: (change) => recorder.record(change) });
    const service = new ControlPlane({
      sql: store,
      events,
      ...(mounted?.promotionExecutor !== undefined ? { promotionExecutor: mounted.promotionExecutor } : {}),
      ...(mounted?.variablesRollout !== undefined ? { variablesRollout: mounted.variablesRollout } : {}),
      shadowStats: metrics.shadows,
    });
    const handleApi = createApiHandler({ service, access, events: eventStreams, log });
    const serveMetrics = createMetricsEndpoint({ metrics, authorize: (authorization) => access.authorizeMetrics(authorization), log });
    const serveConsole = createConsoleHandler();
    let stopping = false;
    const server = createServer((req, res) => {
      // a stopping engine answers what reaches it and tells the client to reconnect elsewhere
      if (stopping) res.shouldKeepAlive = false;
      void (async () => {
        try {
          if (serveMetrics(req, res) || serveConsole(req, res) || (await handleApi(req, res))) return;
          if (mounted?.handle(req, res) === true) return;
          notFound(req, res);
        } catch (error) {
          log(`request ${req.method} ${req.url} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
          if (!res.headersSent) res.writeHead(500).end();
          else res.destroy();
        }
      })();
    });
    // keep-alive sockets would hold close() open; in-flight requests still finish
    server.keepAliveTimeout = 5_000;
    const acceptConnection: ConnectionHandler = mounted !== undefined ? mounted.acceptConnection : (socket, handOff) => handOff(socket);
    const front = createFrontDoor(server, acceptConnection);
    await new Promise<void>((resolveListen, rejectListen) => {
      front.once("error", rejectListen);
      front.listen(options.port ?? 7070, options.host ?? "127.0.0.1", () => {
        front.off("error", rejectListen);
        resolveListen();
      });
    });
    const address = front.address() as AddressInfo;
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    let closing: Promise<void> | undefined;
    const running = mounted;
    return {
      mounted,
      url: `http://${host}:${address.port}`,
      apiKey,
      service,
      access,
      store,
      server,
      handleApi,
      metrics,
      close() {
        closing ??= (async () => {
          stopping = true;
          // Event streams end first: they never finish by themselves and would hold the drain and
          // the server open; their clients reconnect (to another engine, or after the restart).
          eventStreams.close();
          const drainMs = options.connectionDrainMs ?? 0;
          if (drainMs > 0) await drainConnections(front, drainMs, running);
          // Replicas stop first (drained, while their requests still have a server), then the API.
          await running?.close();
          await closeFrontDoor(front, server);
          access.close();
          await stopRecorder();
          await store.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    await mounted?.close().catch(() => undefined);
    stopAccess();
    await stopRecorder();
    await store.close();
    throw error;
  }
}
