/**
 * When the runner opens and closes measurement windows (pure). The planner says from when windows
 * may run (`AnalysisState.windowStartsAt`, null while the candidate is not measured); the runner
 * keeps the snapshot of the open window in memory. A window closes `interval` after it opened, so
 * after an engine restart (no snapshot: counters restart too) the first window is a whole one.
 * Example: windowStartsAt 10 000, interval 2 000: at 9 000 wait; at 10 300 open; at 11 000 wait;
 * at 12 300 measure 10 300–12 300 (and the next window opens at 12 300).
 */
export type WindowMove =
  /** not measuring: forget any open window */
  | "idle"
  /** measuring, no (current) window open: take the start snapshot */
  | "open"
  /** a window is open, or windows have not started yet */
  | "wait"
  /** the open window is a whole interval long: judge it */
  | "measure";

export function windowMove(windowStartsAt: number | null, openedAt: number | undefined, intervalMs: number, now: number): WindowMove {
  if (windowStartsAt === null) return "idle";
  if (now < windowStartsAt) return "wait";
  // a window opened before the current measuring period (before a pause) measured other traffic
  if (openedAt === undefined || openedAt < windowStartsAt) return "open";
  return now >= openedAt + intervalMs ? "measure" : "wait";
}

/** When the runner next has something to do (ms), or null while not measuring. */
export function windowDueAt(windowStartsAt: number | null, openedAt: number | undefined, intervalMs: number): number | null {
  if (windowStartsAt === null) return null;
  if (openedAt === undefined || openedAt < windowStartsAt) return windowStartsAt;
  return openedAt + intervalMs;
}
