/**
 * One shadow copy's HTTP/1.1 exchange with a shadow replica, on the raw keep-alive connections
 * the fast path uses (../upstream-connections.ts): the copy's head and body in one write, the
 * answer's head parsed and its body captured as it arrives. Not undici: a copy sent through
 * undici's dispatch cost the router ≈ 190 µs of CPU on this machine (its request object, header
 * validation, a cork/writev of head and body, llhttp through wasm, its timers); this costs what
 * the fast path pays to relay a request (bench/shadow/copy-cpu.ts has the figures).
 */
import { ChunkedBodyScanner } from "../http1/chunked-body.js";
import { parseResponseHead } from "../http1/response-head.js";
import type { UpstreamConnection, UpstreamConnections, UpstreamListener } from "../upstream-connections.js";

/** What the copy hears of its exchange. */
export interface CopyAnswerSink {
  /** the answer's final status, and whether its body arrives in chunked framing (passed raw) */
  answerHead(status: number, chunked: boolean): void;
  /** a piece of the answer's body as it came (chunk framing included); false: read no more */
  answerData(chunk: Buffer): boolean;
  /** `answered`: the whole answer arrived, or the sink declined the rest (false from answerData);
   * false: refused, reset, cut, invalid or timed out */
  answerEnded(answered: boolean): void;
}

export class CopyExchange implements UpstreamListener {
  #connection: UpstreamConnection | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ended = false;
  #headBytes: Buffer | undefined;
  #headParsed = false;
  #reusable = false;
  #keepAliveHintMs: number | undefined;
  #untilClose = false;
  /** body bytes still to come (content-length framing) */
  #remaining = 0;
  #scanner: ChunkedBodyScanner | undefined;

  constructor(
    private readonly sink: CopyAnswerSink,
    private readonly timeoutMs: number,
  ) {}

  /** Sends the request on a connection of `connections`: `fields` are its forwarded field lines
   * (`name: value\r\n` each, without host and content-length, which are written here). */
  send(connections: UpstreamConnections, method: string, path: string, fields: string, body: Buffer): void {
    // the whole answer within timeoutMs of the send, connecting included; unref: a copy still
    // waiting never keeps a closing engine's process alive
    this.#timer = setTimeout(timedOut, this.timeoutMs, this);
    this.#timer.unref();
    connections.acquire((connection) => {
      if (this.#ended) {
        // timed out while connecting; a fresh connection is still good for the next copy
        connection?.release(true, undefined);
        return;
      }
      if (connection === undefined) {
        this.#end(false);
        return;
      }
      this.#connection = connection;
      connection.listener = this;
      const head = Buffer.from(`${method} ${path} HTTP/1.1\r\nhost: ${connections.hostHeader}\r\n${fields}content-length: ${body.length}\r\n\r\n`, "latin1");
      connection.socket.write(body.length === 0 ? head : Buffer.concat([head, body], head.length + body.length));
    });
  }

  onData(chunk: Buffer): void {
    if (this.#ended) return;
    if (this.#headParsed) {
      this.#body(chunk);
      return;
    }
    let buffer = this.#headBytes === undefined ? chunk : Buffer.concat([this.#headBytes, chunk]);
    for (;;) {
      const parsed = parseResponseHead(buffer);
      if (parsed.kind === "incomplete") {
        this.#headBytes = buffer;
        return;
      }
      if (parsed.kind === "informational") {
        buffer = buffer.subarray(parsed.headLength);
        continue;
      }
      this.#headBytes = undefined;
      if (parsed.kind === "invalid") {
        this.#abandon(false);
        return;
      }
      const { head } = parsed;
      this.#headParsed = true;
      this.#reusable = head.reusable;
      this.#keepAliveHintMs = head.keepAliveHintMs;
      const { framing } = head;
      this.sink.answerHead(head.statusCode, framing.kind === "chunked");
      if (framing.kind === "none") {
        this.#complete(buffer.length === head.headLength);
        return;
      }
      if (framing.kind === "length") this.#remaining = framing.length;
      else if (framing.kind === "chunked") this.#scanner = new ChunkedBodyScanner();
      else this.#untilClose = true;
      if (framing.kind === "length" && framing.length === 0) {
        this.#complete(buffer.length === head.headLength);
        return;
      }
      if (buffer.length > head.headLength) this.#body(buffer.subarray(head.headLength));
      return;
    }
  }

  #body(bytes: Buffer): void {
    let body = bytes;
    let complete = false;
    let surplus = false;
    if (this.#scanner !== undefined) {
      let end: number;
      try {
        end = this.#scanner.scan(bytes);
      } catch {
        this.#abandon(false);
        return;
      }
      if (end !== -1) {
        body = bytes.subarray(0, end);
        surplus = end < bytes.length;
        complete = true;
      }
    } else if (!this.#untilClose) {
      if (bytes.length >= this.#remaining) {
        body = bytes.subarray(0, this.#remaining);
        surplus = bytes.length > this.#remaining;
        this.#remaining = 0;
        complete = true;
      } else {
        this.#remaining -= bytes.length;
      }
    }
    if (body.length > 0 && !this.sink.answerData(body)) {
      // the sink wants no more (too large to compare): the rest is not read
      this.#abandon(true);
      return;
    }
    // bytes past the answer's end: the replica is out of step, the connection is not reused
    if (complete) this.#complete(!surplus);
  }

  onClosed(error: Error | undefined): void {
    if (this.#ended) return;
    this.#connection = undefined;
    // an answer framed by the connection's end ended with it
    this.#end(error === undefined && this.#untilClose);
  }

  #complete(inStep: boolean): void {
    const connection = this.#connection;
    this.#connection = undefined;
    connection?.release(this.#reusable && inStep, this.#keepAliveHintMs);
    this.#end(true);
  }

  /** Ends the exchange before its answer's end: the connection cannot carry another request. */
  #abandon(answered: boolean): void {
    this.#connection?.destroy();
    this.#connection = undefined;
    this.#end(answered);
  }

  timedOut(): void {
    if (this.#ended) return;
    this.#abandon(false);
  }

  #end(answered: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#timer);
    this.sink.answerEnded(answered);
  }
}

function timedOut(exchange: CopyExchange): void {
  exchange.timedOut();
}
