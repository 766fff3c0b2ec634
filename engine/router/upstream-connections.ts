import { connect, type Socket } from "node:net";

/** What a connection's current exchange hears from the replica. */
export interface UpstreamListener {
  onData(chunk: Buffer): void;
  /** the replica ended or broke the connection (`error` is undefined for a clean FIN) */
  onClosed(error: Error | undefined): void;
}

/** Idle connections older than this are not reused: Node servers close idle keep-alive
 * connections after 5 s by default, and a request written onto a connection the replica is
 * closing is lost (undici uses the same margin). */
const DEFAULT_IDLE_MS = 4_000;
/** The replica's own Keep-Alive hint, minus this margin for the race above. */
const HINT_MARGIN_MS = 1_000;
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * One keep-alive connection to a replica, with its listeners attached once for its lifetime
 * (adding and removing listeners per request costs more than the relay itself): events go to
 * the exchange using it, or, while idle, retire it.
 */
export class UpstreamConnection {
  listener: UpstreamListener | undefined;
  idleSince = 0;
  idleMs = DEFAULT_IDLE_MS;
  closed = false;

  constructor(
    readonly socket: Socket,
    private readonly owner: UpstreamConnections,
  ) {
    socket.on("data", (chunk: Buffer) => {
      if (this.listener !== undefined) this.listener.onData(chunk);
      else socket.destroy(); // bytes nobody asked for: the connection is out of step
    });
    socket.on("end", () => this.closedBy(undefined));
    socket.on("error", (error) => this.closedBy(error));
    socket.on("close", () => this.closedBy(undefined));
  }

  private closedBy(error: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    const listener = this.listener;
    this.listener = undefined;
    if (listener !== undefined) listener.onClosed(error);
    else this.owner.forget(this);
  }

  /** Gives the connection back after a complete exchange; `reusable` false closes it. */
  release(reusable: boolean, keepAliveHintMs: number | undefined): void {
    this.listener = undefined;
    if (this.closed) return;
    if (!reusable) {
      this.destroy();
      return;
    }
    if (this.socket.isPaused()) this.socket.resume();
    this.idleMs = keepAliveHintMs === undefined ? DEFAULT_IDLE_MS : Math.max(0, Math.min(DEFAULT_IDLE_MS * 4, keepAliveHintMs - HINT_MARGIN_MS));
    this.owner.putIdle(this);
  }

  /** Abandons the exchange (the client went away): the replica's answer is unwanted. */
  destroy(): void {
    this.listener = undefined;
    this.closed = true;
    this.socket.destroy();
  }
}

/**
 * The router's keep-alive connections to one replica, raw TCP: the fast path writes the request
 * head and body in one write and reads the answer itself. Most recently used first, so a burst
 * reuses warm connections and the rest age out. No limit on connections, as undici's Pool has
 * none by default either: concurrency is bounded by the clients.
 */
export class UpstreamConnections {
  private readonly idle: UpstreamConnection[] = [];
  private closed = false;
  readonly hostHeader: string;
  private readonly host: string;
  private readonly port: number;

  constructor(url: string) {
    const parsed = new URL(url);
    this.host = parsed.hostname.replace(/^\[|\]$/g, "");
    this.port = Number(parsed.port || 80);
    this.hostHeader = parsed.host;
  }

  /** An idle connection, or a new one once connected. */
  acquire(onReady: (connection: UpstreamConnection | undefined, error: Error | undefined) => void): void {
    const now = Date.now();
    while (this.idle.length > 0) {
      const connection = this.idle.pop()!;
      if (!connection.closed && now - connection.idleSince < connection.idleMs) {
        onReady(connection, undefined);
        return;
      }
      connection.destroy();
    }
    if (this.closed) {
      onReady(undefined, new Error("the replica is no longer serving"));
      return;
    }
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    socket.setTimeout(CONNECT_TIMEOUT_MS);
    const onConnectTimeout = (): void => {
      socket.destroy(Object.assign(new Error(`connecting to the replica timed out after ${CONNECT_TIMEOUT_MS / 1000} s`), { code: "ETIMEDOUT" }));
    };
    const onConnectError = (error: Error): void => {
      socket.off("timeout", onConnectTimeout);
      onReady(undefined, error);
    };
    socket.once("timeout", onConnectTimeout);
    socket.once("error", onConnectError);
    socket.once("connect", () => {
      socket.off("timeout", onConnectTimeout);
      socket.off("error", onConnectError);
      socket.setTimeout(0);
      onReady(new UpstreamConnection(socket, this), undefined);
    });
  }

  putIdle(connection: UpstreamConnection): void {
    if (this.closed) {
      connection.destroy();
      return;
    }
    connection.idleSince = Date.now();
    this.idle.push(connection);
  }

  forget(connection: UpstreamConnection): void {
    const index = this.idle.indexOf(connection);
    if (index !== -1) this.idle.splice(index, 1);
  }

  /** Closes the idle connections; those in use close when their exchange ends. */
  close(): void {
    this.closed = true;
    for (const connection of this.idle.splice(0)) connection.destroy();
  }
}
