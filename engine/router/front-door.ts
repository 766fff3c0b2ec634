import type { Server as HttpServer } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";

/** Takes a new connection; `handOff` gives it (bytes unread) to the node:http server. */
export type ConnectionHandler = (socket: Socket, handOff: (socket: Socket) => void) => void;

/**
 * One listening port for the router's fast path and a node:http server (the management API and
 * the router's full path): every connection starts with `accept` and moves to `httpServer` at the
 * first request the fast path does not take. The node:http server itself never listens.
 */
export function createFrontDoor(httpServer: HttpServer, accept: ConnectionHandler): TcpServer {
  // node:http starts tracking its connections (closeIdleConnections, headers and request
  // timeouts) on its own 'listening' event, which it never gets here.
  httpServer.emit("listening");
  const handOff = (socket: Socket): void => {
    httpServer.emit("connection", socket);
  };
  // Half-open as node:http expects: a client may send its request and FIN before the answer.
  const front = createTcpServer({ allowHalfOpen: true, noDelay: true }, (socket) => accept(socket, handOff));
  front.on("close", () => httpServer.close(() => undefined));
  closed.set(front, new Promise((resolve) => front.once("close", () => resolve())));
  return front;
}

/** Each front door's 'close' (stopped accepting and every connection gone), whoever stopped it. */
const closed = new WeakMap<TcpServer, Promise<void>>();

function stopAccepting(front: TcpServer): Promise<void> {
  if (front.listening) front.close();
  return closed.get(front) ?? Promise.resolve();
}

/** Stops accepting and resolves once every connection, fast path or handed off, has closed;
 * idle keep-alive connections are closed now, busy ones after their response. */
export function closeFrontDoor(front: TcpServer, httpServer: HttpServer): Promise<void> {
  const allClosed = stopAccepting(front);
  httpServer.closeIdleConnections();
  return allClosed;
}

/**
 * The first part of a graceful stop: no new connection is accepted, the open ones keep being
 * served for up to `drainMs` (answers say `connection: close`, so each closes after its next
 * answer), and those that stay idle all that time are closed at its end. Resolves when every
 * connection has closed or `drainMs` has passed, whichever is first.
 */
export async function drainConnections(
  front: TcpServer,
  drainMs: number,
  fastPath: { drainConnections?(idleGraceMs: number): void } | undefined,
): Promise<void> {
  const allClosed = stopAccepting(front);
  fastPath?.drainConnections?.(drainMs);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)));
  await Promise.race([allClosed, deadline]);
  clearTimeout(timer);
}
