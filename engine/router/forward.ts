import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import type { RequestTiming } from "../metrics/request-metrics.js";
import { sendError } from "./error-response.js";
import { HOP_BY_HOP_HEADERS } from "./http1/hop-by-hop.js";

/** Response header naming the deployment that answered, so clients can see a canary split. */
export const DEPLOYMENT_ID_HEADER = "x-modelplane-deployment-id";


/** The request headers to send upstream, as the flat [name, value, …] list undici accepts:
 * without hop-by-hop fields and without `authorization` (every one of them) — the caller's
 * credential is the engine's business and never reaches a replica. */
export function upstreamRequestHeaders(rawHeaders: readonly string[], connectionHeader: string | undefined): string[] {
  const alsoDropped = connectionTokens(connectionHeader);
  const headers: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP_HEADERS.has(lower) || lower === "authorization" || alsoDropped?.has(lower)) continue;
    headers.push(name, rawHeaders[i + 1]!);
  }
  return headers;
}

function responseHeaders(upstream: IncomingHttpHeaders, deploymentId: string): IncomingHttpHeaders {
  const connection = upstream["connection"];
  const alsoDropped = connectionTokens(typeof connection === "string" ? connection : undefined);
  const headers: IncomingHttpHeaders = {};
  for (const name in upstream) {
    if (HOP_BY_HOP_HEADERS.has(name) || alsoDropped?.has(name)) continue;
    headers[name] = upstream[name];
  }
  headers[DEPLOYMENT_ID_HEADER] = deploymentId;
  return headers;
}

/** Extra hop-by-hop names listed in a Connection header ("close"/"keep-alive" list none). */
function connectionTokens(connection: string | undefined): Set<string> | undefined {
  if (connection === undefined || connection === "close" || connection === "keep-alive") return undefined;
  return new Set(connection.split(",").map((token) => token.trim().toLowerCase()));
}

export type ForwardOutcome =
  /** the whole response was relayed */
  | "completed"
  /** the replica refused the connection: nothing was sent, the request may go elsewhere */
  | "refused"
  /** anything else: an error response was written or the response destroyed */
  | "failed";

export interface ForwardRequest {
  upstream: Dispatcher;
  req: IncomingMessage;
  res: ServerResponse;
  /** path and query on the replica */
  path: string;
  headers: string[];
  deploymentId: string;
  /** the request body if already collected (small bodies); else it streams from `req` */
  body?: Buffer | undefined;
  /** told when the replica's response head goes to the client (metrics' time to first byte) */
  timing?: RequestTiming | undefined;
  /** told the replica's status and body as relayed (the environment's shadow compares them) */
  capture?: PrimaryCapture | undefined;
}

/** What a relay tells an observer of the primary's answer (engine/router/shadow/mirror.ts). */
export interface PrimaryCapture {
  head(status: number): void;
  data(chunk: Buffer): void;
}

/** Request bodies up to this size (declared by content-length) are collected before dispatch:
 * they arrive in one or two socket reads anyway, and sending head and body in one write halves
 * the syscalls per request (writev was a third of the router's CPU in the bench). Larger or
 * chunked bodies stream. The bound keeps memory per request small. */
const SMALL_BODY_LIMIT = 64 * 1024;

/**
 * Relays one request to a replica with `dispatch` (the cheapest undici shape measured here:
 * no promise, no intermediate stream per request). Bodies stream both ways with backpressure:
 * the request body is read from the client only as fast as the replica takes it, and the
 * replica's response is paused while the client's socket buffer is full.
 */
export function forward(request: ForwardRequest, onSettled: (outcome: ForwardOutcome) => void): void {
  const { req } = request;
  const handler = new RelayHandler(request.res, request.deploymentId, request.timing, onSettled, request.capture);
  request.res.once("close", handler.onClientClosed);
  const method = req.method ?? "POST";
  const contentLength = req.headers["content-length"];
  if (request.body !== undefined) {
    request.upstream.dispatch({ path: request.path, method, headers: request.headers, body: request.body }, handler);
  } else if (contentLength === undefined && req.headers["transfer-encoding"] === undefined) {
    request.upstream.dispatch({ path: request.path, method, headers: request.headers, body: null }, handler);
  } else {
    request.upstream.dispatch({ path: request.path, method, headers: request.headers, body: req }, handler);
  }
}

/**
 * Collects a small request body (content-length ≤ 64 KiB) so it can be sent in one write and
 * replayed on another replica if the first refuses the connection; undefined when the body
 * must stream (large, chunked, or absent).
 */
export function readSmallBody(req: IncomingMessage, onBody: (body: Buffer | undefined, error?: Error) => void): void {
  const contentLength = req.headers["content-length"];
  const length = contentLength === undefined ? Number.NaN : Number(contentLength);
  if (!(length > 0 && length <= SMALL_BODY_LIMIT) || req.headers["transfer-encoding"] !== undefined) {
    onBody(undefined);
    return;
  }
  const chunks: Buffer[] = [];
  let received = 0;
  const onData = (chunk: Buffer): void => {
    chunks.push(chunk);
    received += chunk.length;
  };
  const onEnd = (): void => {
    cleanup();
    onBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
  };
  const onError = (error: Error): void => {
    cleanup();
    onBody(undefined, error);
  };
  const cleanup = (): void => {
    req.off("data", onData);
    req.off("end", onEnd);
    req.off("error", onError);
  };
  req.on("data", onData);
  req.on("end", onEnd);
  req.on("error", onError);
}

class RelayHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private responseStarted = false;
  private settled = false;
  private clientGone = false;
  /** bytes the replica announced (content-length), -1 if unknown */
  private expectedBytes = -1;
  private relayedBytes = 0;
  private ended = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly deploymentId: string,
    private readonly timing: RequestTiming | undefined,
    private readonly onSettled: (outcome: ForwardOutcome) => void,
    private readonly capture: PrimaryCapture | undefined,
  ) {}

  readonly onClientClosed = (): void => {
    if (this.settled || this.res.writableFinished) return;
    // The client went away: stop the replica's work on this request too.
    this.clientGone = true;
    this.controller?.abort(new Error("client closed the connection"));
  };

  private readonly resume = (): void => this.controller?.resume();

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new Error("client closed the connection"));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    this.responseStarted = true;
    const contentLength = headers["content-length"];
    if (typeof contentLength === "string") this.expectedBytes = Number(contentLength);
    const outgoing = responseHeaders(headers, this.deploymentId);
    this.timing?.head();
    this.capture?.head(statusCode);
    if (statusMessage) this.res.writeHead(statusCode, statusMessage, outgoing);
    else this.res.writeHead(statusCode, outgoing);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.relayedBytes += chunk.length;
    this.capture?.data(chunk);
    if (this.relayedBytes === this.expectedBytes) {
      // Last chunk: head (if still buffered), chunk and end go out in one write.
      this.ended = true;
      this.res.end(chunk);
      return;
    }
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once("drain", this.resume);
    }
  }

  onResponseEnd(): void {
    if (!this.ended) this.res.end();
    this.settle("completed");
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (!this.responseStarted && !this.clientGone && isConnectionRefused(error)) {
      this.settle("refused");
      return;
    }
    if (!this.res.headersSent && !this.res.destroyed) {
      const headers = { [DEPLOYMENT_ID_HEADER]: this.deploymentId };
      if (isTimeout(error)) sendError(this.res, "GATEWAY_TIMEOUT", `the replica did not answer in time: ${error.message}`, headers);
      else sendError(this.res, "BAD_GATEWAY", `the replica failed before answering: ${error.message}`, headers);
    } else {
      // Mid-response: the only honest signal left is to cut the client's response short.
      this.res.destroy(error);
    }
    this.settle("failed");
  }

  private settle(outcome: ForwardOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.res.off("close", this.onClientClosed);
    this.onSettled(outcome);
  }
}

function isTimeout(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
}

/** The replica refused the connection: nothing was sent, so the request may go elsewhere. */
export function isConnectionRefused(error: Error): boolean {
  return (error as NodeJS.ErrnoException).code === "ECONNREFUSED";
}
