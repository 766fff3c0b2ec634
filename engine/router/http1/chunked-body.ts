/** A chunked body that breaks the grammar of RFC 9112 §7.1. */
export class ChunkedEncodingError extends Error {
  override readonly name = "ChunkedEncodingError";
}

const enum State {
  Size,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  Trailer,
  TrailerLf,
  EndLf,
  Done,
}

const CR = 0x0d;
const LF = 0x0a;
/** 13 hex digits: sizes stay exact in a double (< 2^52). */
const MAX_SIZE_DIGITS = 13;
/** Chunk extensions and trailer lines are metadata; a longer line is an attack, not a model. */
const MAX_LINE_BYTES = 8 * 1024;

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  return -1;
}

/**
 * Finds where a chunked message body ends, across any number of reads, without decoding it: the
 * router passes the replica's chunked bytes to the client unchanged and only needs to know when
 * the response is over (to reuse the connection and start the next request). Chunk data is
 * skipped in bulk; only size lines and trailers are looked at byte by byte.
 */
export class ChunkedBodyScanner {
  private state = State.Size;
  private remaining = 0;
  private digits = 0;
  private lineBytes = 0;

  get done(): boolean {
    return this.state === State.Done;
  }

  /**
   * Scans `buffer` from `from`; returns the index just past the body's last byte (its final
   * CRLF), or -1 if the body continues in a later read. Throws ChunkedEncodingError.
   */
  scan(buffer: Uint8Array, from = 0): number {
    let i = from;
    const length = buffer.length;
    while (i < length) {
      switch (this.state) {
        case State.Data: {
          const take = Math.min(this.remaining, length - i);
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = State.DataCr;
          continue;
        }
        case State.Size: {
          const byte = buffer[i]!;
          const value = hexValue(byte);
          if (value >= 0) {
            if (++this.digits > MAX_SIZE_DIGITS) throw new ChunkedEncodingError("chunk size too large");
            this.remaining = this.remaining * 16 + value;
          } else if (this.digits === 0) {
            throw new ChunkedEncodingError("chunk size expected");
          } else if (byte === CR) {
            this.state = State.SizeLf;
          } else if (byte === 0x3b || byte === 0x20 || byte === 0x09) {
            this.state = State.Extension; // ";ext" (or whitespace before it)
            this.lineBytes = 0;
          } else {
            throw new ChunkedEncodingError("invalid character in chunk size");
          }
          break;
        }
        case State.Extension:
          if (this.metadataLineEnds(buffer[i]!, "chunk extension", "chunk extension")) this.state = State.SizeLf;
          break;
        case State.SizeLf:
          if (buffer[i] !== LF) throw new ChunkedEncodingError("LF expected after chunk size");
          this.state = this.remaining === 0 ? State.TrailerStart : State.Data;
          break;
        case State.DataCr:
          if (buffer[i] !== CR) throw new ChunkedEncodingError("CRLF expected after chunk data");
          this.state = State.DataLf;
          break;
        case State.DataLf:
          if (buffer[i] !== LF) throw new ChunkedEncodingError("CRLF expected after chunk data");
          this.state = State.Size;
          this.digits = 0;
          break;
        case State.TrailerStart:
          if (buffer[i] === CR) {
            this.state = State.EndLf;
          } else {
            this.state = State.Trailer;
            this.lineBytes = 0;
            continue; // the byte belongs to the trailer line
          }
          break;
        case State.Trailer:
          if (this.metadataLineEnds(buffer[i]!, "trailer", "trailer line")) this.state = State.TrailerLf;
          break;
        case State.TrailerLf:
          if (buffer[i] !== LF) throw new ChunkedEncodingError("LF expected after trailer line");
          this.state = State.TrailerStart;
          break;
        case State.EndLf:
          if (buffer[i] !== LF) throw new ChunkedEncodingError("LF expected at the end of the body");
          this.state = State.Done;
          return i + 1;
        case State.Done:
          return i;
      }
      i++;
    }
    return this.state === State.Done ? i : -1;
  }

  /** One byte of a chunk extension or a trailer line: true at the CR that ends it. */
  private metadataLineEnds(byte: number, what: string, line: string): boolean {
    if (byte === CR) return true;
    if (byte === LF || byte === 0) throw new ChunkedEncodingError(`invalid character in ${what}`);
    if (++this.lineBytes > MAX_LINE_BYTES) throw new ChunkedEncodingError(`${line} too long`);
    return false;
  }
}
