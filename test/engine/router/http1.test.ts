import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ChunkedBodyScanner, ChunkedEncodingError } from "../../../engine/router/http1/chunked-body.js";
import { HOP_BY_HOP_HEADERS } from "../../../engine/router/http1/hop-by-hop.js";
import {
  MAX_FAST_BODY_BYTES,
  MAX_REQUEST_HEAD_BYTES,
  parseRequestHead,
  type RequestHead,
  type RequestHeadParse,
} from "../../../engine/router/http1/request-head.js";
import {
  MAX_RESPONSE_HEAD_BYTES,
  parseResponseHead,
  type ResponseHead,
  type ResponseHeadParse,
} from "../../../engine/router/http1/response-head.js";

/** Bytes of a string, one byte per char (HTTP/1 heads are latin1). */
function bytes(text: string): Buffer {
  return Buffer.from(text, "latin1");
}

function concat(parts: ReadonlyArray<Uint8Array>): Buffer {
  return Buffer.concat(parts.map((part) => Buffer.from(part.buffer, part.byteOffset, part.byteLength)));
}

/** Scans `pieces` with one scanner; the results, one per piece, up to and including the first that is not -1. */
function scanPieces(pieces: ReadonlyArray<Uint8Array>, scanner = new ChunkedBodyScanner()): number[] {
  const results: number[] = [];
  for (const piece of pieces) {
    const result = scanner.scan(piece, 0);
    results.push(result);
    if (result !== -1) break;
  }
  return results;
}

/** Scans all of `text` in one piece with a new scanner. */
function scanOnce(text: string | Uint8Array, from = 0): number {
  return new ChunkedBodyScanner().scan(typeof text === "string" ? bytes(text) : text, from);
}

/** Cuts `buffer` at the given (sorted, in-range) offsets; empty pieces included. */
function cut(buffer: Buffer, offsets: ReadonlyArray<number>): Buffer[] {
  const pieces: Buffer[] = [];
  let start = 0;
  for (const offset of offsets) {
    pieces.push(buffer.subarray(start, offset));
    start = offset;
  }
  pieces.push(buffer.subarray(start));
  return pieces;
}

// ---------------------------------------------------------------------------------------------
// Chunked body scanner
// ---------------------------------------------------------------------------------------------

describe("ChunkedBodyScanner", () => {
  describe("examples", () => {
    it.each([
      ["a zero-length body", "0\r\n\r\n"],
      ["a single chunk", "5\r\nhello\r\n0\r\n\r\n"],
      ["several chunks", "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n"],
      ["uppercase hex", "A\r\n0123456789\r\n1F\r\n0123456789012345678901234567890\r\n0\r\n\r\n"],
      ["lowercase hex", "a\r\n0123456789\r\n1f\r\n0123456789012345678901234567890\r\n0\r\n\r\n"],
      ["leading zeros in sizes", "0005\r\nhello\r\n000\r\n\r\n"],
      ["a chunk extension", "5;name=value\r\nhello\r\n0\r\n\r\n"],
      ["several extensions with whitespace and a quoted value", '5 ; a=1 ;b="x; y=\\"z\\""\t;c\r\nhello\r\n0;last\r\n\r\n'],
      ["whitespace before the CRLF of a size line", "5 \r\nhello\r\n0\t\r\n\r\n"],
      ["one trailer", "5\r\nhello\r\n0\r\nExpires: never\r\n\r\n"],
      ["several trailers", "5\r\nhello\r\n0\r\nA: 1\r\nB-Long-Name:  x y z \r\nC:\r\n\r\n"],
      ["chunk data that looks like the end", "5\r\n0\r\n\r\n\r\n0\r\n\r\n"],
      ["chunk data that is only CRLFs", "4\r\n\r\n\r\n\r\n0\r\n\r\n"],
      ["binary chunk data", "4\r\n\x00\xff\r\x0a\r\n0\r\n\r\n"],
    ])("finds the end of %s", (_name, body) => {
      expect(scanOnce(body)).toBe(body.length);
      // the next message does not change where this body ends
      expect(scanOnce(`${body}HTTP/1.1 200 OK\r\n\r\n`)).toBe(body.length);
      expect(scanOnce(`${body}0\r\n\r\n`)).toBe(body.length);
    });

    it("finds the same end when fed one byte at a time", () => {
      const body = "5;ext=1\r\nhello\r\nB\r\n\r\n0\r\n\r\nxyza\r\n0\r\nT: v\r\n\r\n";
      const next = "5\r\nnext!\r\n0\r\n\r\n";
      const all = bytes(body + next);
      const scanner = new ChunkedBodyScanner();
      for (let i = 0; i < all.length; i++) {
        const result = scanner.scan(all.subarray(i, i + 1));
        if (i < body.length - 1) {
          expect(result, `byte ${i}`).toBe(-1);
          expect(scanner.done).toBe(false);
        } else {
          expect(result).toBe(1); // the final LF is this piece's only byte
          expect(scanner.done).toBe(true);
          break;
        }
      }
    });

    it("honours `from` and returns an index into the buffer it was given", () => {
      const prefix = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
      const body = "3\r\nabc\r\n0\r\n\r\n";
      expect(scanOnce(`${prefix}${body}tail`, prefix.length)).toBe(prefix.length + body.length);
      // a later read: the first piece ends mid-chunk, the second holds the end after 2 bytes of other data
      const scanner = new ChunkedBodyScanner();
      expect(scanner.scan(bytes("xx3\r\na"), 2)).toBe(-1);
      expect(scanner.scan(bytes("yybc\r\n0\r\n\r\nzz"), 2)).toBe(11); // 2 + "bc\r\n0\r\n\r\n".length
    });

    it("returns -1 until the end, and is done only then", () => {
      const scanner = new ChunkedBodyScanner();
      expect(scanner.done).toBe(false);
      expect(scanner.scan(bytes(""))).toBe(-1);
      expect(scanner.scan(bytes("5\r\nhel"))).toBe(-1);
      expect(scanner.scan(bytes("lo\r\n0\r\n"))).toBe(-1);
      expect(scanner.scan(bytes("\r"))).toBe(-1);
      expect(scanner.done).toBe(false);
      expect(scanner.scan(bytes("\nrest"))).toBe(1);
      expect(scanner.done).toBe(true);
    });

    it("consumes nothing more once done: a later scan ends at `from`", () => {
      const scanner = new ChunkedBodyScanner();
      expect(scanner.scan(bytes("0\r\n\r\n"))).toBe(5);
      expect(scanner.scan(bytes("more bytes"))).toBe(0);
      expect(scanner.scan(bytes("more bytes"), 4)).toBe(4);
      expect(scanner.scan(bytes(""))).toBe(0);
      expect(scanner.done).toBe(true);
    });

    it("skips large chunk data in bulk across reads", () => {
      const size = 16 * 1024 * 1024;
      const scanner = new ChunkedBodyScanner();
      expect(scanner.scan(bytes(`${size.toString(16)}\r\n`))).toBe(-1);
      const piece = new Uint8Array(1024 * 1024).fill(0x0d); // data bytes are never looked at
      for (let sent = 0; sent < size; sent += piece.length) expect(scanner.scan(piece)).toBe(-1);
      expect(scanner.scan(bytes("\r\n0\r\n\r\n"))).toBe(7);
    });

    it("accepts a 13-digit chunk size (the largest exact one)", () => {
      expect(scanOnce("fffffffffffff\r\nabc")).toBe(-1);
      expect(scanOnce("0000000000000\r\n\r\n")).toBe(17);
    });

    it("accepts extension and trailer lines of a few KiB", () => {
      const long = "x".repeat(4096);
      const body = `1;${long}\r\na\r\n0\r\nT: ${long}\r\n\r\n`;
      expect(scanOnce(body)).toBe(body.length);
    });
  });

  describe("malformed bodies", () => {
    it.each([
      ["a non-hex size", "g\r\nabc\r\n0\r\n\r\n"],
      ["a non-hex digit after hex digits", "5g\r\nhello\r\n0\r\n\r\n"],
      ["a 0x prefix", "0x5\r\nhello\r\n0\r\n\r\n"],
      ["a negative size", "-5\r\nhello\r\n0\r\n\r\n"],
      ["a plus sign", "+5\r\nhello\r\n0\r\n\r\n"],
      ["an empty size line", "\r\nhello\r\n0\r\n\r\n"],
      ["an empty body", "\r\n"],
      ["whitespace before the size", " 5\r\nhello\r\n0\r\n\r\n"],
      ["an extension without a size", ";ext\r\nhello\r\n0\r\n\r\n"],
      ["a size with 14 digits", "10000000000000\r\n"],
      ["a size with 14 digits, leading zeros included", "00000000000001\r\na\r\n0\r\n\r\n"],
      ["a huge size", "ffffffffffffffffffff\r\n"],
      ["data longer than its size (no CRLF after the data)", "3\r\nabcd\r\n0\r\n\r\n"],
      ["data shorter than its size", "5\r\nabc\r\n0\r\n\r\n"],
      ["CR without LF after the data", "3\r\nabc\rX0\r\n\r\n"],
      ["a bare LF after the data", "3\r\nabc\n0\r\n\r\n"],
      ["a bare LF ending the size line", "3\nabc\r\n0\r\n\r\n"],
      ["a bare LF ending the last-chunk line", "0\n\r\n"],
      ["CR without LF ending the size line", "3\rabc\r\n0\r\n\r\n"],
      ["a bare LF in a chunk extension", "3;a\nb\r\nabc\r\n0\r\n\r\n"],
      ["a NUL in a chunk extension", "3;a\x00b\r\nabc\r\n0\r\n\r\n"],
      ["a bare LF ending a trailer line", "0\r\nA: 1\n\r\n"],
      ["a bare LF starting the trailer section", "0\r\n\nA: 1\r\n\r\n"],
      ["a NUL in a trailer", "0\r\nA: \x00\r\n\r\n"],
      ["CR without LF ending a trailer line", "0\r\nA: 1\rB: 2\r\n\r\n"],
      ["the LF missing at the end", "0\r\n\rX"],
      ["the LF missing at the end, after a trailer", "3\r\nabc\r\n0\r\nA: 1\r\n\r\r\n"],
      ["a bare LF as the end", "0\r\n\n"],
      ["an extension line longer than 8 KiB", `1;${"x".repeat(16 * 1024)}\r\na\r\n0\r\n\r\n`],
      ["a trailer line longer than 8 KiB", `0\r\nT: ${"x".repeat(16 * 1024)}\r\n\r\n`],
    ])("throws on %s", (_name, body) => {
      expect(() => scanOnce(body)).toThrow(ChunkedEncodingError);
    });

    it("throws on the piece that breaks the grammar, not before", () => {
      const scanner = new ChunkedBodyScanner();
      expect(scanner.scan(bytes("3\r\nab"))).toBe(-1);
      expect(scanner.scan(bytes("c"))).toBe(-1);
      expect(() => scanner.scan(bytes("X\r\n0\r\n\r\n"))).toThrow(ChunkedEncodingError);
    });

    it("throws errors named ChunkedEncodingError", () => {
      let caught: unknown;
      try {
        scanOnce("zz\r\n");
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ChunkedEncodingError);
      expect(caught).toBeInstanceOf(Error);
      expect((caught as Error).name).toBe("ChunkedEncodingError");
    });
  });

  describe("properties", () => {
    /** Chunk data: random bytes mixed with sequences that look like framing. */
    const payload = fc
      .array(
        fc.oneof(
          { weight: 3, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 24 }) },
          { weight: 2, arbitrary: fc.constantFrom("\r\n", "0\r\n\r\n", "\r\n\r\n", "\r", "\n", "0", ";", "5\r\n").map(bytes) },
        ),
        { minLength: 1, maxLength: 6 },
      )
      .map(concat);
    const token = fc.stringMatching(/^[a-zA-Z0-9!#$%&'*+.^_`|~-]{1,8}$/);
    const quoted = fc.stringMatching(/^"[ !#-~\t]{0,10}"$/);
    const bws = fc.constantFrom("", " ", "\t", " \t ");
    const extension = fc
      .tuple(bws, token, fc.option(fc.tuple(bws, bws, fc.oneof(token, quoted)), { nil: undefined }))
      .map(([space, name, value]) => `${space};${name}${value === undefined ? "" : `${value[0]}=${value[1]}${value[2]}`}`);
    const extensions = fc.array(extension, { maxLength: 3 }).map((list) => list.join(""));
    const sizeStyle = fc.record({ upper: fc.boolean(), zeros: fc.nat(3) });
    const sizeLine = (size: number, style: { upper: boolean; zeros: number }, ext: string): string => {
      const hex = size.toString(16);
      return `${"0".repeat(style.zeros)}${style.upper ? hex.toUpperCase() : hex}${ext}\r\n`;
    };
    const trailer = fc
      .tuple(token, fc.constantFrom(":", ": ", ":\t"), fc.stringMatching(/^[ -~\t]{0,20}$/))
      .map(([name, colon, value]) => `${name}${colon}${value}\r\n`);
    const chunkedBody = fc
      .record({
        chunks: fc.array(fc.record({ data: payload, style: sizeStyle, ext: extensions }), { maxLength: 6 }),
        lastStyle: sizeStyle,
        lastExt: extensions,
        trailers: fc.array(trailer, { maxLength: 3 }),
      })
      .map(({ chunks, lastStyle, lastExt, trailers }) => {
        const parts: Buffer[] = [];
        for (const chunk of chunks) {
          parts.push(bytes(sizeLine(chunk.data.length, chunk.style, chunk.ext)), Buffer.from(chunk.data), bytes("\r\n"));
        }
        parts.push(bytes(`${sizeLine(0, lastStyle, lastExt)}${trailers.join("")}\r\n`));
        return { encoded: Buffer.concat(parts), chunks: chunks.length };
      });
    const nextMessage = fc.oneof(
      fc.uint8Array({ maxLength: 30 }),
      fc.constantFrom("\r\n", "0\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n", "\n").map(bytes),
    );
    const cutPoints = fc.array(fc.nat(), { maxLength: 10 });

    it("reports the end once, at its exact offset, whatever the reads", () => {
      fc.assert(
        fc.property(chunkedBody, nextMessage, cutPoints, ({ encoded }, next, rawCuts) => {
          const whole = Buffer.concat([encoded, Buffer.from(next)]);
          const offsets = rawCuts.map((n) => n % (whole.length + 1)).sort((a, b) => a - b);
          const pieces = cut(whole, offsets);
          const scanner = new ChunkedBodyScanner();
          let start = 0;
          let reported = 0;
          for (const piece of pieces) {
            const result = scanner.scan(piece, 0);
            const endsHere = start < encoded.length && encoded.length <= start + piece.length;
            if (endsHere) {
              expect(result).toBe(encoded.length - start);
              expect(scanner.done).toBe(true);
              reported++;
              break;
            }
            expect(result).toBe(-1);
            expect(scanner.done).toBe(false);
            start += piece.length;
          }
          expect(reported).toBe(1);
        }),
        { numRuns: 500 },
      );
    });

    it("reports the end relative to the buffer when scanning from an offset", () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 20 }), chunkedBody, nextMessage, (prefix, { encoded }, next) => {
          const buffer = Buffer.concat([Buffer.from(prefix), encoded, Buffer.from(next)]);
          expect(scanOnce(buffer, prefix.length)).toBe(prefix.length + encoded.length);
        }),
      );
    });

    it("returns -1 for every proper prefix of a body", () => {
      fc.assert(
        fc.property(chunkedBody, fc.nat(), ({ encoded }, n) => {
          const length = n % encoded.length; // 0 .. encoded.length - 1
          expect(scanOnce(encoded.subarray(0, length))).toBe(-1);
        }),
      );
    });

    it("throws when the CRLF after some chunk's data is broken", () => {
      fc.assert(
        fc.property(
          fc.array(payload, { minLength: 1, maxLength: 4 }),
          fc.nat(),
          fc.boolean(),
          fc.integer({ min: 0, max: 255 }),
          cutPoints,
          (datas, which, breakLf, replacement, rawCuts) => {
            const broken = which % datas.length;
            const parts: Buffer[] = [];
            let breakAt = -1;
            for (const [index, data] of datas.entries()) {
              parts.push(bytes(`${data.length.toString(16)}\r\n`), Buffer.from(data));
              if (index === broken) breakAt = parts.reduce((sum, part) => sum + part.length, 0) + (breakLf ? 1 : 0);
              parts.push(bytes("\r\n"));
            }
            parts.push(bytes("0\r\n\r\n"));
            const whole = Buffer.concat(parts);
            fc.pre(replacement !== (breakLf ? 0x0a : 0x0d));
            whole[breakAt] = replacement;
            const offsets = rawCuts.map((n) => n % (whole.length + 1)).sort((a, b) => a - b);
            expect(() => scanPieces(cut(whole, offsets))).toThrow(ChunkedEncodingError);
          },
        ),
      );
    });

    it("throws when a size line holds a byte that is neither hex, extension nor CRLF", () => {
      const notAllowed = fc
        .integer({ min: 0, max: 255 })
        .filter((byte) => !/[0-9a-fA-F; \t\r]/.test(String.fromCharCode(byte)));
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 0xffff }), notAllowed, (size, byte) => {
          expect(() => scanOnce(Buffer.concat([bytes(size.toString(16)), Buffer.of(byte), bytes("\r\n")]))).toThrow(ChunkedEncodingError);
        }),
      );
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Request head
// ---------------------------------------------------------------------------------------------

function expectHead(parsed: RequestHeadParse): RequestHead {
  expect(parsed.kind).toBe("head");
  if (parsed.kind !== "head") throw new Error(`not a head: ${JSON.stringify(parsed)}`);
  return parsed.head;
}

function requestOf(lines: ReadonlyArray<string>, requestLine = "POST /models/m1/production/predict HTTP/1.1"): string {
  return `${[requestLine, ...lines].join("\r\n")}\r\n\r\n`;
}

describe("parseRequestHead", () => {
  describe("accepted heads", () => {
    it("parses a typical prediction request", () => {
      const head = requestOf([
        "Host: router.example:8080",
        "User-Agent: curl/8.5.0",
        "Content-Type: application/json",
        "Content-Length: 13",
        "Accept: */*",
      ], "POST /models/m1/production/predict?x=1&y=%20 HTTP/1.1");
      const body = '{"inputs":[]}';
      expect(parseRequestHead(bytes(head + body))).toEqual({
        kind: "head",
        head: {
          method: "POST",
          target: "/models/m1/production/predict?x=1&y=%20",
          forwardedFields: "User-Agent: curl/8.5.0\r\nContent-Type: application/json\r\nAccept: */*\r\n",
          authorization: undefined,
          contentLength: 13,
          close: false,
          headLength: head.length,
        },
      });
    });

    it("parses a request without a body", () => {
      const head = requestOf(["Host: a"], "GET / HTTP/1.1");
      expect(expectHead(parseRequestHead(bytes(head)))).toEqual({
        method: "GET",
        target: "/",
        forwardedFields: "",
        authorization: undefined,
        contentLength: 0,
        close: false,
        headLength: head.length,
      });
    });

    it("drops hop-by-hop fields, host, content-length and the credential (kept aside), keeping the others verbatim and in order", () => {
      const head = requestOf([
        "X-First: 1",
        "Connection: keep-alive",
        "Keep-Alive: timeout=5",
        "host: a",
        "Proxy-Connection: keep-alive",
        "X-Second:   spaced  value\t ",
        "TE: trailers",
        "Trailer: X-Checksum",
        "Proxy-Authorization: Basic Zm9vOmJhcg==",
        "Proxy-Authenticate: Basic",
        "content-LENGTH: 2",
        "x-third:",
        "Authorization: Bearer t",
      ]);
      const parsed = expectHead(parseRequestHead(bytes(head)));
      expect(parsed.forwardedFields).toBe("X-First: 1\r\nX-Second:   spaced  value\t \r\nx-third:\r\n");
      expect(parsed.authorization).toBe("Bearer t");
      expect(parsed.contentLength).toBe(2);
      expect(parsed.close).toBe(false);
    });

    it.each([
      ["close", true],
      ["Close", true],
      ["CLOSE", true],
      ["keep-alive", false],
      ["Keep-Alive", false],
    ])("reads Connection: %s", (option, close) => {
      const parsed = expectHead(parseRequestHead(bytes(requestOf(["Host: a", `Connection:  ${option} `]))));
      expect(parsed.close).toBe(close);
      expect(parsed.forwardedFields).toBe("");
    });

    it("reads close from either of two Connection fields", () => {
      expect(expectHead(parseRequestHead(bytes(requestOf(["Host: a", "Connection: keep-alive", "Connection: close"])))).close).toBe(true);
    });

    it.each([
      ["0", 0],
      ["1", 1],
      ["  42\t", 42],
      ["007", 7],
      [String(MAX_FAST_BODY_BYTES), MAX_FAST_BODY_BYTES],
      ["0065536", 65536],
    ])("reads Content-Length: %j", (value, length) => {
      expect(expectHead(parseRequestHead(bytes(requestOf(["Host: a", `Content-Length:${value}`])))).contentLength).toBe(length);
    });

    it("matches field names without regard to case", () => {
      const parsed = expectHead(parseRequestHead(bytes(requestOf(["HOST: a", "CONTENT-LENGTH: 3", "CONNECTION: CLOSE", "X-Kept: yes"]))));
      expect(parsed).toMatchObject({ contentLength: 3, close: true, forwardedFields: "X-Kept: yes\r\n" });
    });

    it("accepts obs-text in field values and forwards it byte for byte", () => {
      const head = requestOf(["Host: a", "X-Name: caf\xe9 \x80\xff"]);
      const parsed = expectHead(parseRequestHead(bytes(head)));
      expect(bytes(parsed.forwardedFields)).toEqual(bytes("X-Name: caf\xe9 \x80\xff\r\n"));
    });

    it("accepts an empty Host value and any token method", () => {
      expect(expectHead(parseRequestHead(bytes(requestOf(["Host:"], "PATCH /x HTTP/1.1")))).method).toBe("PATCH");
      expect(expectHead(parseRequestHead(bytes(requestOf(["Host: a"], "ABCDEFGHIJKLMNOP /x HTTP/1.1")))).method).toBe("ABCDEFGHIJKLMNOP");
    });

    it("accepts any visible ASCII in the target", () => {
      const target = "/a/b;c?d=e&f=%2F#frag!$'()*+,:@~[]{}|^`\"<>\\";
      expect(expectHead(parseRequestHead(bytes(requestOf(["Host: a"], `GET ${target} HTTP/1.1`)))).target).toBe(target);
    });

    it("parses only the first of pipelined requests, and headLength excludes the body", () => {
      const first = requestOf(["Host: a", "Content-Length: 4"]);
      const second = requestOf(["Host: b"], "GET /second HTTP/1.1");
      const parsed = expectHead(parseRequestHead(bytes(`${first}\r\n\r\n${second}`)));
      expect(parsed).toMatchObject({ target: "/models/m1/production/predict", contentLength: 4, headLength: first.length });
    });

    it("accepts a head of exactly 16 KiB", () => {
      const base = requestOf(["Host: a", "X-Pad: "]);
      const head = requestOf(["Host: a", `X-Pad: ${"p".repeat(MAX_REQUEST_HEAD_BYTES - base.length)}`]);
      expect(head.length).toBe(MAX_REQUEST_HEAD_BYTES);
      expect(expectHead(parseRequestHead(bytes(head))).headLength).toBe(MAX_REQUEST_HEAD_BYTES);
    });
  });

  describe("incomplete heads", () => {
    it.each([
      ["nothing", ""],
      ["part of the request line", "POST /models"],
      ["the request line", "POST / HTTP/1.1\r\n"],
      ["fields without the blank line", "POST / HTTP/1.1\r\nHost: a\r\n"],
      ["half of the blank line", "POST / HTTP/1.1\r\nHost: a\r\n\r"],
    ])("is incomplete with %s", (_name, text) => {
      expect(parseRequestHead(bytes(text))).toEqual({ kind: "incomplete" });
    });

    it.each([
      ["a bare-LF blank line", "POST / HTTP/1.1\r\nHost: a\n\n"],
      ["bare-LF line ends", "POST / HTTP/1.1\nHost: a\n"],
    ])("hands over %s at once (node:http answers 400; waiting would hang until the keep-alive timeout)", (_name, text) => {
      expect(parseRequestHead(bytes(text))).toEqual({ kind: "unsupported", reason: "bare LF" });
    });

    it("is incomplete for every proper prefix of a head", () => {
      const head = requestOf(["Host: a", "Content-Length: 2", "X-A: b"]);
      for (let length = 0; length < head.length; length++) {
        expect(parseRequestHead(bytes(head.slice(0, length))).kind, `prefix of ${length} bytes`).toBe("incomplete");
      }
    });
  });

  describe("unsupported requests", () => {
    const unsupported = (text: string): void => {
      expect(parseRequestHead(bytes(text)).kind).toBe("unsupported");
    };

    it.each([
      ["HTTP/1.0", "POST / HTTP/1.0"],
      ["HTTP/0.9", "GET /"],
      ["HTTP/2.0", "POST / HTTP/2.0"],
      ["HTTP/1.10", "POST / HTTP/1.10"],
      ["a lowercase version", "POST / http/1.1"],
      ["a lowercase method", "post / HTTP/1.1"],
      ["a method with a dash", "M-SEARCH / HTTP/1.1"],
      ["a method longer than 16 letters", "ABCDEFGHIJKLMNOPQ / HTTP/1.1"],
      ["an absolute-form target", "POST http://example.com/models/m1/production/predict HTTP/1.1"],
      ["an absolute-form https target", "POST https://example.com/ HTTP/1.1"],
      ["an authority-form target", "CONNECT example.com:443 HTTP/1.1"],
      ["an asterisk-form target", "OPTIONS * HTTP/1.1"],
      ["an empty target", "POST  HTTP/1.1"],
      ["a space in the target", "POST /a b HTTP/1.1"],
      ["a tab in the target", "POST /a\tb HTTP/1.1"],
      ["non-ASCII in the target", "POST /caf\xe9 HTTP/1.1"],
      ["two spaces after the method", "POST  / HTTP/1.1"],
      ["a trailing space", "POST / HTTP/1.1 "],
      ["a leading space", " POST / HTTP/1.1"],
      ["a bare LF inside the request line", "POST /\n HTTP/1.1"],
      ["a bare CR inside the request line", "POST /\r HTTP/1.1"],
      ["a bare LF ending the request line", "POST / HTTP/1.1\nX: y"],
      ["a leading empty line", "\r\nPOST / HTTP/1.1"],
    ])("rejects a request line with %s", (_name, requestLine) => {
      unsupported(requestOf(["Host: a"], requestLine));
    });

    it.each([
      ["Transfer-Encoding: chunked", ["Host: a", "Transfer-Encoding: chunked"]],
      ["Transfer-Encoding: identity", ["Host: a", "transfer-encoding: identity"]],
      ["Transfer-Encoding and Content-Length", ["Host: a", "Content-Length: 5", "Transfer-Encoding: chunked"]],
      ["Expect: 100-continue", ["Host: a", "Expect: 100-continue", "Content-Length: 5"]],
      ["any Expect", ["Host: a", "EXPECT:"]],
      ["Upgrade", ["Host: a", "Connection: Upgrade", "Upgrade: websocket"]],
      ["Upgrade without Connection", ["Host: a", "Upgrade: h2c"]],
      ["Connection: upgrade", ["Host: a", "Connection: upgrade"]],
      ["Connection: keep-alive, close", ["Host: a", "Connection: keep-alive, close"]],
      ["Connection: close, TE", ["Host: a", "Connection: close, TE", "TE: trailers"]],
      ["Connection: x-foo", ["Host: a", "Connection: x-foo", "X-Foo: 1"]],
      ["an empty Connection", ["Host: a", "Connection:"]],
      ["no Host", ["Content-Length: 0"]],
      ["no fields at all", []],
      ["two Hosts", ["Host: a", "Host: a"]],
      ["two Hosts, differing", ["Host: a", "X: y", "host: b"]],
      ["two identical Content-Lengths", ["Host: a", "Content-Length: 5", "Content-Length: 5"]],
      ["two differing Content-Lengths", ["Host: a", "Content-Length: 5", "Content-Length: 6"]],
      ["a list Content-Length", ["Host: a", "Content-Length: 5, 5"]],
      ["a non-numeric Content-Length", ["Host: a", "Content-Length: abc"]],
      ["a negative Content-Length", ["Host: a", "Content-Length: -1"]],
      ["a signed Content-Length", ["Host: a", "Content-Length: +1"]],
      ["a hex Content-Length", ["Host: a", "Content-Length: 0x10"]],
      ["a fractional Content-Length", ["Host: a", "Content-Length: 1.5"]],
      ["an empty Content-Length", ["Host: a", "Content-Length:"]],
      ["a Content-Length with inner space", ["Host: a", "Content-Length: 1 2"]],
      ["a Content-Length of 8 digits", ["Host: a", "Content-Length: 00000001"]],
      ["a body over 64 KiB", ["Host: a", `Content-Length: ${MAX_FAST_BODY_BYTES + 1}`]],
      ["a very large body", ["Host: a", "Content-Length: 9999999"]],
      ["an obs-fold line", ["Host: a", "X-A: b", " folded"]],
      ["an obs-fold line with a tab", ["Host: a", "X-A: b", "\tfolded"]],
      ["a line without a colon", ["Host: a", "X-A b"]],
      ["whitespace before the colon", ["Host: a", "X-A : b"]],
      ["whitespace before the colon of Host", ["Host : a"]],
      ["an empty field name", ["Host: a", ": b"]],
      ["a non-token field name", ["Host: a", "X(A): b"]],
      ["a non-ASCII field name", ["Host: a", "X-\xe9: b"]],
      ["a bare LF inside a field line", ["Host: a", "X-A: b\nc"]],
      ["a bare LF ending a field line", ["Host: a\nX-A: b"]],
      ["a bare CR inside a field line", ["Host: a", "X-A: b\rc"]],
      ["a bare CR ending a field line", ["Host: a\r", "X-A: b"]],
      ["a NUL in a field value", ["Host: a", "X-A: b\x00c"]],
      ["a DEL in a field value", ["Host: a", "X-A: b\x7fc"]],
      ["a control character in a field value", ["Host: a", "X-A: b\x01"]],
    ])("rejects %s", (_name, lines) => {
      unsupported(requestOf(lines));
    });

    it("rejects a head over 16 KiB", () => {
      const base = requestOf(["Host: a", "X-Pad: "]);
      const head = requestOf(["Host: a", `X-Pad: ${"p".repeat(MAX_REQUEST_HEAD_BYTES + 1 - base.length)}`]);
      expect(head.length).toBe(MAX_REQUEST_HEAD_BYTES + 1);
      unsupported(head);
    });

    it("rejects 16 KiB without a blank line instead of waiting for more", () => {
      const text = `POST / HTTP/1.1\r\nHost: a\r\nX-Pad: ${"p".repeat(MAX_REQUEST_HEAD_BYTES)}`;
      unsupported(text.slice(0, MAX_REQUEST_HEAD_BYTES));
      unsupported(text);
      expect(parseRequestHead(bytes(text.slice(0, MAX_REQUEST_HEAD_BYTES - 1))).kind).toBe("incomplete");
    });

    it("rejects long field lines that do not match in linear time", () => {
      // A field-line pattern whose OWS can match the same spaces in several ways backtracks in
      // cubic time on the first shape (seconds for 2000 spaces, tens of minutes for 16 KiB: a
      // client could stall the router with one request) and quadratic time on the second.
      const spaces = " ".repeat(MAX_REQUEST_HEAD_BYTES - 100);
      for (const line of [`X-A:${spaces.slice(0, 2000)}\x01`, `X-A:${" \t".repeat(1000)}\x00`, `X-A: a${spaces}\x01`, `X-A: a${" a".repeat(4000)} \x7f`]) {
        const text = requestOf(["Host: a", line]);
        const started = performance.now();
        unsupported(text);
        expect(performance.now() - started).toBeLessThan(100);
      }
    });

    it("rejects a field line with a bare CR or LF inserted anywhere in it", () => {
      fc.assert(
        fc.property(
          fc.array(fc.stringMatching(/^X-[a-zA-Z0-9-]{1,8}: [!-~]([ !-~]{0,20}[!-~])?$/), { minLength: 1, maxLength: 5 }),
          fc.nat(),
          fc.nat(),
          fc.constantFrom("\r", "\n"),
          (lines, whichLine, where, inserted) => {
            const all = ["Host: a", ...lines];
            const index = whichLine % all.length;
            const line = all[index]!;
            const at = where % (line.length + 1);
            all[index] = `${line.slice(0, at)}${inserted}${line.slice(at)}`;
            unsupported(requestOf(all));
          },
        ),
      );
    });
  });

  describe("properties", () => {
    const tokenName = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,20}$/);
    const special = new Set(["content-length", "host", "connection", "transfer-encoding", "expect", "upgrade", "authorization"]);
    const droppable = [...HOP_BY_HOP_HEADERS].filter((name) => !special.has(name));
    const randomCase = (name: string) =>
      fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((upper) =>
        [...name].map((char, i) => (upper[i] ? char.toUpperCase() : char)).join(""),
      );
    const valueChar = fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0x21, max: 0x7e }) },
      { weight: 2, arbitrary: fc.constantFrom(0x20, 0x09) },
      { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
    );
    const value = fc.array(valueChar, { maxLength: 30 }).map((codes) => String.fromCharCode(...codes));
    const field = fc.oneof(
      {
        weight: 4,
        arbitrary: fc
          .tuple(tokenName.filter((name) => !HOP_BY_HOP_HEADERS.has(name.toLowerCase()) && !special.has(name.toLowerCase())), value)
          .map(([name, v]) => ({ line: `${name}:${v}`, forwarded: true })),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.constantFrom(...droppable).chain(randomCase), value)
          .map(([name, v]) => ({ line: `${name}:${v}`, forwarded: false })),
      },
    );
    const ows = fc.constantFrom("", " ", "\t", "  ");
    const requestHead = fc.record({
      method: fc.stringMatching(/^[A-Z]{1,16}$/),
      target: fc.stringMatching(/^\/[!-~]{0,30}$/),
      fields: fc.array(field, { maxLength: 15 }),
      host: fc.tuple(randomCase("host"), ows, fc.stringMatching(/^[!-~]{0,30}$/), ows, fc.nat()),
      contentLength: fc.option(fc.tuple(randomCase("content-length"), ows, fc.nat(MAX_FAST_BODY_BYTES), fc.nat(2), ows, fc.nat()), {
        nil: undefined,
      }),
      connection: fc.option(fc.tuple(randomCase("connection"), ows, fc.constantFrom("close", "keep-alive"), fc.boolean(), ows, fc.nat()), {
        nil: undefined,
      }),
      after: fc.uint8Array({ maxLength: 40 }),
    });

    it("parses a well-formed head, forwarding exactly the end-to-end fields in order", () => {
      fc.assert(
        fc.property(requestHead, ({ method, target, fields, host, contentLength, connection, after }) => {
          const lines = fields.map((f) => f.line);
          const insert = (line: string, position: number) => lines.splice(position % (lines.length + 1), 0, line);
          insert(`${host[0]}:${host[1]}${host[2]}${host[3]}`, host[4]);
          if (contentLength !== undefined) {
            const [name, before, length, zeros, behind, position] = contentLength;
            insert(`${name}:${before}${"0".repeat(zeros)}${length}${behind}`, position);
          }
          if (connection !== undefined) {
            const [name, before, option, upper, behind, position] = connection;
            insert(`${name}:${before}${upper ? option.toUpperCase() : option}${behind}`, position);
          }
          const head = requestOf(lines, `${method} ${target} HTTP/1.1`);
          const parsed = parseRequestHead(Buffer.concat([bytes(head), Buffer.from(after)]));
          expect(parsed).toEqual({
            kind: "head",
            head: {
              method,
              target,
              forwardedFields: fields
                .filter((f) => f.forwarded)
                .map((f) => `${f.line}\r\n`)
                .join(""),
              authorization: undefined,
              contentLength: contentLength?.[2] ?? 0,
              close: connection?.[2] === "close",
              headLength: head.length,
            },
          });
        }),
        { numRuns: 300 },
      );
    });

    it("rejects a well-formed head once a Transfer-Encoding, Expect or Upgrade field or a second Host is added", () => {
      fc.assert(
        fc.property(
          fc.array(field, { maxLength: 8 }),
          fc.constantFrom("Transfer-Encoding: chunked", "Expect: 100-continue", "Upgrade: websocket", "Host: other"),
          fc.nat(),
          (fields, extra, position) => {
            const lines = ["Host: a", ...fields.map((f) => f.line)];
            lines.splice(position % (lines.length + 1), 0, extra);
            expect(parseRequestHead(bytes(requestOf(lines))).kind).toBe("unsupported");
          },
        ),
      );
    });

    it("never throws, whatever the bytes", () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.uint8Array({ maxLength: 200 }),
            fc.array(fc.constantFrom("POST / HTTP/1.1", "Host: a", "\r\n", "\r", "\n", ":", " ", "Connection:", "Content-Length: 1", "x"), { maxLength: 20 }).map((parts) => bytes(parts.join(""))),
          ),
          (buffer) => {
            const parsed = parseRequestHead(Buffer.from(buffer));
            expect(["head", "incomplete", "unsupported"]).toContain(parsed.kind);
            if (parsed.kind === "head") {
              expect(parsed.head.headLength).toBeLessThanOrEqual(buffer.length);
              expect(Buffer.from(buffer).subarray(parsed.head.headLength - 4, parsed.head.headLength).toString("latin1")).toBe("\r\n\r\n");
            }
          },
        ),
      );
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Response head
// ---------------------------------------------------------------------------------------------

function responseOf(lines: ReadonlyArray<string>, statusLine = "HTTP/1.1 200 OK"): string {
  return `${[statusLine, ...lines].join("\r\n")}\r\n\r\n`;
}

function expectResponse(parsed: ResponseHeadParse): ResponseHead {
  expect(parsed.kind).toBe("head");
  if (parsed.kind !== "head") throw new Error(`not a head: ${JSON.stringify(parsed)}`);
  return parsed.head;
}

function parseResponse(lines: ReadonlyArray<string>, statusLine?: string): ResponseHead {
  return expectResponse(parseResponseHead(bytes(responseOf(lines, statusLine))));
}

describe("parseResponseHead", () => {
  describe("framing", () => {
    it("frames by content-length, and relays the length last", () => {
      const text = responseOf(["Content-Type: application/json", "Content-Length: 42", "X-Request-Id: abc"]);
      expect(parseResponseHead(bytes(`${text}{"body":1}`))).toEqual({
        kind: "head",
        head: {
          statusCode: 200,
          relayedHead: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: abc\r\ncontent-length: 42\r\n",
          framing: { kind: "length", length: 42 },
          reusable: true,
          keepAliveHintMs: undefined,
          headLength: text.length,
        },
      });
    });

    it("accepts identical duplicate content-lengths and relays one", () => {
      const head = parseResponse(["Content-Length: 7", "content-length:  7 "]);
      expect(head.framing).toEqual({ kind: "length", length: 7 });
      expect(head.relayedHead).toBe("HTTP/1.1 200 OK\r\ncontent-length: 7\r\n");
      expect(head.reusable).toBe(true);
    });

    it("frames a zero content-length and a 15-digit one", () => {
      expect(parseResponse(["Content-Length: 0"]).framing).toEqual({ kind: "length", length: 0 });
      expect(parseResponse(["Content-Length: 999999999999999"]).framing).toEqual({ kind: "length", length: 999999999999999 });
    });

    it.each(["chunked", "Chunked", "gzip, chunked", "gzip,chunked", "deflate , gzip ,  CHUNKED  "])("frames Transfer-Encoding: %s as chunked", (coding) => {
      const head = parseResponse([`Transfer-Encoding: ${coding}`, "X-A: b"]);
      expect(head.framing).toEqual({ kind: "chunked" });
      expect(head.reusable).toBe(true);
      expect(head.relayedHead).toBe(`HTTP/1.1 200 OK\r\nTransfer-Encoding: ${coding}\r\nX-A: b\r\n`);
    });

    it("reads the last coding across several Transfer-Encoding fields", () => {
      expect(parseResponse(["Transfer-Encoding: gzip", "Transfer-Encoding: chunked"]).framing).toEqual({ kind: "chunked" });
      expect(parseResponse(["Transfer-Encoding: chunked", "Transfer-Encoding: gzip"]).framing).toEqual({ kind: "until-close" });
    });

    it.each(["gzip", "chunked, gzip", "identity", "chunkedx"])("frames Transfer-Encoding: %s (chunked not last) as until-close", (coding) => {
      const head = parseResponse([`Transfer-Encoding: ${coding}`, "Content-Length: 10"]);
      expect(head.framing).toEqual({ kind: "until-close" });
      expect(head.reusable).toBe(false);
      // the coding is relayed (the client also reads until close); the ignored content-length is not
      expect(head.relayedHead).toBe(`HTTP/1.1 200 OK\r\nTransfer-Encoding: ${coding}\r\n`);
    });

    it("prefers chunked over content-length, and does not reuse such a connection", () => {
      const head = parseResponse(["Content-Length: 10", "Transfer-Encoding: chunked"]);
      expect(head.framing).toEqual({ kind: "chunked" });
      expect(head.reusable).toBe(false);
      expect(head.relayedHead).toBe("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n");
    });

    it("frames a response with neither as until-close, which is not reusable", () => {
      const head = parseResponse(["Content-Type: text/plain"]);
      expect(head.framing).toEqual({ kind: "until-close" });
      expect(head.reusable).toBe(false);
      expect(head.relayedHead).toBe("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n");
    });

    it.each([204, 304])("frames %i as having no body, whatever its fields say", (status) => {
      const statusLine = `HTTP/1.1 ${status} X`;
      for (const fields of [[], ["Content-Length: 10"], ["Transfer-Encoding: chunked"], ["Transfer-Encoding: gzip"]]) {
        const head = parseResponse(["ETag: \"v1\"", ...fields], statusLine);
        expect(head.framing).toEqual({ kind: "none" });
        expect(head.relayedHead).toBe(`HTTP/1.1 ${status} X\r\nETag: "v1"\r\n`);
      }
      expect(parseResponse([], statusLine).reusable).toBe(true);
      expect(parseResponse(["Connection: close"], statusLine).reusable).toBe(false);
    });

    it("frames other status codes, including errors, by their fields", () => {
      expect(parseResponse(["Content-Length: 3"], "HTTP/1.1 500 Internal Server Error").framing).toEqual({ kind: "length", length: 3 });
      expect(parseResponse(["Content-Length: 3"], "HTTP/1.1 205 Reset Content").framing).toEqual({ kind: "length", length: 3 });
      expect(parseResponse(["Transfer-Encoding: chunked"], "HTTP/1.1 404 Not Found").framing).toEqual({ kind: "chunked" });
    });
  });

  describe("connection reuse", () => {
    it("reuses an HTTP/1.0 connection only with Connection: keep-alive", () => {
      const plain = parseResponse(["Content-Length: 2"], "HTTP/1.0 200 OK");
      expect(plain.reusable).toBe(false);
      expect(plain.framing).toEqual({ kind: "length", length: 2 });
      expect(plain.relayedHead).toBe("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n");
      const kept = parseResponse(["Connection: Keep-Alive", "Keep-Alive: timeout=3, max=10", "Content-Length: 2"], "HTTP/1.0 200 OK");
      expect(kept).toMatchObject({ reusable: true, keepAliveHintMs: 3000, relayedHead: "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n" });
      expect(parseResponse(["Connection: keep-alive, close", "Content-Length: 2"], "HTTP/1.0 200 OK").reusable).toBe(false);
      expect(parseResponse(["Connection: keep-alive"], "HTTP/1.0 200 OK").reusable).toBe(false); // until close
    });

    it.each(["close", "Close", "keep-alive, close", "close, x-foo", " , close ,"])("does not reuse a connection after Connection: %s", (option) => {
      const head = parseResponse([`Connection: ${option}`, "Content-Length: 0"]);
      expect(head.reusable).toBe(false);
      expect(head.relayedHead).toBe("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n");
    });

    it("removes the fields a Connection option names, and all hop-by-hop fields", () => {
      const head = parseResponse([
        "Connection: x-foo, X-Bar",
        "X-Foo: secret",
        "Connection: x-baz",
        "x-bar: 1",
        "X-Baz: 2",
        "X-Kept: yes",
        "Keep-Alive: timeout=5",
        "Proxy-Connection: keep-alive",
        "Proxy-Authenticate: Basic",
        "Trailer: X-Checksum",
        "Upgrade: h2c",
        "TE: trailers",
        "X-FOO: again",
        "Content-Length: 1",
      ]);
      expect(head.relayedHead).toBe("HTTP/1.1 200 OK\r\nX-Kept: yes\r\ncontent-length: 1\r\n");
      expect(head.reusable).toBe(true);
    });

    it.each([
      ["timeout=5", 5000],
      ["Timeout=5", 5000],
      ["timeout=5, max=100", 5000],
      ["max=100, timeout=30", 30000],
      ["max=100;timeout=2", 2000],
      ["timeout=0", 0],
      ["max=100", undefined],
      ["xtimeout=5", undefined],
      ["timeout=abc", undefined],
    ])("reads Keep-Alive: %s as a %s ms hint", (value, hint) => {
      const head = parseResponse([`Keep-Alive: ${value}`, "Content-Length: 0"]);
      expect(head.keepAliveHintMs).toBe(hint);
      expect(head.relayedHead).toBe("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n");
    });
  });

  describe("status line", () => {
    it("relays an HTTP/1.1 status line with the reason phrase", () => {
      expect(parseResponse(["Content-Length: 0"], "HTTP/1.1 404 Not Found").relayedHead).toBe("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n");
      expect(parseResponse(["Content-Length: 0"], "HTTP/1.0 503 Service Unavailable").relayedHead).toBe(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n",
      );
      expect(parseResponse(["Content-Length: 0"], "HTTP/1.1 200 caf\xe9\tok").relayedHead).toBe("HTTP/1.1 200 caf\xe9\tok\r\ncontent-length: 0\r\n");
    });

    it("accepts an empty or missing reason phrase", () => {
      expect(parseResponse(["Content-Length: 0"], "HTTP/1.1 200 ").relayedHead).toBe("HTTP/1.1 200 \r\ncontent-length: 0\r\n");
      const head = parseResponse(["Content-Length: 0"], "HTTP/1.1 200");
      expect(head.statusCode).toBe(200);
      expect(head.relayedHead).toBe("HTTP/1.1 200 \r\ncontent-length: 0\r\n");
    });

    it.each([
      ["103 Early Hints", "HTTP/1.1 103 Early Hints", ["Link: </style.css>; rel=preload"]],
      ["100 Continue", "HTTP/1.1 100 Continue", []],
      ["102 without a reason", "HTTP/1.1 102", []],
      ["199 from HTTP/1.0", "HTTP/1.0 199 X", ["X: y"]],
    ])("reports %s as informational, with its length", (_name, statusLine, lines) => {
      const text = responseOf(lines, statusLine);
      const final = responseOf(["Content-Length: 0"]);
      expect(parseResponseHead(bytes(`${text}${final}`))).toEqual({ kind: "informational", headLength: text.length });
      // the real head follows
      expect(expectResponse(parseResponseHead(bytes(`${text}${final}`), text.length)).headLength).toBe(final.length);
    });

    it.each([
      ["a two-digit status", "HTTP/1.1 20 OK"],
      ["a four-digit status", "HTTP/1.1 2000 OK"],
      ["a status below 100", "HTTP/1.1 099 OK"],
      ["a non-numeric status", "HTTP/1.1 2x0 OK"],
      ["no space before the reason", "HTTP/1.1 200OK"],
      ["two spaces before the status", "HTTP/1.1  200 OK"],
      ["HTTP/2", "HTTP/2 200 OK"],
      ["HTTP/1.2", "HTTP/1.2 200 OK"],
      ["HTTP/2.0", "HTTP/2.0 200 OK"],
      ["a lowercase protocol", "http/1.1 200 OK"],
      ["no protocol", "200 OK"],
      ["a leading space", " HTTP/1.1 200 OK"],
      ["an empty status line", ""],
      ["a bare LF in the reason", "HTTP/1.1 200 O\nK"],
      ["a bare CR in the reason", "HTTP/1.1 200 O\rK"],
      ["a NUL in the reason", "HTTP/1.1 200 O\x00K"],
      ["a request line", "GET / HTTP/1.1"],
    ])("rejects %s", (_name, statusLine) => {
      expect(parseResponseHead(bytes(responseOf(["Content-Length: 0"], statusLine))).kind).toBe("invalid");
    });
  });

  describe("invalid fields", () => {
    it.each([
      ["differing duplicate content-lengths", ["Content-Length: 5", "Content-Length: 6"]],
      ["differing duplicate content-lengths, far apart", ["Content-Length: 5", "X: y", "content-length: 50"]],
      ["a list content-length", ["Content-Length: 5, 5"]],
      ["a negative content-length", ["Content-Length: -1"]],
      ["a signed content-length", ["Content-Length: +1"]],
      ["a hex content-length", ["Content-Length: 0x1"]],
      ["an empty content-length", ["Content-Length:"]],
      ["a 16-digit content-length", ["Content-Length: 1000000000000000"]],
      ["an obs-fold line", ["X-A: b", " folded", "Content-Length: 0"]],
      ["a line without a colon", ["X-A b", "Content-Length: 0"]],
      ["whitespace before the colon", ["X-A : b", "Content-Length: 0"]],
      ["an empty field name", [": b", "Content-Length: 0"]],
      ["a bare LF in a field line", ["X-A: b\nc", "Content-Length: 0"]],
      ["a bare CR in a field line", ["X-A: b\rc", "Content-Length: 0"]],
      ["a NUL in a field value", ["X-A: b\x00", "Content-Length: 0"]],
    ])("rejects %s", (_name, lines) => {
      expect(parseResponseHead(bytes(responseOf(lines))).kind).toBe("invalid");
    });

    it("rejects long field lines that do not match in linear time", () => {
      // see the same test for request heads
      const spaces = " ".repeat(MAX_RESPONSE_HEAD_BYTES / 2);
      for (const line of [`X-A:${spaces.slice(0, 2000)}\x01`, `X-A: a${spaces}\x01`, `X-A: a${" a".repeat(8000)} \x7f`]) {
        const started = performance.now();
        expect(parseResponseHead(bytes(responseOf([line, "Content-Length: 0"]))).kind).toBe("invalid");
        expect(performance.now() - started).toBeLessThan(100);
      }
    });

    it("accepts a head of 64 KiB and rejects a larger one", () => {
      const base = responseOf(["X-Pad: ", "Content-Length: 0"]);
      const fits = responseOf([`X-Pad: ${"p".repeat(MAX_RESPONSE_HEAD_BYTES - base.length)}`, "Content-Length: 0"]);
      expect(fits.length).toBe(MAX_RESPONSE_HEAD_BYTES);
      expect(expectResponse(parseResponseHead(bytes(fits))).headLength).toBe(MAX_RESPONSE_HEAD_BYTES);
      const tooLarge = responseOf([`X-Pad: ${"p".repeat(MAX_RESPONSE_HEAD_BYTES + 1 - base.length)}`, "Content-Length: 0"]);
      expect(parseResponseHead(bytes(tooLarge))).toEqual({ kind: "invalid", reason: "response head too large" });
    });

    it("rejects more than 64 KiB without a blank line instead of waiting for more", () => {
      const text = `HTTP/1.1 200 OK\r\nX-Pad: ${"p".repeat(MAX_RESPONSE_HEAD_BYTES)}`;
      expect(parseResponseHead(bytes(text)).kind).toBe("invalid");
      expect(parseResponseHead(bytes(`xyz${text}`), 3).kind).toBe("invalid");
      expect(parseResponseHead(bytes(text.slice(0, 1000))).kind).toBe("incomplete");
    });
  });

  describe("incomplete heads and offsets", () => {
    it("is incomplete for every proper prefix of a head", () => {
      const text = responseOf(["Content-Length: 2", "X-A: b"]);
      for (let length = 0; length < text.length; length++) {
        expect(parseResponseHead(bytes(text.slice(0, length))), `prefix of ${length} bytes`).toEqual({ kind: "incomplete" });
      }
    });

    it("honours `from`: earlier bytes, blank lines included, are not part of the head", () => {
      const previous = "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nbody";
      const text = responseOf(["Transfer-Encoding: chunked"], "HTTP/1.1 201 Created");
      const buffer = bytes(`${previous}${text}0\r\n\r\n`);
      const head = expectResponse(parseResponseHead(buffer, previous.length));
      expect(head).toMatchObject({ statusCode: 201, framing: { kind: "chunked" }, headLength: text.length });
      expect(head.relayedHead).toBe("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n");
      expect(parseResponseHead(bytes(`${previous}HTTP/1.1 200 OK\r\n`), previous.length)).toEqual({ kind: "incomplete" });
      expect(parseResponseHead(bytes(`${previous}garbage\r\n\r\n`), previous.length).kind).toBe("invalid");
    });
  });

  describe("properties", () => {
    const tokenName = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,20}$/);
    const special = new Set(["content-length", "transfer-encoding", "connection", "keep-alive"]);
    const droppable = [...HOP_BY_HOP_HEADERS].filter((name) => !special.has(name));
    const value = fc
      .array(
        fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0x21, max: 0x7e }) }, { weight: 2, arbitrary: fc.constantFrom(0x20, 0x09) }, {
          weight: 1,
          arbitrary: fc.integer({ min: 0x80, max: 0xff }),
        }),
        { maxLength: 30 },
      )
      .map((codes) => String.fromCharCode(...codes));
    const field = fc.oneof(
      {
        weight: 4,
        arbitrary: fc
          .tuple(tokenName.filter((name) => !HOP_BY_HOP_HEADERS.has(name.toLowerCase()) && !special.has(name.toLowerCase())), value)
          .map(([name, v]) => ({ line: `${name}:${v}`, relayed: true })),
      },
      {
        weight: 1,
        arbitrary: fc.tuple(fc.constantFrom(...droppable), value).map(([name, v]) => ({ line: `${name}:${v}`, relayed: false })),
      },
    );
    const response = fc.record({
      status: fc.integer({ min: 200, max: 999 }).filter((status) => status !== 204 && status !== 304),
      reason: fc.stringMatching(/^[ -~\t]{0,20}$/),
      fields: fc.array(field, { maxLength: 12 }),
      contentLength: fc.option(fc.tuple(fc.nat(), fc.nat()), { nil: undefined }),
      prefix: fc.uint8Array({ maxLength: 30 }),
      after: fc.uint8Array({ maxLength: 30 }),
    });

    it("relays the status line, then the end-to-end fields in order, then the content-length", () => {
      fc.assert(
        fc.property(response, ({ status, reason, fields, contentLength, prefix, after }) => {
          const lines = fields.map((f) => f.line);
          if (contentLength !== undefined) lines.splice(contentLength[1] % (lines.length + 1), 0, `Content-Length: ${contentLength[0]}`);
          const text = responseOf(lines, `HTTP/1.1 ${status} ${reason}`);
          const buffer = Buffer.concat([Buffer.from(prefix), bytes(text), Buffer.from(after)]);
          const relayed = fields.filter((f) => f.relayed).map((f) => `${f.line}\r\n`);
          expect(parseResponseHead(buffer, prefix.length)).toEqual({
            kind: "head",
            head: {
              statusCode: status,
              relayedHead: `HTTP/1.1 ${status} ${reason}\r\n${relayed.join("")}${contentLength === undefined ? "" : `content-length: ${contentLength[0]}\r\n`}`,
              framing: contentLength === undefined ? { kind: "until-close" } : { kind: "length", length: contentLength[0] },
              reusable: contentLength !== undefined,
              keepAliveHintMs: undefined,
              headLength: text.length,
            },
          });
        }),
        { numRuns: 300 },
      );
    });

    it("never throws, whatever the bytes", () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.uint8Array({ maxLength: 200 }),
            fc
              .array(
                fc.constantFrom("HTTP/1.1 200 OK", "HTTP/1.0 103 X", "\r\n", "\r", "\n", ":", " ", "Connection:", "Content-Length: 1", "Transfer-Encoding:", ",", "x"),
                { maxLength: 20 },
              )
              .map((parts) => bytes(parts.join(""))),
          ),
          fc.nat(),
          (buffer, rawFrom) => {
            const from = rawFrom % (buffer.length + 1);
            const parsed = parseResponseHead(Buffer.from(buffer), from);
            expect(["head", "informational", "incomplete", "invalid"]).toContain(parsed.kind);
            if (parsed.kind === "head" || parsed.kind === "informational") {
              const headLength = parsed.kind === "head" ? parsed.head.headLength : parsed.headLength;
              expect(from + headLength).toBeLessThanOrEqual(buffer.length);
              expect(Buffer.from(buffer).subarray(from + headLength - 4, from + headLength).toString("latin1")).toBe("\r\n\r\n");
            }
          },
        ),
      );
    });
  });
});
