/**
 * The live progress of a promotion. On a terminal one line is redrawn in place (carriage return
 * and erase-line, no dependency) with a small traffic bar; anywhere else (a pipe, a CI log) each
 * change is one plain line, so logs read as a history.
 */
import type { Promotion } from "../sdk/schemas/promotion.js";
import { describePromotion } from "../sdk/wait.js";

/** The part of a stream the reporter needs; `process.stdout`/`process.stderr` satisfy it. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressReporter {
  /** a new state of the promotion (called once per change) */
  update(promotion: Promotion): void;
  /** stop redrawing; leaves the last line on screen */
  finish(): void;
}

const BAR_WIDTH = 20;
/** ESC[2K erases the whole line; \r returns to its start */
const REDRAW = "\r\x1b[2K";

/** `[#####---------------]` for 25%: the share of traffic on the candidate. */
export function trafficBar(percent: number, width = BAR_WIDTH): string {
  const filled = Math.round((Math.min(100, Math.max(0, percent)) / 100) * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
}

/** The terminal line: bar, traffic to the candidate (by name), status, kind, step, ready/desired on both sides, phase, elapsed. */
export function formatLiveLine(promotion: Promotion, elapsedMs: number): string {
  const { replicas } = promotion;
  const percent = `${Math.round(promotion.percent_traffic_to_new_version)}%`.padStart(4);
  const step = promotion.total_steps > 0 ? ` step ${Math.min(promotion.step, promotion.total_steps)}/${promotion.total_steps}` : "";
  const previous = promotion.previous_deployment_id === null ? [] : [`${promotion.previous_deployment_name ?? "previous"} ${replicas.previous.ready}/${replicas.previous.desired}`];
  return [
    `${trafficBar(promotion.percent_traffic_to_new_version)} ${percent} to ${promotion.deployment_name} ${promotion.status} ${promotion.kind.toLowerCase()}${step}`,
    `ready ${[...previous, `${promotion.deployment_name} ${replicas.candidate.ready}/${replicas.candidate.desired}`].join(", ")}`,
    promotion.phase.replaceAll("_", " "),
    `${Math.floor(elapsedMs / 1000)}s`,
  ].join(" · ");
}

/** A plain log line: elapsed seconds, then the same description `pulumi up` prints. */
export function formatLogLine(promotion: Promotion, elapsedMs: number): string {
  return `[${(elapsedMs / 1000).toFixed(1).padStart(6)}s] ${describePromotion(promotion)}`;
}

export function createProgressReporter(stream: ProgressStream, now: () => number = Date.now): ProgressReporter {
  const startedAt = now();
  if (!stream.isTTY) {
    return {
      update: (promotion) => void stream.write(`${formatLogLine(promotion, now() - startedAt)}\n`),
      finish: () => undefined,
    };
  }
  let last: Promotion | undefined;
  const draw = () => {
    if (!last) return;
    // one column short of the width: a line that fills the terminal wraps, and \r then redraws only its tail
    const width = Math.max(20, (stream.columns ?? 80) - 1);
    stream.write(`${REDRAW}${formatLiveLine(last, now() - startedAt).slice(0, width)}`);
  };
  // the elapsed time keeps moving while the promotion waits on a stabilization window
  const ticker = setInterval(draw, 1_000);
  ticker.unref();
  return {
    update(promotion) {
      // a new status starts a new line, so the screen keeps the history (RELEASING, RAMPING_UP, PAUSED …)
      if (last && last.status !== promotion.status) stream.write("\n");
      last = promotion;
      draw();
    },
    finish() {
      clearInterval(ticker);
      if (last) {
        draw();
        stream.write("\n");
      }
    },
  };
}
