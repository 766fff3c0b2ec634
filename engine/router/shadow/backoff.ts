/**
 * When to stop sending copies to a shadow replica that cannot be reached (issue 17): a circuit
 * breaker, decided here without I/O; engine/router/shadow/mirror.ts keeps one state per shadow
 * replica, asks `admitCopy` before each copy and tells `copyEnded` how it went.
 *
 * Why: a down shadow refuses every copy, and each refusal is a connect, an error and its handling
 * on the router's event loop — at 200 copies/s the smoke bench saw the primary's p99 grow by
 * 1.7 ms (README, "What a shadow costs the primary"). After `failuresToBackOff` connection
 * failures in a row, copies are counted as `backed_off` and not sent for a period that doubles
 * after each failed probe, from `firstBackoffMs` up to `maxBackoffMs`; when a period ends one probe
 * copy is sent (the others are still backed off until it ends); any answer resets everything.
 *
 * Worked example with the defaults (5 failures, 1 s doubling to 30 s), a shadow that is down from
 * t = 0 and back at t = 40 s: 5 copies refused → backing off until 1 s; the probe at 1 s refused →
 * until 3 s (2 s); probes at 3, 7, 15, 31 s refused (periods 4, 8, 16, 30 s) → until 61 s; the
 * probe at 61 s answers → sending. 5 copies and 5 probes (at 1, 3, 7, 15, 31 s) try the down
 * shadow in those 40 s instead of one copy per request; every other copy until 61 s is counted
 * `backed_off` (the last 21 s of them while it is up again: the price of probing rarely).
 *
 * What counts as a failure is the caller's to say: the mirror counts every copy that got no HTTP
 * answer (refused, reset, timed out, cut) and counts any answer, whatever its status, as success:
 * a shadow answering 500 is reachable, and its answers are compared like any other.
 */

export interface ShadowBackoffPolicy {
  /** connection failures in a row that start the first back-off */
  failuresToBackOff: number;
  /** the first back-off period (ms); each failed probe doubles it */
  firstBackoffMs: number;
  /** the longest back-off period (ms) */
  maxBackoffMs: number;
}

/** 5 failures: a few refused copies are noise (a replica restarting), 5 in a row at any real
 * rate is a shadow that is down; 30 s: a shadow back up is noticed within 30 s. */
export const SHADOW_BACKOFF: ShadowBackoffPolicy = { failuresToBackOff: 5, firstBackoffMs: 1_000, maxBackoffMs: 30_000 };

export type ShadowTargetState =
  /** copies are sent; `failures`: connection failures in a row so far (fewer than the policy's) */
  | { kind: "sending"; failures: number }
  /** no copy is sent before `until` (the caller's clock, ms); `backoffMs` is this period's length */
  | { kind: "backing_off"; until: number; backoffMs: number }
  /** the period is over and one probe copy is out; no other copy is sent until it ends */
  | { kind: "probing"; backoffMs: number };

/** A shadow replica nothing has gone wrong with (the state of every replica not yet tried). */
export const SENDING: ShadowTargetState = { kind: "sending", failures: 0 };

/** `send`: a copy as usual; `probe`: the one copy that tries the shadow after a back-off; `back_off`: not sent. */
export type CopyAdmission = "send" | "probe" | "back_off";

/** May a copy go to the replica now? The state after the decision (a probe starts `probing`). */
export function admitCopy(state: ShadowTargetState, now: number): { admission: CopyAdmission; next: ShadowTargetState } {
  switch (state.kind) {
    case "sending":
      return { admission: "send", next: state };
    case "backing_off":
      if (now < state.until) return { admission: "back_off", next: state };
      return { admission: "probe", next: { kind: "probing", backoffMs: state.backoffMs } };
    case "probing":
      return { admission: "back_off", next: state };
  }
}

/** How a copy sent to the replica ended: `answered` — an HTTP answer, any status; `failed` — no
 * answer (refused, reset, timed out, cut); `probe` — it was the copy `admitCopy` admitted as one. */
export type CopyEnd = { kind: "answered" } | { kind: "failed"; probe: boolean };

/** The replica's state after a copy sent to it ended at `now`. */
export function copyEnded(state: ShadowTargetState, end: CopyEnd, now: number, policy: ShadowBackoffPolicy): ShadowTargetState {
  // any answer, the probe's or one of a copy sent before the back-off began: the shadow is back
  if (end.kind === "answered") return SENDING;
  switch (state.kind) {
    case "sending": {
      const failures = state.failures + 1;
      if (failures < policy.failuresToBackOff) return { kind: "sending", failures };
      return { kind: "backing_off", until: now + policy.firstBackoffMs, backoffMs: policy.firstBackoffMs };
    }
    case "probing": {
      // a copy sent before the back-off began fails late: the probe decides, not it
      if (!end.probe) return state;
      const backoffMs = Math.min(policy.maxBackoffMs, state.backoffMs * 2);
      return { kind: "backing_off", until: now + backoffMs, backoffMs };
    }
    case "backing_off":
      // a copy sent before the back-off began: the back-off already counts it
      return state;
  }
}

/**
 * Whether the state can be dropped (the replica treated as never tried): nothing went wrong
 * with it, or it has been backing off for a whole `maxBackoffMs` past its period with no copy to
 * probe it — the replica is gone, or its shadow is no longer configured. Keeps the mirror's
 * table as small as the set of replicas failing now.
 */
export function isForgettable(state: ShadowTargetState, now: number, policy: ShadowBackoffPolicy): boolean {
  if (state.kind === "sending") return state.failures === 0;
  return state.kind === "backing_off" && now >= state.until + policy.maxBackoffMs;
}
