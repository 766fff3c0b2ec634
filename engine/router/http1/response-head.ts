import { parseFieldLine } from "./field-line.js";
import { HOP_BY_HOP_HEADERS } from "./hop-by-hop.js";

/** A replica's head larger than this is refused (502), as undici and nginx do by default. */
export const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;

/** How the end of the response body is found (RFC 9112 §6.3). */
export type ResponseFraming =
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  /** no framing: the body ends when the replica closes the connection */
  | { kind: "until-close" }
  /** 204 and 304 */
  | { kind: "none" };

export interface ResponseHead {
  statusCode: number;
  /** the head to send the client: an HTTP/1.1 status line and the end-to-end fields, each line
   * ending in CRLF, without the blank line (the router appends its own fields first) */
  relayedHead: string;
  framing: ResponseFraming;
  /** the replica keeps the connection open for another request */
  reusable: boolean;
  /** the replica's `Keep-Alive: timeout=N`, in ms */
  keepAliveHintMs: number | undefined;
  headLength: number;
}

export type ResponseHeadParse =
  | { kind: "head"; head: ResponseHead }
  /** a 1xx head (e.g. 103 Early Hints): skip it, the real head follows */
  | { kind: "informational"; headLength: number }
  | { kind: "incomplete" }
  | { kind: "invalid"; reason: string };

const INCOMPLETE: ResponseHeadParse = { kind: "incomplete" };
const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9][0-9]{2})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;
const DIGITS = /^[0-9]{1,15}$/;
const KEEP_ALIVE_TIMEOUT = /(?:^|[,;\s])timeout=([0-9]{1,6})/i;

function invalid(reason: string): ResponseHeadParse {
  return { kind: "invalid", reason };
}

/**
 * Parses a replica's response head, strictly: a replica that answers something malformed gets a
 * 502, never a half-understood relay. `from` is where the head starts in `buffer`.
 */
export function parseResponseHead(buffer: Buffer, from = 0): ResponseHeadParse {
  const end = buffer.indexOf(HEAD_END, from);
  if (end === -1) return buffer.length - from > MAX_RESPONSE_HEAD_BYTES ? invalid("response head too large") : INCOMPLETE;
  const headLength = end + 4 - from;
  if (headLength > MAX_RESPONSE_HEAD_BYTES) return invalid("response head too large");
  const lines = buffer.toString("latin1", from, end).split("\r\n");
  const statusLine = STATUS_LINE.exec(lines[0]!);
  if (statusLine === null) return invalid("malformed status line");
  const statusCode = Number(statusLine[2]);
  if (statusCode < 200) return { kind: "informational", headLength };
  const http10 = statusLine[1] === "0";

  let contentLength = -1;
  let chunked = false;
  let transferEncoding = false;
  let sawClose = false;
  let sawKeepAlive = false;
  let keepAliveHintMs: number | undefined;
  let connectionOptions: Set<string> | undefined;
  const kept: Array<{ name: string; line: string }> = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const field = parseFieldLine(line);
    if (field === undefined) return invalid("malformed header field");
    const { name, value } = field;
    switch (name) {
      case "content-length":
        if (!DIGITS.test(value) || (contentLength !== -1 && contentLength !== Number(value))) {
          return invalid("invalid content-length");
        }
        contentLength = Number(value);
        continue;
      case "transfer-encoding": {
        transferEncoding = true;
        const codings = value.toLowerCase().split(",");
        chunked = codings[codings.length - 1]!.trim() === "chunked";
        kept.push({ name, line });
        continue;
      }
      case "connection":
        for (const token of value.toLowerCase().split(",")) {
          const option = token.trim();
          if (option === "close") sawClose = true;
          else if (option === "keep-alive") sawKeepAlive = true;
          else if (option !== "") (connectionOptions ??= new Set()).add(option);
        }
        continue;
      case "keep-alive": {
        const timeout = KEEP_ALIVE_TIMEOUT.exec(value);
        if (timeout !== null) keepAliveHintMs = Number(timeout[1]) * 1000;
        continue;
      }
    }
    if (HOP_BY_HOP_HEADERS.has(name)) continue;
    kept.push({ name, line });
  }
  // HTTP/1.0 keeps the connection only when it says so.
  const connectionClose = sawClose || (http10 && !sawKeepAlive);

  let framing: ResponseFraming;
  if (statusCode === 204 || statusCode === 304) framing = { kind: "none" };
  else if (chunked) framing = { kind: "chunked" };
  else if (transferEncoding) framing = { kind: "until-close" };
  else if (contentLength !== -1) framing = { kind: "length", length: contentLength };
  else framing = { kind: "until-close" };

  let relayedHead = `HTTP/1.1 ${statusLine[2]} ${statusLine[3] ?? ""}\r\n`;
  for (const { name, line } of kept) {
    if (connectionOptions?.has(name)) continue;
    // The chunked framing is relayed as is; any other transfer coding ends with the connection.
    if (name === "transfer-encoding" && framing.kind !== "chunked" && framing.kind !== "until-close") continue;
    relayedHead += `${line}\r\n`;
  }
  if (framing.kind === "length") relayedHead += `content-length: ${framing.length}\r\n`;
  return {
    kind: "head",
    head: {
      statusCode,
      relayedHead,
      framing,
      // A body framed by the connection's end, or both framings at once (RFC 9112 §6.3: handle,
      // then close), means this connection cannot carry another request.
      reusable: !connectionClose && framing.kind !== "until-close" && !(transferEncoding && contentLength !== -1),
      keepAliveHintMs,
      headLength,
    },
  };
}
