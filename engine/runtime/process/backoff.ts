/**
 * Exponential back-off between replica restarts: 200 ms, 400 ms, … capped at 10 s by default.
 * A replica that crashes on start would otherwise be restarted in a tight loop, burning CPU that
 * the healthy deployments on the same machine need.
 */
export class Backoff {
  private nextDelayMs: number;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {
    this.nextDelayMs = initialMs;
  }

  /** The delay to wait before the next attempt; each call doubles the following one. */
  next(): number {
    const delay = this.nextDelayMs;
    this.nextDelayMs = Math.min(this.nextDelayMs * 2, this.maxMs);
    return delay;
  }

  reset(): void {
    this.nextDelayMs = this.initialMs;
  }
}
