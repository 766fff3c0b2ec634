import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { ERROR_HTTP_STATUS } from "../../sdk/errors.js";
import { CLIENT_CLOSED_REQUEST, type RequestSeries } from "../metrics/request-metrics.js";
import type { ReplicaInfo } from "../runtime/runtime.js";
import { rawErrorResponse, type DataPlaneErrorCode } from "./error-response.js";
import { DEPLOYMENT_ID_HEADER, isConnectionRefused } from "./forward.js";
import { ChunkedBodyScanner } from "./http1/chunked-body.js";
import { MAX_FAST_BODY_BYTES, MAX_REQUEST_HEAD_BYTES, parseRequestHead, type RequestHead } from "./http1/request-head.js";
import { parseResponseHead, type ResponseHead } from "./http1/response-head.js";
import type { ShadowCopy } from "./shadow/mirror.js";
import type { UpstreamConnection, UpstreamConnections, UpstreamListener } from "./upstream-connections.js";

/** Where a predict request goes, as decided by the router. */
export interface FastRoute {
  deploymentId: string;
  /** the replica set serving it (the deployment's set for that environment, or its own) */
  replicaSetId: string;
  /** path and query on the replica */
  path: string;
  /** where the request is counted; undefined when the router keeps no metrics */
  series: RequestSeries | undefined;
  /** the environment's shadow copy of this request (engine/router/shadow/mirror.ts), if selected */
  shadow?: ShadowCopy | undefined;
}

/** What the fast path needs from the router: its routing decisions and its bookkeeping. */
export interface FastPathCore {
  /** The route of a request the fast path can serve now; undefined for anything else — not a
   * predict request, no or a wrong API key (checked first: 401/403), a 404, a deployment scaled
   * to zero (wake) — which node:http handles. `authorization`: the request's Authorization value;
   * `fields`: the head's forwarded field lines (read only when the environment has a shadow);
   * `socket`: the client's connection, handed to node:http when this answers undefined. */
  route(method: string, target: string, authorization: string | undefined, fields: string, socket: Socket): FastRoute | undefined;
  /** least-in-flight ready replica of the set, skipping those that refused a connection */
  pickReplica(replicaSetId: string, refused: ReadonlySet<string> | undefined): ReplicaInfo | undefined;
  connectionsTo(replica: ReplicaInfo): UpstreamConnections;
  requestStarted(replicaSetId: string): void;
  requestFinished(replicaSetId: string): void;
  replicaStarted(replicaId: string): void;
  replicaFinished(replicaId: string): void;
  maxConnectRetries: number;
}

export interface FastPathOptions {
  /** idle time after which a client's keep-alive connection is closed; default 5 s (as node:http) */
  keepAliveTimeoutMs?: number;
  /** silence from a replica (before its head or between body reads) after which the request is
   * given up: 504, or the response cut if it had started; default 300 s */
  replicaTimeoutMs?: number;
  /** a client's request head, and its whole request, must arrive within these (408 and close
   * otherwise), as node:http's headersTimeout and requestTimeout; default 60 s and 300 s */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/** While a request is relayed, a client may send the next ones (pipelining); reading stops when
 * this much is waiting. */
const MAX_PIPELINED_BYTES = MAX_REQUEST_HEAD_BYTES + MAX_FAST_BODY_BYTES;

/**
 * The router's fast path: predict requests relayed on raw sockets, a request's head and body in
 * one write to the replica and the replica's answer passed through as it arrives, with the head
 * rewritten (hop-by-hop fields out, the deployment id in). On this machine it needs about half
 * the CPU per request of node:http + undici: 30–43 µs against 66–84 (bench/router/RESULTS.md).
 *
 * It takes only what it can vouch for: HTTP/1.1 POSTs to a predict path whose deployment has a
 * ready replica, with a content-length body of at most 64 KiB. At the first request it does not
 * take, the connection — with that request's bytes unread — goes to node:http, which serves the
 * management API, large and chunked bodies, wake-from-zero, 404s and every malformed request with
 * the full rules.
 */
export class FastPath {
  private readonly clients = new Set<ClientConnection>();
  /** checks every client's exchange for a silent replica: one timer, not a timer per request */
  private readonly sweep: NodeJS.Timeout;
  /** a clock the sweep advances: exchanges note activity with it instead of reading the time per
   * request (the timeout's precision is the sweep's period) */
  now = Date.now();
  private closing = false;
  readonly keepAliveFields: string;
  readonly keepAliveTimeoutMs: number;
  readonly replicaTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;

  constructor(
    readonly core: FastPathCore,
    options: FastPathOptions = {},
  ) {
    this.keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? 5_000;
    this.keepAliveFields = `connection: keep-alive\r\nkeep-alive: timeout=${Math.floor(this.keepAliveTimeoutMs / 1000)}\r\n`;
    this.replicaTimeoutMs = options.replicaTimeoutMs ?? 300_000;
    this.headersTimeoutMs = options.headersTimeoutMs ?? 60_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 300_000;
    const period = Math.min(1_000, Math.max(20, this.replicaTimeoutMs / 4));
    this.sweep = setInterval(() => this.giveUpOnSilentReplicas(), period);
    this.sweep.unref();
  }

  private giveUpOnSilentReplicas(): void {
    this.now = Date.now();
    const silentSince = this.now - this.replicaTimeoutMs;
    for (const client of this.clients) client.giveUpIfSilentSince(silentSince);
  }

  get isClosing(): boolean {
    return this.closing;
  }

  /** Serves a new client connection; `handOff` gives it to node:http (bytes unread). */
  accept(socket: Socket, handOff: (socket: Socket) => void): void {
    if (this.closing) {
      handOff(socket);
      return;
    }
    const client = new ClientConnection(socket, this, handOff);
    this.clients.add(client);
  }

  forget(client: ClientConnection): void {
    this.clients.delete(client);
    if (this.closing && this.clients.size === 0) clearInterval(this.sweep);
  }

  /**
   * Shutdown: every answer from now on says `connection: close`, and a busy connection closes
   * after its answer. An idle one is closed at once, or, with `idleGraceMs`, once it has stayed
   * idle that long: a keep-alive client may be sending its next request on it right now, and
   * closing under it cuts that request (the client sees the connection reset, not an answer).
   */
  close(idleGraceMs = 0): void {
    this.closing = true;
    // the exchanges still running keep their timeout; the timer stops with the last client
    if (this.clients.size === 0) clearInterval(this.sweep);
    for (const client of this.clients) client.closeWhenIdle(idleGraceMs);
  }
}

class ClientConnection {
  private pending: Buffer | undefined;
  private exchange: Exchange | undefined;
  /** a request whose head is parsed and routed while its body is still arriving */
  private awaitingBody: { head: RequestHead; route: FastRoute; startedAt: number } | undefined;
  private closeAfterExchange = false;
  private gone = false;
  private serving = false;
  /** when the first byte of a request still incomplete arrived (slow-client limits) */
  private partialSince: number | undefined;

  constructor(
    readonly socket: Socket,
    readonly fastPath: FastPath,
    private readonly handOffTo: (socket: Socket) => void,
  ) {
    socket.setNoDelay(true);
    socket.setTimeout(fastPath.keepAliveTimeoutMs);
    socket.on("data", this.onData);
    socket.on("end", this.onEnd);
    socket.on("error", this.onError);
    socket.on("close", this.onClose);
    socket.on("timeout", this.onTimeout);
    socket.on("drain", this.onDrain);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.pending = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    if (this.exchange !== undefined) {
      if (this.pending.length > MAX_PIPELINED_BYTES) this.socket.pause();
      return;
    }
    this.serveNext();
  };

  /** The client sent FIN. As node:http does (without httpAllowHalfOpen), that counts as gone:
   * the request in progress is abandoned, which stops the replica's work on it. */
  private readonly onEnd = (): void => {
    this.gone = true;
    this.exchange?.abandon();
    this.exchange = undefined;
    this.socket.end();
  };

  private readonly onError = (): void => {
    // 'close' follows; the exchange is abandoned there.
  };

  private readonly onClose = (): void => {
    this.gone = true;
    this.fastPath.forget(this);
    this.exchange?.abandon();
    this.exchange = undefined;
  };

  /** Idle longer than the keep-alive timeout (a request in progress may take as long as it takes). */
  private readonly onTimeout = (): void => {
    if (this.exchange === undefined) this.socket.destroy();
  };

  /** The client caught up: let the replica's answer flow again. */
  private readonly onDrain = (): void => {
    this.exchange?.resumeUpstream();
  };

  giveUpIfSilentSince(time: number): void {
    if (this.exchange?.silentSince(time)) this.exchange.timedOut(this.fastPath.replicaTimeoutMs);
  }

  closeWhenIdle(idleGraceMs: number): void {
    if (this.exchange !== undefined) this.closeAfterExchange = true;
    else if (idleGraceMs > 0) this.socket.setTimeout(idleGraceMs); // onTimeout closes it if still idle
    else this.socket.destroy();
  }

  private serveNext(): void {
    if (this.serving) return; // an exchange settled synchronously inside the loop below
    this.serving = true;
    try {
      while (!this.gone && this.exchange === undefined && this.pending !== undefined) {
        let awaiting = this.awaitingBody;
        if (awaiting === undefined) {
          const parsed = parseRequestHead(this.pending);
          if (parsed.kind === "incomplete") return this.stillArriving(this.fastPath.headersTimeoutMs);
          if (parsed.kind === "unsupported") return this.handOff();
          const route = this.fastPath.core.route(parsed.head.method, parsed.head.target, parsed.head.authorization, parsed.head.forwardedFields, this.socket);
          if (route === undefined) return this.handOff();
          // The request's clock starts with its routed head, as on node:http (metrics only).
          awaiting = { head: parsed.head, route, startedAt: route.series === undefined ? 0 : performance.now() };
        }
        const { head, route, startedAt } = awaiting;
        const total = head.headLength + head.contentLength;
        if (this.pending.length < total) {
          this.awaitingBody = awaiting;
          return this.stillArriving(this.fastPath.requestTimeoutMs);
        }
        this.awaitingBody = undefined;
        this.partialSince = undefined;
        const body = this.pending.subarray(head.headLength, total);
        this.pending = this.pending.length === total ? undefined : this.pending.subarray(total);
        if (head.close) this.closeAfterExchange = true;
        this.exchange = new Exchange(this, head, body, route, startedAt);
        this.exchange.start();
      }
    } finally {
      this.serving = false;
    }
  }

  /** A request is not complete yet: a client that trickles it in for longer than `limitMs` is cut
   * off (silence alone is the keep-alive timeout's business). */
  private stillArriving(limitMs: number): void {
    const now = Date.now();
    this.partialSince ??= now;
    if (now - this.partialSince <= limitMs) return;
    this.gone = true;
    this.socket.end("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n");
  }

  /** Gives the connection to node:http with the unread bytes put back. */
  private handOff(): void {
    const { socket } = this;
    this.gone = true;
    this.fastPath.forget(this);
    socket.off("data", this.onData);
    socket.off("end", this.onEnd);
    socket.off("error", this.onError);
    socket.off("close", this.onClose);
    socket.off("timeout", this.onTimeout);
    socket.off("drain", this.onDrain);
    socket.setTimeout(0);
    socket.pause();
    if (this.pending !== undefined) socket.unshift(this.pending);
    this.pending = undefined;
    this.handOffTo(socket);
    socket.resume();
  }

  /** `closeAfter` when the response's end is the connection's end (no framing). */
  connectionFields(closeAfter: boolean): string {
    if (closeAfter || this.closeAfterExchange || this.fastPath.isClosing) {
      this.closeAfterExchange = true;
      return "connection: close\r\n";
    }
    return this.fastPath.keepAliveFields;
  }

  write(bytes: Buffer): boolean {
    return this.gone ? true : this.socket.write(bytes);
  }

  sendError(code: DataPlaneErrorCode, message: string, deploymentId: string): void {
    this.write(rawErrorResponse(code, message, `${DEPLOYMENT_ID_HEADER}: ${deploymentId}\r\n${this.connectionFields(false)}`));
  }

  /** The response is complete: next request, or close. */
  exchangeDone(): void {
    this.exchange = undefined;
    if (this.gone) return;
    if (this.closeAfterExchange || this.fastPath.isClosing) {
      this.gone = true;
      this.socket.end();
      return;
    }
    if (this.socket.isPaused()) this.socket.resume();
    if (this.pending !== undefined) this.serveNext();
  }

  /** The response broke off midway: the client must not take it for complete. */
  destroy(): void {
    this.exchange = undefined;
    this.socket.destroy();
  }
}

/** One request relayed to a replica and its response relayed back. */
class Exchange implements UpstreamListener {
  private connection: UpstreamConnection | undefined;
  private replicaId: string | undefined;
  private refused: Set<string> | undefined;
  private settled = false;
  private responseStarted = false;
  private head: ResponseHead | undefined;
  private headBytes: Buffer | undefined;
  private remaining = 0;
  private scanner: ChunkedBodyScanner | undefined;
  /** when the replica was last heard from (or the request sent) */
  private lastActivity: number;
  /** reading from the replica is paused because the client is slow: not the replica's silence */
  private upstreamPaused = false;
  /** `performance.now()` when the response head went to the client (metrics only) */
  private headAt: number | undefined;
  /** the whole response reached the client (the shadow compares only those) */
  private completed = false;

  constructor(
    private readonly client: ClientConnection,
    private readonly request: RequestHead,
    private readonly body: Buffer,
    private readonly route: FastRoute,
    /** `performance.now()` when the request was routed (0 without metrics) */
    private readonly startedAt: number,
  ) {
    this.lastActivity = client.fastPath.now;
  }

  private get core(): FastPathCore {
    return this.client.fastPath.core;
  }

  start(): void {
    this.core.requestStarted(this.route.replicaSetId);
    // a copy of the body: the client's buffer goes on with its pipelined requests
    this.route.shadow?.start(Buffer.from(this.body), this.request.forwardedFields);
    this.attempt();
  }

  silentSince(time: number): boolean {
    return !this.upstreamPaused && this.lastActivity < time;
  }

  timedOut(timeoutMs: number): void {
    if (this.settled) return;
    this.giveUp(`the replica did not answer in time (nothing for ${timeoutMs / 1000} s)`, "GATEWAY_TIMEOUT");
  }

  private attempt(): void {
    const { core } = this;
    const { deploymentId, replicaSetId } = this.route;
    const replica = core.pickReplica(replicaSetId, this.refused);
    if (replica === undefined) {
      const message =
        this.refused === undefined
          ? `no replica of deployment "${deploymentId}" accepted the connection`
          : `the replicas of deployment "${deploymentId}" refused the connection`;
      this.failBeforeResponse(message);
      return;
    }
    this.replicaId = replica.id;
    core.replicaStarted(replica.id);
    const connections = core.connectionsTo(replica);
    connections.acquire((connection, error) => {
      if (this.settled) {
        // The client left while connecting; a fresh connection is still good for the next one.
        connection?.release(true, undefined);
        return;
      }
      if (connection === undefined) {
        const failure = error ?? new Error("no connection");
        const triedAgain = isConnectionRefused(failure) && (this.refused?.size ?? 0) < core.maxConnectRetries;
        if (triedAgain) {
          // Nothing was sent (the replica is probably dying and not yet marked so): another
          // replica can take the request, whose body is in hand.
          this.releaseReplica();
          (this.refused ??= new Set()).add(replica.id);
          this.attempt();
        } else if (isConnectionRefused(failure)) {
          this.failBeforeResponse(`the replicas of deployment "${deploymentId}" refused the connection`);
        } else {
          this.failBeforeResponse(`the replica failed before answering: ${failure.message}`);
        }
        return;
      }
      this.connection = connection;
      connection.listener = this;
      this.lastActivity = this.client.fastPath.now;
      const head = Buffer.from(
        `${this.request.method} ${this.route.path} HTTP/1.1\r\nhost: ${connections.hostHeader}\r\n${this.request.forwardedFields}content-length: ${this.body.length}\r\n\r\n`,
        "latin1",
      );
      connection.socket.write(this.body.length === 0 ? head : Buffer.concat([head, this.body], head.length + this.body.length));
    });
  }

  onData(chunk: Buffer): void {
    if (this.settled) return;
    this.lastActivity = this.client.fastPath.now;
    if (this.head !== undefined) {
      this.relay(chunk);
      return;
    }
    let buffer = this.headBytes === undefined ? chunk : Buffer.concat([this.headBytes, chunk]);
    for (;;) {
      const parsed = parseResponseHead(buffer);
      if (parsed.kind === "incomplete") {
        this.headBytes = buffer;
        return;
      }
      if (parsed.kind === "informational") {
        buffer = buffer.subarray(parsed.headLength);
        continue;
      }
      this.headBytes = undefined;
      if (parsed.kind === "invalid") {
        this.giveUp(`the replica sent an invalid response: ${parsed.reason}`);
        return;
      }
      const head = parsed.head;
      this.head = head;
      if (this.route.series !== undefined) this.headAt = performance.now();
      if (this.route.shadow !== undefined) {
        this.route.shadow.head(head.statusCode, head.framing.kind === "chunked");
      }
      if (head.framing.kind === "length") this.remaining = head.framing.length;
      if (head.framing.kind === "chunked") this.scanner = new ChunkedBodyScanner();
      const fields = `${DEPLOYMENT_ID_HEADER}: ${this.route.deploymentId}\r\n${this.client.connectionFields(head.framing.kind === "until-close")}\r\n`;
      this.relay(buffer.subarray(head.headLength), Buffer.from(head.relayedHead + fields, "latin1"));
      return;
    }
  }

  /** Passes body bytes to the client, the head with the first of them; notices the end. */
  private relay(bytes: Buffer, head?: Buffer): void {
    const framing = this.head!.framing;
    let body = bytes;
    let complete = false;
    let surplus = false;
    switch (framing.kind) {
      case "length":
        if (bytes.length >= this.remaining) {
          body = bytes.subarray(0, this.remaining);
          surplus = bytes.length > this.remaining;
          this.remaining = 0;
          complete = true;
        } else {
          this.remaining -= bytes.length;
        }
        break;
      case "chunked": {
        let end: number;
        try {
          end = this.scanner!.scan(bytes);
        } catch (error) {
          this.giveUp(`the replica sent an invalid chunked body: ${(error as Error).message}`);
          return;
        }
        if (end !== -1) {
          body = bytes.subarray(0, end);
          surplus = end < bytes.length;
          complete = true;
        }
        break;
      }
      case "none":
        body = bytes.subarray(0, 0);
        surplus = bytes.length > 0;
        complete = true;
        break;
      case "until-close":
        break;
    }
    const out = head === undefined ? body : body.length === 0 ? head : Buffer.concat([head, body], head.length + body.length);
    this.responseStarted = true;
    this.route.shadow?.data(body);
    const flushed = out.length === 0 || this.client.write(out);
    if (complete) {
      // Bytes after the response's end mean the replica is out of step: do not reuse it.
      this.finish(this.head!.reusable && !surplus);
    } else if (!flushed) {
      this.upstreamPaused = true;
      this.connection?.socket.pause();
    }
  }

  resumeUpstream(): void {
    if (!this.upstreamPaused) return;
    this.upstreamPaused = false;
    this.lastActivity = this.client.fastPath.now;
    this.connection?.socket.resume();
  }

  onClosed(error: Error | undefined): void {
    if (this.settled) return;
    this.connection = undefined;
    if (error === undefined && this.head?.framing.kind === "until-close") {
      this.finish(false); // the connection's end was the response's end
      return;
    }
    const reason = error?.message ?? "the replica closed the connection before the response was complete";
    this.giveUp(`the replica failed before answering: ${reason}`);
  }

  /** The replica failed: an error response if nothing reached the client yet (502 unless said
   * otherwise), else the client's response is cut — never passed off as complete. */
  private giveUp(message: string, code: DataPlaneErrorCode = "BAD_GATEWAY"): void {
    this.connection?.destroy();
    this.connection = undefined;
    if (!this.responseStarted) {
      this.failBeforeResponse(message, code);
      return;
    }
    this.settle(this.head!.statusCode);
    this.client.destroy();
  }

  private failBeforeResponse(message: string, code: DataPlaneErrorCode = "BAD_GATEWAY"): void {
    this.settle(ERROR_HTTP_STATUS[code]);
    this.client.sendError(code, message, this.route.deploymentId);
    this.client.exchangeDone();
  }

  private finish(reusable: boolean): void {
    const head = this.head!;
    this.completed = true;
    this.connection?.release(reusable, head.keepAliveHintMs);
    this.connection = undefined;
    this.settle(head.statusCode);
    this.client.exchangeDone();
  }

  /** The client went away: the replica's work on this request is unwanted. */
  abandon(): void {
    if (this.settled) return;
    this.connection?.destroy();
    this.connection = undefined;
    this.settle(CLIENT_CLOSED_REQUEST);
  }

  private releaseReplica(): void {
    if (this.replicaId === undefined) return;
    this.core.replicaFinished(this.replicaId);
    this.replicaId = undefined;
  }

  /** `statusIfNoHead`: what the request counts as when no response head reached the client. */
  private settle(statusIfNoHead: number): void {
    if (this.settled) return;
    this.settled = true;
    this.route.shadow?.primaryEnded(this.completed);
    this.releaseReplica();
    this.core.requestFinished(this.route.replicaSetId);
    const { series } = this.route;
    if (series !== undefined) {
      // A response cut midway counts with the status its head already told the client.
      const status = this.head !== undefined && this.responseStarted ? this.head.statusCode : statusIfNoHead;
      series.record(status, this.startedAt, this.headAt, performance.now());
    }
  }
}
