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
  return front;
}

/** Stops accepting and resolves once every connection, fast path or handed off, has closed;
 * idle keep-alive connections are closed now, busy ones after their response. */
export function closeFrontDoor(front: TcpServer, httpServer: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    front.close(() => resolve());
    httpServer.closeIdleConnections();
  });
}
