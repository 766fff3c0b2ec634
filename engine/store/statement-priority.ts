import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Which statements go first when the embedded database is busy. PGlite has one session, so every
 * statement waits in one line; under API load the control loop's statements (the controller
 * converging replica sets, the reconciler taking a promotion's step) waited behind every API read,
 * and each of its sequential statements paid the whole line again: at 200 API requests/s a created
 * deployment's replicas were declared 0.8–4.9 s after its creation (bench/scale), 4 ms when
 * the control loop goes first. The control loop marks its work here (data-plane.ts), the PGlite
 * adapter serves marked statements first; PostgreSQL's pool needs no order.
 */
const controlLoop = new AsyncLocalStorage<true>();

/** Run `work` (and everything it starts: promises, timers) as the control loop. */
export function asControlLoop<T>(work: () => T): T {
  return controlLoop.run(true, work);
}

export function inControlLoop(): boolean {
  return controlLoop.getStore() === true;
}
