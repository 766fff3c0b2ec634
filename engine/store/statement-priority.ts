import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Which statements go first when the store is busy. PGlite has one session and PostgreSQL a pool
 * of connections: statements wait for them in a line (statement-line.ts), where four kinds of work
 * take turns:
 * - `request`: the API's requests (anything outside the control loop);
 * - `applying`: the control loop applying a change, which the change's answer waits for
 *   (service/context.ts) — without a head start a created deployment's replicas were declared
 *   0.8–4.9 s after its creation under API load (bench/scale), 4 ms with it;
 * - `background`: the control loop's own decisions, which nobody waits on: the reconciler's passes
 *   and the autoscaler's. Promotions step together (100 in flight: ~2,400 statements every 5-s
 *   stabilization), and ahead of the API those bursts queued its requests for up to 1.3 s; their
 *   target is a lag (250 ms p99), not an answer;
 * - `bookkeeping`: the control loop's records of what it decided and observed (replica-set rows,
 *   deployments' observed status and counts): no answer waits for them and they have no target.
 *   Started from a change being applied, they used to go ahead of the API's requests in its turn.
 */
export type StatementWork = "request" | "applying" | "background" | "bookkeeping";

const controlLoop = new AsyncLocalStorage<Exclude<StatementWork, "request">>();

/**
 * Whose work a statement is: the API key an API request came with. Statements of one kind take
 * turns between callers (statement-line.ts), as kube-apiserver's priority and fairness queues a
 * flow per user: a caller that sends a burst — bench/scale's rollout driver, 100 promotes within a
 * second, each a read and a transaction — waits behind its own burst, not everyone else's requests.
 */
const caller = new AsyncLocalStorage<string>();

/** Run `work` (and everything it starts) as the work of `callerId` (an API key's id). */
export function asCaller<T>(callerId: string, work: () => T): T {
  return caller.run(callerId, work);
}

/** The caller whose work this is ("" outside any API request: the engine's own). */
export function currentCaller(): string {
  return caller.getStore() ?? "";
}

/** Run `work` (and everything it starts: promises, timers) as the control loop applying a change. */
export function asControlLoop<T>(work: () => T): T {
  return controlLoop.run("applying", work);
}

/** Run `work` (and everything it starts) as the control loop's background work. */
export function asBackgroundWork<T>(work: () => T): T {
  return controlLoop.run("background", work);
}

/** Run `work` (and everything it starts) as the control loop's bookkeeping. */
export function asBookkeeping<T>(work: () => T): T {
  return controlLoop.run("bookkeeping", work);
}

export function inControlLoop(): boolean {
  return controlLoop.getStore() !== undefined;
}

/** The kind of work the caller is doing. */
export function currentWork(): StatementWork {
  return controlLoop.getStore() ?? "request";
}
