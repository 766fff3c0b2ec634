/**
 * The last lines a replica printed (stdout and stderr interleaved as they arrive), kept so that a
 * failure report can say what the replica said before it died. Secret values are redacted line by
 * line as lines complete, so the buffer never holds a secret (a secret never spans a newline in
 * practice; a partial line is redacted again when it is read).
 */
export class OutputTail {
  private readonly lines: string[] = [];
  private partialLine = "";
  /** Longest first, so that a secret containing another secret is replaced whole. */
  private readonly secrets: string[];

  constructor(
    private readonly maxLines: number,
    secretValues: readonly string[],
  ) {
    this.secrets = secretValues.filter((value) => value.length > 0).sort((a, b) => b.length - a.length);
  }

  append(chunk: Buffer | string): void {
    const text = this.partialLine + chunk.toString();
    const parts = text.split("\n");
    this.partialLine = parts.pop() ?? "";
    // A replica that prints megabytes without a newline must not grow the buffer without bound.
    if (this.partialLine.length > 4096) {
      parts.push(this.partialLine);
      this.partialLine = "";
    }
    for (const line of parts) this.pushLine(line);
  }

  /** Whether any kept line contains `needle` (used to detect EADDRINUSE). */
  includes(needle: string): boolean {
    return this.lines.some((line) => line.includes(needle)) || this.partialLine.includes(needle);
  }

  /** The kept lines, oldest first, secrets redacted. */
  text(): string {
    const all = this.partialLine.length > 0 ? [...this.lines, this.redact(this.partialLine)] : this.lines;
    return all.slice(-this.maxLines).join("\n");
  }

  private pushLine(line: string): void {
    this.lines.push(this.redact(line.replace(/\r$/, "")));
    if (this.lines.length > this.maxLines) this.lines.shift();
  }

  private redact(line: string): string {
    let redacted = line;
    for (const secret of this.secrets) redacted = redacted.split(secret).join("[REDACTED]");
    return redacted;
  }
}
