import { cutTrailingFormStart, redactForms, secretForms } from "./secret-forms.js";

/** A kept line longer than this is shortened (after redaction) to its start and a marker. */
const MAX_KEPT_LINE_CHARS = 1_000;

/**
 * The last lines a replica printed (stdout and stderr interleaved as they arrive), kept so that a
 * failure report can say what the replica said before it died. Secrets are redacted in every form
 * `secretForms` knows, on whole lines only: a line is redacted once its newline arrives, so a
 * secret split across two reads is still seen whole. A line that grows past `maxLineBytes` without
 * a newline is dropped rather than cut (a cut could keep half of a secret), with a marker saying so.
 */
export class OutputTail {
  private readonly lines: string[] = [];
  private partialLine = "";
  /** inside a line that grew too long: everything until its newline is dropped */
  private discarding = false;
  private discardedChars = 0;
  private readonly forms: string[];
  private readonly maxLineChars: number;

  constructor(
    private readonly maxLines: number,
    secretValues: readonly string[],
  ) {
    this.forms = secretForms(secretValues);
    // room for the longest form twice over, so that no secret is ever split by the bound
    this.maxLineChars = Math.max(64 * 1024, 2 * (this.forms[0]?.length ?? 0));
  }

  append(chunk: Buffer | string): void {
    const parts = chunk.toString().split("\n");
    const last = parts.pop()!;
    for (const part of parts) {
      if (this.discarding) {
        this.pushMarker(this.discardedChars + part.length);
        this.discarding = false;
        this.discardedChars = 0;
      } else {
        this.pushLine(this.partialLine + part);
      }
      this.partialLine = "";
    }
    if (this.discarding) {
      this.discardedChars += last.length;
      return;
    }
    this.partialLine += last;
    if (this.partialLine.length > this.maxLineChars) {
      // A replica printing megabytes without a newline must not grow the buffer without bound.
      this.discarding = true;
      this.discardedChars = this.partialLine.length;
      this.partialLine = "";
    }
  }

  /** Whether any kept line contains `needle` (used to detect EADDRINUSE). */
  includes(needle: string): boolean {
    return this.lines.some((line) => line.includes(needle)) || this.partialLine.includes(needle);
  }

  /** The kept lines, oldest first, secrets redacted; a partial last line also loses a trailing
   * start of a secret (its rest may be still to come). */
  text(): string {
    const partial = this.partialLine.length > 0 ? cutTrailingFormStart(redactForms(this.partialLine, this.forms), this.forms) : "";
    const all = partial.length > 0 ? [...this.lines, this.shorten(partial)] : this.lines;
    return all.slice(-this.maxLines).join("\n");
  }

  private pushLine(line: string): void {
    this.keep(this.shorten(redactForms(line.replace(/\r$/, ""), this.forms)));
  }

  private pushMarker(chars: number): void {
    this.keep(`[a line of ${chars} characters without a newline, not kept]`);
  }

  private keep(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.maxLines) this.lines.shift();
  }

  private shorten(line: string): string {
    if (line.length <= MAX_KEPT_LINE_CHARS) return line;
    return `${line.slice(0, MAX_KEPT_LINE_CHARS)}… [${line.length - MAX_KEPT_LINE_CHARS} more characters]`;
  }
}
