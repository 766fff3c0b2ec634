import { parseFieldLine } from "./field-line.js";
import { HOP_BY_HOP_HEADERS } from "./hop-by-hop.js";

/** The largest head the fast path reads; node:http (which gets anything larger) answers 431. */
export const MAX_REQUEST_HEAD_BYTES = 16 * 1024;
/** Bodies up to this size are read whole and sent with the head in one write; larger ones stream
 * through node:http. */
export const MAX_FAST_BODY_BYTES = 64 * 1024;

/** A request head the fast path can relay as it is. */
export interface RequestHead {
  method: string;
  /** origin-form request target: path and query */
  target: string;
  /** the fields to send on, as `name: value\r\n` lines: without hop-by-hop fields, `host` and
   * `content-length` (the router writes its own), and without `authorization` — the caller's
   * credential is the engine's business and never reaches a replica */
  forwardedFields: string;
  /** the Authorization field's value, undefined without one */
  authorization: string | undefined;
  /** 0 when the request has no body */
  contentLength: number;
  /** the client sent `Connection: close` */
  close: boolean;
  /** bytes of the head, blank line included */
  headLength: number;
}

export type RequestHeadParse =
  | { kind: "head"; head: RequestHead }
  /** the blank line has not arrived yet */
  | { kind: "incomplete" }
  /** not a request the fast path vouches for: node:http serves or rejects it with the full rules */
  | { kind: "unsupported"; reason: string };

const INCOMPLETE: RequestHeadParse = { kind: "incomplete" };
const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
/** method SP origin-form SP HTTP/1.1, visible ASCII only */
const REQUEST_LINE = /^([A-Z]{1,16}) (\/[!-~]*) HTTP\/1\.1$/;
const DIGITS = /^[0-9]{1,7}$/;

function hasBareLineFeed(buffer: Buffer): boolean {
  for (let at = buffer.indexOf(0x0a); at !== -1; at = buffer.indexOf(0x0a, at + 1)) {
    if (at === 0 || buffer[at - 1] !== 0x0d) return true;
  }
  return false;
}

function unsupported(reason: string): RequestHeadParse {
  return { kind: "unsupported", reason };
}

/**
 * Parses an HTTP/1.1 request head for the router's fast path. Deliberately narrow: HTTP/1.1,
 * origin-form target, a body framed by a content-length of at most 64 KiB, no Expect, Upgrade,
 * Transfer-Encoding or Connection options. Everything else — including anything malformed — is
 * "unsupported" and handed to node:http with the bytes unread, so the fast path can never accept
 * a request that node:http would reject (no request smuggling through the short cut).
 */
export function parseRequestHead(buffer: Buffer): RequestHeadParse {
  const end = buffer.indexOf(HEAD_END);
  if (end === -1) {
    if (buffer.length >= MAX_REQUEST_HEAD_BYTES) return unsupported("head too large");
    // A head with bare LF line ends never shows CRLF CRLF: node:http must answer it now, not the
    // keep-alive timeout 5 s later.
    return hasBareLineFeed(buffer) ? unsupported("bare LF") : INCOMPLETE;
  }
  const headLength = end + 4;
  if (headLength > MAX_REQUEST_HEAD_BYTES) return unsupported("head too large");
  const lines = buffer.toString("latin1", 0, end).split("\r\n");
  const requestLine = REQUEST_LINE.exec(lines[0]!);
  if (requestLine === null) return unsupported("request line");
  let forwardedFields = "";
  let contentLength = -1;
  let close = false;
  let hasHost = false;
  let authorization: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const field = parseFieldLine(line);
    if (field === undefined) return unsupported("field line");
    const { name, value } = field;
    switch (name) {
      case "content-length":
        if (contentLength !== -1 || !DIGITS.test(value)) return unsupported("content-length");
        contentLength = Number(value);
        if (contentLength > MAX_FAST_BODY_BYTES) return unsupported("large body");
        continue;
      case "host":
        if (hasHost) return unsupported("host");
        hasHost = true;
        continue;
      case "authorization":
        // two credentials: node:http would take the first; let it decide with its own rules
        if (authorization !== undefined) return unsupported("authorization");
        authorization = value;
        continue;
      case "connection": {
        const option = value.toLowerCase();
        if (option === "close") close = true;
        else if (option !== "keep-alive") return unsupported("connection options");
        continue;
      }
      case "transfer-encoding":
      case "expect":
      case "upgrade":
        return unsupported(name);
    }
    if (HOP_BY_HOP_HEADERS.has(name)) continue;
    forwardedFields += `${line}\r\n`;
  }
  if (!hasHost) return unsupported("host");
  return {
    kind: "head",
    head: {
      method: requestLine[1]!,
      target: requestLine[2]!,
      forwardedFields,
      authorization,
      contentLength: contentLength === -1 ? 0 : contentLength,
      close,
      headLength,
    },
  };
}
