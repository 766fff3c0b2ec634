/**
 * When the next periodic resync runs. The resync re-reads every table (once each since issue 14's
 * snapshot; about 9 statements a deployment before), the guarantee behind the change notifications
 * between engines; it must never take more than a tenth of the engine's time: at 10,000 deployments
 * on PostgreSQL, a fixed 10-s period ran the per-row resync back to back and held the controller's
 * queue (bench/scale). Notifications lost with the
 * listening connection trigger one at once instead (the change feed's gap).
 */

/** The next resync waits at least this many times as long as the last one took. */
export const RESYNC_TIME_SHARE_INVERSE = 10;

/**
 * Delay before the next resync: the configured period, or ten times the last run if longer.
 * Examples: period 10 s, last run 0.2 s → 10 s; last run 4 s → 40 s.
 */
export function nextResyncDelayMs(periodMs: number, lastRunMs: number): number {
  return Math.max(periodMs, RESYNC_TIME_SHARE_INVERSE * lastRunMs);
}
