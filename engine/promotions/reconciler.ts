/**
 * Drives every in-progress promotion. One pass per promotion: take the persisted row, observe
 * both deployments through the runtime, ask the pure planner for the next state, persist it
 * (compare-and-set on the row's version) *before* acting on it, then apply its desired replica
 * counts and traffic split. Passes run on the planner's `wakeAt`, on runtime change events and on
 * API actions; a pass with nothing changed writes nothing and re-applies the same (idempotent)
 * desired state, so after a crash the first pass resumes exactly where the row says. A pass woken
 * by its timer or by the runtime plans from the row as this engine last read or wrote it (see
 * `keptRowUsable`); one woken by anything that can change the row reads it again.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { performance } from "node:perf_hooks";
import { nameWithId } from "../../sdk/labels.js";
import { cleanupFor, isTerminalStatus, planNextStep, resumedAfterTakeover, type Observation, type PromotionState } from "../rollout/index.js";
import { replicaSetId, type ReplicaSetObservation, type Runtime } from "../runtime/runtime.js";
import { releaseLease, tryAcquireLease } from "../store/leases.js";
import { findPromotion, listInProgressPromotions, promotionCompareAndSet, type PromotionRow } from "../store/promotions.js";
import { writesCollector, type Sql } from "../store/sql.js";
import type { DeploymentController } from "../control/deployment-controller.js";
import type { Autoscaler } from "../autoscaler/index.js";
import { auditPlannerPause, auditWebhooks, persistPromotionState, persistPromotionStateAtOnce } from "./persist.js";
import type { ClusterChange } from "../control/change-feed.js";
import type { Leadership } from "../control/control-lease.js";
import type { AnalysisRunner } from "../analysis/runner.js";
import { callWebhook } from "../webhooks/call-webhook.js";
import { preRolloutWebhooks } from "../rollout/pre-rollout.js";
import { rolloutGateCallable, rolloutWebhooks } from "../rollout/rollout-webhooks.js";
import { postRolloutDue, postRolloutOutcome, postRolloutWebhooks, recordPostRollout } from "../rollout/post-rollout.js";
import type { PromotionWebhook, PromotionWebhookResult } from "../../sdk/index.js";
import { asBackgroundWork } from "../store/statement-priority.js";

export interface PromotionReconcilerOptions {
  sql: Sql;
  runtime: Runtime;
  deployments: DeploymentController;
  autoscaler: Autoscaler;
  clock?: () => number;
  /** progress lines (one per status, step, traffic or replica change) */
  log?: (line: string) => void;
  /** only the leading engine drives promotions (default: this engine alone, always) */
  leadership?: Leadership;
  /** tells the other engines of each persisted step, so their routers follow it */
  publish?: (change: ClusterChange) => void;
  /** lease time-to-live: another engine on the same PostgreSQL takes a promotion over this long after its driver died */
  leaseTtlMs?: number;
  /** safety net: a pass at least this often even without events (default 1 s) */
  maxIdleMs?: number;
  /** the longest a pass plans from the row as this engine last read or wrote it, without reading it
   * again (default 10 s; see keptRowUsable) */
  rowTrustMs?: number;
  /**
   * On PostgreSQL, how often to look for in-progress promotions this engine has not heard of
   * (default 2 s): a promotion started through another engine, or one whose driver died, raises
   * no event here, so without the scan nobody would take it over.
   */
  scanIntervalMs?: number;
  /** measures promotions with analysis (promotion_settings.analysis); without it their windows are never judged */
  analysis?: AnalysisRunner;
  /** told after every pass: its result, how long it took and how late it started (seconds) */
  onPass?: (result: "ok" | "error", seconds: number, lagSeconds: number) => void;
}

interface Scheduled {
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
  again: boolean;
  /** `performance.now()` when the next pass is due (metrics: how late it starts) */
  dueAt: number;
  /** the row as this engine's last pass of it read or wrote it (undefined: the next pass reads it) */
  kept: KeptRow | undefined;
  /** woken by something that may have changed the row (an API action, another engine): the next pass reads it */
  reread: boolean;
}

/** A promotion row as this engine last read or wrote it. */
export interface KeptRow {
  row: PromotionRow;
  /** this engine's clock when it was read or written */
  at: number;
  /** the promotion's lease epoch this engine held then (PostgreSQL; undefined on PGlite) */
  leaseEpoch: number | undefined;
}

/** What a pass ends with: when to come back (null: the promotion is over here), and the row to plan the next pass from. */
interface PassResult {
  wakeAt: number | null;
  kept: KeptRow | undefined;
}

/**
 * Whether a pass may plan from the row this engine kept instead of reading it again: one statement
 * a pass was ~9 a rolling step in bench/scale (a pass at every runtime change of either set and at
 * least every second of a 5-s stabilization), the most frequent of the control loop's statements.
 *
 * Why the kept row is the stored one. Every write of a promotion row is a compare-and-set on its
 * version (store/promotions.ts), made by (1) this reconciler, which keeps the row its write
 * returned; (2) the API's actions and starts (service/promotions.ts), which emit
 * `promotion.changed` after their commit — told to the reconciler at once (`rowMayHaveChanged`,
 * not behind the event queue), here or through the change feed from another engine (whose lost
 * notifications are told too: `allRowsMayHaveChanged`); (3) a model's deletion, which cancels its
 * promotions (`model.deleted`: `modelRowsMayHaveChanged`); (4) another engine's reconciler, only
 * with the promotion's lease — a pass that renews the lease and finds another epoch than its kept
 * row's reads the row again, and the scan (PostgreSQL, every 2 s) compares every kept row's version
 * with the store's. What a stale copy could still do, and for how long:
 * - a pass that writes: its compare-and-set on the old version fails, and it reads the row again;
 * - a pass that writes nothing re-applies the replica counts and traffic split this engine last
 *   applied (idempotent): an action it has not heard of yet takes effect on the next pass that
 *   reads, at most `trustMs` (10 s) later should every signal above have been missed.
 */
export function keptRowUsable(kept: KeptRow | undefined, reread: boolean, now: number, trustMs: number): kept is KeptRow {
  return kept !== undefined && !reread && now - kept.at < trustMs;
}

function replicaObservation(observation: ReplicaSetObservation) {
  return {
    ready: observation.ready,
    starting: observation.starting,
    failing: observation.failing,
    ...(observation.lastError !== undefined ? { lastError: observation.lastError } : {}),
  };
}

export class PromotionReconciler {
  readonly #options: PromotionReconcilerOptions;
  readonly #clock: () => number;
  /** unique per engine process; names the host (a pod's name in Kubernetes) so that people and tests
   * reading the leases table see which engine drives a promotion */
  readonly #holder = `engine-${hostname()}-${randomUUID()}`;
  readonly #scheduled = new Map<string, Scheduled>();
  /** replica set id → promotions it takes part in, to wake them on runtime events */
  readonly #bySet = new Map<string, Set<string>>();
  /** promotions this engine drove and has not cleaned up after yet */
  readonly #active = new Set<string>();
  /**
   * Promotions this engine took over mid-way (after a restart, or from a dead engine), with when,
   * until the candidate has back the ready replicas their persisted traffic needs: the planner
   * holds them meanwhile (Observation.resumingSince). What "caught up" means is the planner's
   * `resumedAfterTakeover`; only the moment of the takeover lives here, and it is this engine's own.
   */
  readonly #resuming = new Map<string, number>();
  /** promotions this engine has driven at least one pass of */
  readonly #seen = new Set<string>();
  /** promotion lease names this engine took, released on close so another engine takes over at once */
  readonly #leases = new Set<string>();
  /** promotion lease name → when (this engine's clock) it is renewed next: at a third of its
   * time-to-live, not on every pass (2 statements a pass, a pass a second: 21 a step in bench/scale) */
  readonly #leaseRenewals = new Map<string, number>();
  /** promotion lease name → the epoch this engine holds it at (another epoch: someone else held it meanwhile) */
  readonly #leaseEpochs = new Map<string, number>();
  readonly #unsubscribe: () => void;
  #scanTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: PromotionReconcilerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    // A runtime change cannot change the row: those passes plan from the kept one.
    this.#unsubscribe = options.runtime.onChange((setId) => {
      for (const promotionId of this.#bySet.get(setId) ?? []) this.#schedule(promotionId);
    });
  }

  /** Engine start: resume every promotion that was in progress. */
  async start(): Promise<void> {
    await this.#scan();
    if (this.#options.sql.kind === "postgres") this.#scheduleScan();
  }

  /**
   * Wake every in-progress promotion not already scheduled here (a lease decides who drives it), and
   * have those whose kept row is not the stored one any more (a change whose notification this
   * engine missed) read it at their next pass.
   */
  async #scan(): Promise<void> {
    const limit = 1000;
    const rows = await listInProgressPromotions(this.#options.sql, { limit });
    const stored = new Map(rows.map((row) => [row.id, row.version]));
    for (const row of rows) if (!this.#scheduled.has(row.id)) this.wake(row.id);
    for (const [id, entry] of this.#scheduled) {
      if (entry.kept === undefined) continue;
      const version = stored.get(id);
      // Not listed: ended elsewhere (when the list was complete), or its version moved on.
      if (version === undefined ? rows.length < limit : version !== entry.kept.row.version) this.rowMayHaveChanged(id);
    }
  }

  #scheduleScan(): void {
    if (this.#closed) return;
    this.#scanTimer = setTimeout(() => {
      asBackgroundWork(() => this.#scan())
        .catch((error: unknown) => this.#options.log?.(`promotion scan failed, retrying: ${(error as Error).message}`))
        .finally(() => this.#scheduleScan());
    }, this.#options.scanIntervalMs ?? 2000);
    this.#scanTimer.unref();
  }

  /** A pass is the control loop's background work, whoever woke it (statement-priority.ts). */
  #runInBackground(promotionId: string): void {
    asBackgroundWork(() => this.#run(promotionId));
  }

  /**
   * Run a pass for this promotion soon (coalesced with one already scheduled or running), reading
   * its row again: whoever wakes it from outside may have changed it (an API action, another engine).
   */
  wake(promotionId: string): void {
    this.rowMayHaveChanged(promotionId);
    this.#schedule(promotionId);
  }

  /**
   * The promotion's row may have changed (committed, told at once): its next pass reads it. Nothing
   * is scheduled here — the event's handler wakes it in its turn.
   */
  rowMayHaveChanged(promotionId: string): void {
    const entry = this.#scheduled.get(promotionId);
    if (entry !== undefined) entry.reread = true;
  }

  /** A model was deleted (its in-progress promotions canceled with it): their next passes read their rows. */
  modelRowsMayHaveChanged(modelId: string): void {
    for (const [id, entry] of this.#scheduled) if (entry.kept?.row.model_id === modelId) this.rowMayHaveChanged(id);
  }

  /** Notifications from other engines may have been lost: every next pass reads its row. */
  allRowsMayHaveChanged(): void {
    for (const id of this.#scheduled.keys()) this.rowMayHaveChanged(id);
  }

  #entry(promotionId: string): Scheduled {
    let entry = this.#scheduled.get(promotionId);
    if (!entry) {
      // Nothing kept yet: the first pass reads the row.
      entry = { timer: undefined, running: undefined, again: false, dueAt: performance.now(), kept: undefined, reread: false };
      this.#scheduled.set(promotionId, entry);
    }
    return entry;
  }

  /** A pass soon, from the kept row if there is one (a timer, a runtime change: nothing that changes the row). */
  #schedule(promotionId: string): void {
    if (this.#closed) return;
    const entry = this.#entry(promotionId);
    if (entry.running) {
      entry.again = true;
      return;
    }
    if (entry.timer) clearTimeout(entry.timer);
    entry.dueAt = performance.now();
    entry.timer = setTimeout(() => this.#runInBackground(promotionId), 0);
  }

  /**
   * Run one pass now and wait for it (tests, and callers that need the effect before answering).
   * A pass already running is waited for first, then a fresh one runs, so the pass waited for
   * started after this call: it saw everything written before it.
   */
  async reconcileNow(promotionId: string): Promise<void> {
    if (this.#closed) return;
    // A pass already running may plan from the kept row: wait for it (and for one its end started).
    for (let entry = this.#scheduled.get(promotionId); entry?.running; entry = this.#scheduled.get(promotionId)) {
      await entry.running.catch(() => undefined);
      if (this.#closed) return;
    }
    const entry = this.#entry(promotionId);
    // its caller may have written the row: this pass reads it
    entry.reread = true;
    if (entry.timer) clearTimeout(entry.timer);
    entry.dueAt = performance.now();
    this.#run(promotionId);
    await entry.running;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe();
    if (this.#scanTimer) clearTimeout(this.#scanTimer);
    const running: Promise<void>[] = [];
    for (const entry of this.#scheduled.values()) {
      if (entry.timer) clearTimeout(entry.timer);
      if (entry.running) running.push(entry.running);
    }
    await Promise.allSettled(running);
    this.#scheduled.clear();
    // A clean stop hands its promotions over now instead of after the lease's time-to-live.
    await Promise.allSettled([...this.#leases].map((name) => releaseLease(this.#options.sql, name, this.#holder)));
    this.#leases.clear();
    this.#leaseRenewals.clear();
    this.#leaseEpochs.clear();
  }

  #run(promotionId: string): void {
    const entry = this.#scheduled.get(promotionId);
    if (!entry || this.#closed) return;
    entry.timer = undefined;
    entry.again = false;
    const kept = keptRowUsable(entry.kept, entry.reread, this.#clock(), this.#options.rowTrustMs ?? 10_000) ? entry.kept : undefined;
    // Whatever this pass ends with is what the next one may plan from; a wake meanwhile sets reread again.
    entry.kept = undefined;
    entry.reread = false;
    const startedAt = performance.now();
    const passed = (result: "ok" | "error"): void => this.#options.onPass?.(result, (performance.now() - startedAt) / 1000, (startedAt - entry.dueAt) / 1000);
    entry.running = this.#pass(promotionId, kept)
      .then(
        (result): PassResult => {
          passed("ok");
          return result;
        },
        (error: unknown): PassResult => {
          passed("error");
          this.#options.log?.(`promotion ${promotionId}: reconcile pass failed, retrying: ${(error as Error).message}`);
          return { wakeAt: this.#clock() + 1000, kept: undefined };
        },
      )
      .then(({ wakeAt, kept: next }) => {
        entry.running = undefined;
        if (this.#closed) return;
        if (wakeAt === null) {
          this.#scheduled.delete(promotionId);
          return;
        }
        entry.kept = next;
        if (entry.again) return this.#schedule(promotionId);
        const delay = Math.max(0, Math.min(wakeAt - this.#clock(), this.#options.maxIdleMs ?? 1000));
        entry.dueAt = performance.now() + delay;
        entry.timer = setTimeout(() => this.#runInBackground(promotionId), delay);
      });
  }

  /**
   * One level-triggered pass, from `kept` (the row as this engine last read or wrote it, when
   * `keptRowUsable`) or else from the row read now. Returns when to come back (null: the promotion
   * is over) and the row the next pass may plan from.
   */
  async #pass(promotionId: string, kept: KeptRow | undefined): Promise<PassResult> {
    const { sql, runtime, deployments } = this.#options;
    const readAt = this.#clock();
    const row = kept?.row ?? (await findPromotion(sql, promotionId));
    const over: PassResult = { wakeAt: null, kept: undefined };
    if (!row) return over;
    const stored = row.planner_state as unknown as PromotionState;
    // States stored before the planner owned the deadline: the row has it.
    const state: PromotionState = stored.timeoutSeconds === undefined ? { ...stored, timeoutSeconds: row.timeout_seconds } : stored;
    if (isTerminalStatus(row.status)) {
      // Ended by an API action (force cancel, force roll forward, instant cancel) since the last
      // pass: the terminal write already happened with its consequences; act on it once.
      if (this.#active.has(row.id)) {
        await this.#apply(row, state);
        await this.#cleanup(row, state);
        await this.#postRollout(row, state);
      }
      return over;
    }

    // With several engines on one PostgreSQL, only the leading engine drives promotions (it alone
    // writes replica counts), and of a promotion only the holder of its lease (fencing a paused ex-leader).
    // A follower drops it: its scan wakes it again, should this engine lead later.
    if (this.#options.leadership !== undefined && !this.#options.leadership.isLeader()) return over;
    const leaseName = `promotion:${row.id}`;
    if (sql.kind === "postgres") {
      const ttlMs = this.#options.leaseTtlMs ?? 10_000;
      const leaseAt = this.#clock();
      // Held and renewed less than a third of its time-to-live ago: nobody else can hold it yet (and
      // each write is a compare-and-set on the promotion's version anyway).
      if ((this.#leaseRenewals.get(leaseName) ?? 0) <= leaseAt) {
        const epoch = await tryAcquireLease(sql, { name: leaseName, holder: this.#holder, ttlMs, now: new Date(leaseAt) });
        if (epoch === undefined) {
          this.#leaseRenewals.delete(leaseName);
          this.#leaseEpochs.delete(leaseName);
          // Another engine drives it: what it writes is read when this engine gets the lease.
          return { wakeAt: this.#clock() + 2000, kept: undefined };
        }
        this.#leases.add(leaseName);
        this.#leaseRenewals.set(leaseName, leaseAt + ttlMs / 3);
        this.#leaseEpochs.set(leaseName, epoch);
      }
      // Someone else held the lease since the kept row was read (this engine paused past its
      // time-to-live): that engine may have driven the promotion on. Plan from the store.
      if (kept !== undefined && kept.leaseEpoch !== this.#leaseEpochs.get(leaseName)) return { wakeAt: this.#clock(), kept: undefined };
    }
    const leaseEpoch = this.#leaseEpochs.get(leaseName);

    this.#track(row);
    // A promotion moves the environment between the two deployments' sets FOR THIS ENVIRONMENT:
    // replicas of their other sets (other environments, the per-deployment endpoint) are not its capacity.
    const setOf = (id: string) => replicaSetId(id, row.environment_name);
    for (const id of [state.previousDeploymentId, state.candidateDeploymentId]) {
      if (!id) continue;
      if (!deployments.specOf(setOf(id))) await deployments.syncDeployment(id);
      deployments.setOwnedByPromotion(setOf(id), true);
    }

    const { autoscaler } = this.#options;
    const environmentDemand = state.previousDeploymentId
      ? autoscaler.demand(setOf(state.previousDeploymentId)) + autoscaler.demand(setOf(state.candidateDeploymentId))
      : 0;
    const observe = (id: string) => replicaObservation(runtime.observe(setOf(id)));
    const now = this.#clock();
    const candidateObserved = observe(state.candidateDeploymentId);
    if (!this.#seen.has(row.id)) {
      this.#seen.add(row.id);
      this.#resuming.set(row.id, now);
    }
    if (this.#resuming.has(row.id) && resumedAfterTakeover(state, candidateObserved)) this.#resuming.delete(row.id);
    const resumingSince = this.#resuming.get(row.id);
    // The analysis window is measured here, at the edge; the planner records and judges it.
    const analysis = await this.#options.analysis?.measure(
      {
        promotionId: row.id,
        modelId: row.model_id,
        environmentName: row.environment_name,
        candidateName: row.deployment_name,
        previousName: row.previous_deployment_name ?? row.previous_deployment_id,
      },
      state,
      now,
    );
    // Webhook gates the planner asked for (pre-rollout before the first traffic shift, rollout
    // before each later one), called here, one after another; the planner decides from the answers.
    const webhooks =
      state.preRollout?.status === "due"
        ? await this.#callWebhooks(row, state, preRolloutWebhooks(state), {}, true)
        : state.rolloutGate !== undefined && rolloutGateCallable(state)
          ? await this.#callWebhooks(row, state, rolloutWebhooks(state), { step: state.rolloutGate.step, percent_traffic_to_new_version: state.percentTrafficToNewVersion }, true)
          : undefined;
    const observation: Observation = {
      now: webhooks === undefined ? now : this.#clock(),
      previous: state.previousDeploymentId ? observe(state.previousDeploymentId) : null,
      candidate: candidateObserved,
      ...(environmentDemand > 0 ? { demandReplicas: environmentDemand } : {}),
      ...(resumingSince !== undefined ? { resumingSince } : {}),
      ...(analysis !== undefined ? { analysis } : {}),
      ...(webhooks !== undefined ? { webhooks } : {}),
    };
    const { state: next, wakeAt, events } = planNextStep(state, observation);
    const at = new Date(observation.now).toISOString();
    const ready = { previous: observation.previous?.ready ?? 0, candidate: observation.candidate.ready };
    const rowDiffers = next !== state || row.replicas.previous.ready !== ready.previous || row.replicas.candidate.ready !== ready.candidate;
    // The row the next pass may plan from: this one as it was read (or kept), or as written below.
    let keep: KeptRow = kept ?? { row, at: readAt, leaseEpoch };
    let current = row;
    if (rowDiffers) {
      // Persist before acting: a crash right after this write resumes from it. A terminal write
      // switches the router in the same step, before the transaction returns: nobody can read
      // SUCCEEDED and still be routed to the previous deployment. (Should the commit itself fail,
      // the next pass re-reads the row and routes by it again.)
      const terminal = isTerminalStatus(next.status);
      // The planner paused it by itself (analysis inconclusive, the manual gate): a person must act, so say why where people look.
      const pausedByPlanner = next.status === "PAUSED" && state.status !== "PAUSED";
      // the answers were recorded (the gate is no longer due), so they are audited once
      const webhooksAnswered = webhooks !== undefined && next.preRollout?.status !== "due" && next.rolloutGate?.status !== "due";
      const written =
        terminal || pausedByPlanner || webhooksAnswered
          ? // One request (an end locks the environment first, the order every API action locks in):
            // at a wave's end 100 of these come within a second, and on PGlite a transaction of
            // separate statements held the one session across the event loop's turns between them.
            await persistPromotionStateAtOnce(sql, row, next, ready, at, {
              audit: (tx) => {
                if (pausedByPlanner) auditPlannerPause(tx, row, next, at);
                if (webhooks !== undefined && webhooksAnswered) auditWebhooks(tx, row, webhooks, at);
              },
              decided: () => terminal && this.route(row, next),
            })
          : // Most steps: the promotion's row alone, one statement — a transaction around it held PGlite's
            // one session for two more round trips (BEGIN, COMMIT) and the event loop's turns between them.
            await persistPromotionState(sql, row, next, ready, at);
      // Someone else wrote first (an API action, another engine): re-read and plan again.
      if (!written) return { wakeAt: this.#clock(), kept: undefined };
      current = written;
      keep = { row: written, at: this.#clock(), leaseEpoch };
      this.#options.publish?.({ type: "promotion.changed", modelId: row.model_id, environmentName: row.environment_name, promotionId: row.id });
      for (const event of events) this.#options.log?.(`${row.environment_name} → ${nameWithId(row.deployment_name, row.deployment_id)}: ${event.message}`);
    }
    await this.#apply(row, next);
    if (isTerminalStatus(next.status)) {
      await this.#cleanup(row, next);
      await this.#postRollout(current, next);
      return over;
    }
    const analysisDueAt = this.#options.analysis?.nextDueAt(row.id, next) ?? null;
    const due = [wakeAt, analysisDueAt].filter((at): at is number => at !== null);
    return { wakeAt: due.length > 0 ? Math.min(...due) : this.#clock() + (this.#options.maxIdleMs ?? 1000), kept: keep };
  }

  /**
   * Calls `hooks` one after another with the candidate's identity and per-deployment endpoint (and
   * `extra`: the rollout step, the post-rollout outcome). A gate stops at the first failure (its
   * verdict is known); post-rollout calls every hook, since none can change anything.
   */
  async #callWebhooks(row: PromotionRow, state: PromotionState, hooks: readonly PromotionWebhook[], extra: Record<string, unknown>, stopAtFailure: boolean): Promise<PromotionWebhookResult[]> {
    const results: PromotionWebhookResult[] = [];
    for (const hook of hooks) {
      const result = await callWebhook({
        hook,
        now: this.#clock,
        body: {
          name: hook.name,
          type: hook.type,
          model_id: row.model_id,
          environment: row.environment_name,
          promotion_id: row.id,
          deployment_id: state.candidateDeploymentId,
          previous_deployment_id: state.previousDeploymentId,
          endpoint: `/models/${row.model_id}/deployment/${state.candidateDeploymentId}/predict`,
          ...extra,
          metadata: hook.metadata,
        },
      });
      results.push(result);
      this.#options.log?.(`${row.environment_name} → ${nameWithId(row.deployment_name, row.deployment_id)}: ${hook.type} webhook ${hook.name} ${result.passed ? "passed" : "failed"}: ${result.message}`);
      if (stopAtFailure && !result.passed) break;
    }
    return results;
  }

  /**
   * The post-rollout webhooks of a promotion that has just ended, called once by the engine that
   * drove it, after the end and its cleanup are done (they never hold the outcome up); their
   * answers are written onto the promotion (compare-and-set on the ended row) and audited. An engine
   * that dies before this loses the call: at most once, never twice (sdk/schemas/promotion-webhooks.ts).
   */
  async #postRollout(row: PromotionRow, state: PromotionState): Promise<void> {
    if (!postRolloutDue(state)) return;
    const results = await this.#callWebhooks(row, state, postRolloutWebhooks(state), postRolloutOutcome(state), false);
    const recorded = recordPostRollout(state, results);
    const at = new Date(this.#clock()).toISOString();
    const audit = writesCollector();
    auditWebhooks(audit, row, results, at);
    const [written] = await this.#options.sql.decidedTransaction({
      decide: promotionCompareAndSet(row.id, row.version, { plannerState: recorded as unknown as Record<string, unknown> }, at),
      writes: audit.writes,
    });
    if (!written) this.#options.log?.(`${row.environment_name} → ${nameWithId(row.deployment_name, row.deployment_id)}: post-rollout answers not recorded, the promotion changed meanwhile`);
  }

  /**
   * Desired replicas and traffic of a persisted state; idempotent. Order: scale-ups, then the
   * traffic split, then scale-downs, so traffic never moves onto capacity asked away in the same pass.
   */
  async #apply(row: PromotionRow, state: PromotionState): Promise<void> {
    const { deployments } = this.#options;
    const setOf = (id: string) => replicaSetId(id, row.environment_name);
    const targets: Array<[string, number]> = [[setOf(state.candidateDeploymentId), state.desiredReplicas.candidate]];
    if (state.previousDeploymentId) targets.push([setOf(state.previousDeploymentId), state.desiredReplicas.previous]);
    const growing = targets.filter(([setId, replicas]) => replicas >= deployments.desiredReplicas(setId));
    const shrinking = targets.filter(([setId, replicas]) => replicas < deployments.desiredReplicas(setId));
    for (const [setId, replicas] of growing) deployments.setReplicas(setId, replicas);
    this.route(row, state);
    for (const [setId, replicas] of shrinking) deployments.setReplicas(setId, replicas);
  }

  /**
   * The router's split for a persisted state; idempotent. After the end, only the deployment that
   * serves. Also called by the executor when an API action (force roll forward, cancel) ends a
   * promotion, inside that request's transaction, so its answer never precedes the switch.
   */
  route(row: PromotionRow, state: PromotionState): void {
    const terminal = isTerminalStatus(state.status);
    this.#options.deployments.setTraffic(row.model_id, row.environment_name, {
      currentDeploymentId: state.status === "SUCCEEDED" ? state.candidateDeploymentId : state.previousDeploymentId,
      candidateDeploymentId: terminal ? null : state.candidateDeploymentId,
      percentToCandidate: terminal ? 0 : state.percentTrafficToNewVersion,
    });
  }

  /**
   * After the terminal write: hand both sets back to autoscaling and apply the cleanup strategy to
   * the set of the deployment that stopped serving this environment (its other sets are not
   * touched: another environment it serves keeps its own replicas). SCALE_TO_ZERO and a failed or
   * canceled candidate: the set goes to 0 and is removed; KEEP: it stays warm, out of traffic, for
   * a rollback; DEACTIVATE: persist deactivated the deployment (unless it serves elsewhere).
   */
  async #cleanup(row: PromotionRow, state: PromotionState): Promise<void> {
    const { deployments } = this.#options;
    const setOf = (id: string) => replicaSetId(id, row.environment_name);
    this.#untrack(row);
    const cleanup = cleanupFor(state);
    // The set that no longer gets the environment's traffic must not be scaled back up by the
    // autoscaler from the load it carried during the promotion (its samples span a whole window).
    const leftBehind = state.status === "SUCCEEDED" ? state.previousDeploymentId : state.candidateDeploymentId;
    if (leftBehind) this.#options.autoscaler.forgetLoad(setOf(leftBehind));
    for (const id of [state.previousDeploymentId, state.candidateDeploymentId]) if (id) deployments.setOwnedByPromotion(setOf(id), false);
    if (state.status !== "SUCCEEDED") deployments.setReplicas(setOf(state.candidateDeploymentId), 0);
    if (cleanup.action === "scale_to_zero") deployments.setReplicas(setOf(cleanup.deploymentId), 0);
    if (cleanup.action === "keep") deployments.keepSet(setOf(cleanup.deploymentId), cleanup.replicas);
    // Re-derive sets, specs and autoscaling from the rows: the candidate now serves with the
    // environment's settings; sets no longer needed are removed.
    await deployments.syncDeployments([state.previousDeploymentId, state.candidateDeploymentId].filter((id) => id !== null));
    // The route only: its deployments (current and candidate are the two just synced) would be
    // synced again, ~9 statements each; its kept sets of other deployments did not change.
    await deployments.syncEnvironment(row.model_id, row.environment_name, { deploymentsSynced: true });
  }

  #track(row: PromotionRow): void {
    this.#active.add(row.id);
    for (const id of [row.deployment_id, row.previous_deployment_id]) {
      if (!id) continue;
      const setId = replicaSetId(id, row.environment_name);
      let set = this.#bySet.get(setId);
      if (!set) this.#bySet.set(setId, (set = new Set()));
      set.add(row.id);
    }
  }

  #untrack(row: PromotionRow): void {
    this.#active.delete(row.id);
    this.#resuming.delete(row.id);
    this.#options.analysis?.forget(row.id);
    this.#seen.delete(row.id);
    this.#leaseRenewals.delete(`promotion:${row.id}`);
    this.#leaseEpochs.delete(`promotion:${row.id}`);
    for (const id of [row.deployment_id, row.previous_deployment_id]) if (id) this.#bySet.get(replicaSetId(id, row.environment_name))?.delete(row.id);
  }
}
