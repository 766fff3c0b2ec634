/**
 * Keeps what runs in line with what is stored. The unit it runs is a replica set (engine/runtime):
 * for every live deployment, its own set (the per-deployment endpoint; the development
 * deployment's only set) plus one set per environment it serves, is promoted into, or was kept
 * warm in by a KEEP cleanup. An environment set's replicas carry that environment's name as
 * ENVIRONMENT, its variables and secrets; the own set carries the deployment's env only. It owns
 * each set's desired count outside promotions (through the autoscaler, per set), updates the
 * router's in-memory table, and writes what the runtime observes over all of a deployment's sets
 * (status, replica counts, error) back to the deployment row. Level-triggered: every `sync*`
 * re-reads the rows, so a missed or repeated event does no harm. The observation writes decide
 * from the row as this engine last read or wrote it (`#knownRows`), compare-and-set on it.
 */
import { createHash } from "node:crypto";
import type { AutoscalingSettings, DeploymentStatus, PromotionSettings, VariablesRollout } from "../../sdk/index.js";
import type { Autoscaler } from "../autoscaler/index.js";
import type { RoutingTable } from "../router/index.js";
import { TimeSlice } from "../time-slice.js";
import { replicaSetId, type ReplicaSetId, type ReplicaSetObservation, type ReplicaSetOwner, type ReplicaSetSpec, type Runtime, type Workload } from "../runtime/runtime.js";
import { newObjectId } from "../service/ids.js";
import { findLiveObservedDeployments, observedColumns, writeDeploymentObservations, type DeploymentRow, type ObservedDeploymentRow } from "../store/deployments.js";
import { findLiveEnvironment, listLiveEnvironments, type EnvironmentRow } from "../store/environments.js";
import { findLiveModel } from "../store/models.js";
import { findEnvironmentRoute, findInProgressPromotion, listEnvironmentRoutes, type EnvironmentRouteRow } from "../store/promotions.js";
import type { Sql } from "../store/sql.js";
import type { ReplicaSetRole, ReplicaSetRow } from "../store/replica-sets.js";
import type { ClusterChange } from "./change-feed.js";
import { ConcurrencyLimit } from "./concurrency-limit.js";
import { KnownRows } from "./known-rows.js";
import { ObservationWrites } from "./observation-writes.js";
import { ReplicaSetWrites, replicaSetRowStore } from "./replica-set-writes.js";
import type { Leadership } from "./control-lease.js";
import { liveReads, type ControllerReads } from "./store-reads.js";
import { loadStoreSnapshot, type StoreSnapshot } from "./store-snapshot.js";

/** The container port of an image deployment that names none (the common default of model servers). */
const DEFAULT_CONTAINER_PORT = 8080;

/** The development deployment: at most one replica, scales to zero when idle (reference). */
const DEVELOPMENT_AUTOSCALING: Partial<AutoscalingSettings> = { min_replica: 0, max_replica: 1, scale_down_delay: 300 };

export interface DeploymentControllerOptions {
  sql: Sql;
  runtime: Runtime;
  table: RoutingTable;
  autoscaler: Autoscaler;
  /** who decides counts (default: this engine, alone) — see engine/control/control-lease.ts */
  leadership?: Leadership;
  /** tells the other engines what the leader changed (default: nobody to tell) */
  publish?: (change: ClusterChange) => void;
  log?: (line: string) => void;
  clock?: () => Date;
}

/**
 * The controller's background writes (counts, observations) at once, at most: of PostgreSQL's pool
 * of 10 connections, the API and the reconciler keep the others; on PGlite, API statements get
 * their turn between them.
 */
const BACKGROUND_WRITES = 4;

/** How a sync reads the store, and when it records what the runtime observes. */
interface SyncReads {
  reads: ControllerReads;
  /** a resync's snapshot: record a deployment's observation once, after its sets, only when its row
   * (as read) no longer says it, and take a stored count equal to the decision as already written */
  snapshot: boolean;
}

/** One engine, nobody else: it always leads and writes unfenced. */
const ALONE: Leadership = { isLeader: () => true, fence: () => undefined };

/**
 * Why a set runs:
 * - own: the deployment's own set (per-deployment endpoint, development deployment)
 * - serving: the environment's current deployment
 * - candidate: the deployment an in-progress promotion moves the environment to
 * - kept: the previous deployment of an environment whose promotion's cleanup was KEEP (warm for
 *   a rollback, gets no traffic); in memory only, so a restarted engine does not keep it
 */
type SetRole = ReplicaSetRole;

interface ManagedSet {
  id: ReplicaSetId;
  deploymentId: string;
  environment: string | null;
  role: SetRole;
  spec: ReplicaSetSpec;
  /** replica count last asked of the runtime */
  desired: number;
  /** a promotion decides the count (the reconciler sets it); the autoscaler leaves it alone */
  ownedByPromotion: boolean;
  /** own set only: the deployment had environment sets at the last sync (own set then scales from 0) */
  besideEnvironments: boolean;
  /** `role/desired` last written to the store by this engine as leader (undefined: write at the next apply) */
  persisted: string | undefined;
  /** the count and spec of the last apply whose observation was recorded (undefined: never) */
  recorded: { replicas: number; spec: ReplicaSetSpec } | undefined;
}

interface WantedEnvironment {
  environment: EnvironmentRow;
  role: "serving" | "candidate";
}

export class DeploymentController {
  readonly #sql: Sql;
  readonly #runtime: Runtime;
  readonly #table: RoutingTable;
  readonly #autoscaler: Autoscaler;
  readonly #clock: () => Date;
  readonly #sets = new Map<ReplicaSetId, ManagedSet>();
  /** Set ids per deployment. */
  readonly #setsOf = new Map<string, Set<ReplicaSetId>>();
  /** Deployment rows' model ids, for the router table. */
  readonly #modelOf = new Map<string, string>();
  /** The same, by model: an environment's event looks at its model's sets, not at all 16,000 (bench/scale). */
  readonly #deploymentsOf = new Map<string, Set<string>>();
  /** Deployments that had a ready replica since their last (re)start: tells UNHEALTHY from FAILED. */
  readonly #everReady = new Set<string>();
  /**
   * The deployment rows' observed columns as this engine last read (a sync) or wrote (an observation)
   * them, so an observation write need not read the row first (~7 statements per rolling step in
   * bench/scale). Why that copy is the stored row, or harmless when it is not: each observation
   * write is a compare-and-set on the columns its decision read (writeDeploymentObservations), so a
   * decision from an outdated copy never lands — the write finds the row changed, reads it and
   * decides again. An outdated copy could only skip a write the row needs: when the copy already says
   * what the runtime observes while the row says something else. The row's other writers are the
   * API (create, activate, deactivate, patch: each emits deployment.changed, whose sync reads the row
   * again, here or through the change feed), a promotion's end (its cleanup deactivates: the
   * reconciler's cleanup syncs both deployments), a model's deletion (model.deleted: forgotten) and a
   * previous leader (a takeover resyncs); a resync (PostgreSQL: periodic, after lost notifications)
   * forgets every copy.
   */
  readonly #knownRows = new KnownRows<ObservedDeploymentRow>();
  readonly #backgroundWrites = new ConcurrencyLimit(BACKGROUND_WRITES);
  /** the deployment rows' observed columns, written behind the runtime's changes in batches */
  readonly #observationWrites: ObservationWrites;
  /** the replica_sets rows, written behind the decisions in batches (latest per set) */
  readonly #rowWrites: ReplicaSetWrites;
  readonly #leadership: Leadership;
  readonly #publish: (change: ClusterChange) => void;
  readonly #log: (line: string) => void;
  readonly #unsubscribe: () => void;
  /** per resync under way: the deployments synced or forgotten from live reads since its snapshot was
   * read (fresher than the snapshot: the resync leaves them alone) */
  readonly #syncedDuringResync = new Set<Set<string>>();
  /** per resync under way: the models whose events were handled from live reads since it began
   * (their routes and deployments are fresher than its snapshot and its read of the routes) */
  readonly #modelsTouchedDuringResync = new Set<Set<string>>();
  /**
   * Per deployment, the version of the rows (StoreSnapshot.inputsVersion) a resync last converged it
   * from, while nothing else has synced it since: a resync that finds the same rows passes it by.
   * Any other sync or forgetting drops it, as does a change of leadership (a follower runs the stored
   * counts, a leader its own decisions: the same rows decide differently).
   */
  readonly #convergedFrom = new Map<string, string>();
  /** how many times the leadership changed (a resync under way stops: the one the change started follows) */
  #leadershipChanges = 0;
  /** the resync under way, if any (settled when none) */
  #resyncing: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: DeploymentControllerOptions) {
    this.#sql = options.sql;
    this.#runtime = options.runtime;
    this.#table = options.table;
    this.#autoscaler = options.autoscaler;
    this.#clock = options.clock ?? (() => new Date());
    this.#leadership = options.leadership ?? ALONE;
    this.#publish = options.publish ?? (() => undefined);
    this.#log = options.log ?? (() => undefined);
    this.#rowWrites = new ReplicaSetWrites({
      store: replicaSetRowStore(this.#sql),
      run: (statement) => this.#backgroundWrites.run(statement),
      // Followers run the counts the rows say: told once per deployment per statement.
      written: (deploymentIds) => {
        for (const deploymentId of deploymentIds) this.#publish({ type: "replica_set.changed", deploymentId });
      },
      failed: (ids, error) => {
        const named = ids.length === 1 ? `replica set ${ids[0]}` : `replica sets ${ids.slice(0, 3).join(", ")}${ids.length > 3 ? ` and ${ids.length - 3} more` : ""}`;
        const its = ids.length === 1 ? { count: "its count", it: "it" } : { count: "their counts", it: "them" };
        this.#log(`${named}: could not store ${its.count} (the next change or resync stores ${its.it}): ${error.message}`);
      },
    });
    this.#observationWrites = new ObservationWrites({
      store: { read: (ids) => findLiveObservedDeployments(this.#sql, ids), write: (writes, at) => writeDeploymentObservations(this.#sql, writes, at) },
      rows: this.#knownRows,
      // Closed or no longer leading by the time of the flush: nothing is written.
      decide: (row) => (this.#closed || !this.#leadership.isLeader() ? undefined : this.#observedChange(row)),
      run: (statement) => this.#backgroundWrites.run(statement),
      clock: this.#clock,
      newAuditId: () => newObjectId("log"),
      log: this.#log,
    });
    this.#unsubscribe = this.#runtime.onChange((setId) => {
      const set = this.#sets.get(setId);
      if (set !== undefined) this.#recordObservation(set.deploymentId);
    });
  }

  /**
   * Everything again from the store: the router table, every set and its count. Engine start (a
   * deployment's persisted total restores its count when its sets have no rows yet: stores from
   * before replica_sets), the periodic resync behind the change feed's hints, a gap in those hints,
   * and this engine becoming the leader. Deployments no longer live are forgotten; the leader also
   * sweeps the runtime's sets nobody wants (Kubernetes objects left by a previous engine).
   * The store is read once (store-snapshot.ts: 10 statements whatever the size) and each deployment
   * converged from it by the same code as a change event's live reads; only what differs is written.
   */
  async resync(options: { restore?: boolean } = {}): Promise<void> {
    // One at a time: the periodic resync runs beside the event queue (data-plane.ts), a leadership
    // change's in its turn; two snapshots applied at once could leave the older one's state.
    const previous = this.#resyncing;
    const run = previous.then(async () => {
      // Notifications may have been lost, or another engine led meanwhile: every row is read again.
      this.#knownRows.forgetAll();
      const syncedLive = new Set<string>();
      const touchedModels = new Set<string>();
      this.#syncedDuringResync.add(syncedLive);
      this.#modelsTouchedDuringResync.add(touchedModels);
      try {
        await this.#resync(options, syncedLive, touchedModels);
      } finally {
        this.#syncedDuringResync.delete(syncedLive);
        this.#modelsTouchedDuringResync.delete(touchedModels);
      }
    });
    this.#resyncing = run.catch(() => undefined);
    return run;
  }

  async #resync(options: { restore?: boolean }, syncedLive: ReadonlySet<string>, touchedModels: ReadonlySet<string>): Promise<void> {
    // Every row once (a handful of statements), then every deployment from memory: the per-row reads
    // were ~9 statements a deployment, ~90,000 at 10,000 deployments (bench/scale). Of the
    // deployments' rows, only those of deployments not known unchanged (all at a restore).
    const leadership = this.#leadershipChanges;
    const snapshot = await loadStoreSnapshot(this.#sql, options.restore ? undefined : (rows, deploymentId) => !this.#unchangedSince(rows, deploymentId));
    const context: SyncReads = { reads: snapshot, snapshot: true };
    const liveIds = new Set(snapshot.deployments.map((row) => row.id));
    for (const deploymentId of [...this.#modelOf.keys()]) if (!liveIds.has(deploymentId) && !syncedLive.has(deploymentId)) await this.#forget(deploymentId);
    // The guarantee behind the hints: every stored set this engine can build is declared, whatever
    // another deployment does. One that cannot be built (a secret this engine cannot decrypt) used to
    // throw out of the loop, and every deployment after it never got its sets on this engine.
    // (in slices: at 10,000 deployments the pass is hundreds of milliseconds of CPU)
    const slice = new TimeSlice();
    for (const row of snapshot.deployments) {
      if (slice.over) await slice.yield();
      // The leadership changed: the resync it started follows this one and converges everything
      // (a restore goes on: it alone restores counts from rows of stores from before replica_sets).
      if (this.#closed || (!options.restore && this.#leadershipChanges !== leadership)) return;
      // Synced from live reads meanwhile (the reconciler, an event, a removed environment): fresher than the snapshot.
      if (syncedLive.has(row.id) || touchedModels.has(row.model_id)) continue;
      this.#table.setModel(row.model_id);
      // Converged from these very rows before and changed nothing since: the sync would decide
      // what it decided then (most of a steady resync's CPU and garbage at 10,000 deployments).
      if (this.#unchangedSince(snapshot, row.id)) continue;
      const inputs = snapshot.inputsVersion(row.id);
      this.#convergedFrom.delete(row.id);
      try {
        if (!snapshot.hasRow(row.id)) {
          // Unchanged when the snapshot was read, not now (a count's write failed since): from live reads.
          await this.syncDeployment(row.id);
          continue;
        }
        await this.#syncDeployment(context, row.id, options.restore ? { restoreReplicas: (await snapshot.deployment(row.id))?.replicas_desired ?? 0 } : {});
        // (not when a live sync took it over meanwhile: its memory is of rows newer than these)
        if (inputs !== undefined && !syncedLive.has(row.id)) this.#convergedFrom.set(row.id, inputs);
      } catch (error) {
        this.#log(`resync: deployment ${row.id}: ${(error as Error).message}`);
      }
    }
    // Every live deployment was synced just above: the environments' pass only sets their routes,
    // read now (not from the snapshot: the reconciler moved traffic meanwhile) and set without a pause.
    const routes = new Map<string, Array<EnvironmentRouteRow & { name: string }>>();
    for (const route of await listEnvironmentRoutes(this.#sql)) {
      const ofModel = routes.get(route.model_id);
      if (ofModel === undefined) routes.set(route.model_id, [route]);
      else ofModel.push(route);
    }
    for (const modelId of snapshot.modelIds) {
      // An event of the model was handled meanwhile: its routes were set from reads at least as fresh.
      if (touchedModels.has(modelId)) continue;
      // A live model has its production environment among the routes just read; one without any was
      // deleted since the snapshot (its deployments forgotten by the live path meanwhile): not back.
      if (routes.has(modelId)) this.#table.setModel(modelId);
      const live = new Set<string>();
      for (const route of routes.get(modelId) ?? []) {
        live.add(route.name);
        this.#setRoute(modelId, route.name, route);
      }
      // Deleted (through another engine, or since the snapshot): the live path removes it and its sets.
      for (const name of this.#table.environmentNames(modelId)) if (!live.has(name)) await this.syncEnvironment(modelId, name, { deploymentsSynced: true });
    }
    // Models no longer live (deleted through another engine): forgotten, as a model.deleted event would.
    const gone = new Set<string>();
    for (const row of snapshot.deployments) if (!snapshot.modelIds.has(row.model_id)) gone.add(row.model_id);
    for (const modelId of this.#table.modelIds()) if (!snapshot.modelIds.has(modelId)) gone.add(modelId);
    for (const modelId of gone) await this.syncModel(modelId, { deploymentsSynced: true });
    if (!this.#leadership.isLeader()) return;
    // Sets that outlived a previous engine (Kubernetes): those still wanted were adopted above
    // (same id and revision: nothing restarts); the rest are swept.
    for (const existing of await this.#runtime.list()) {
      if (!this.#sets.has(existing.id)) await this.#runtime.remove(existing.id);
    }
  }

  /** This engine gained or lost the control lease. */
  async leadershipChanged(leading: boolean): Promise<void> {
    this.#leadershipChanges++;
    this.#convergedFrom.clear();
    this.#runtime.setWriter(leading);
    if (!leading) return;
    // What the previous leader wrote since this engine last wrote is unknown: write again what
    // differs. The resync compares every set's count with its stored row and every deployment's
    // observation with its row as the snapshot read it (recorded reset: each one is checked), and
    // writes only those that differ; re-reading each deployment's row after it was ~1 statement a
    // deployment at every takeover.
    for (const set of this.#sets.values()) {
      set.persisted = undefined;
      set.recorded = undefined;
    }
    await this.resync();
  }

  /** A model changed: its environments' routes, or everything gone when deleted. `deploymentsSynced`:
   * the caller has just synced every live deployment (resync), so the environments' routes are enough. */
  async syncModel(modelId: string, options: { deploymentsSynced?: boolean } = {}): Promise<void> {
    this.#touchedLive(modelId);
    const model = await findLiveModel(this.#sql, modelId);
    if (!model) {
      for (const deploymentId of [...(this.#deploymentsOf.get(modelId) ?? [])]) await this.#forget(deploymentId);
      this.#table.removeModel(modelId);
      return;
    }
    this.#table.setModel(modelId);
    const environments = await listLiveEnvironments(this.#sql, modelId);
    for (const environment of environments) await this.syncEnvironment(modelId, environment.name, options);
    // Deleted through another engine: gone from the store, still routed here.
    const live = new Set(environments.map((environment) => environment.name));
    for (const name of this.#table.environmentNames(modelId)) if (!live.has(name)) await this.syncEnvironment(modelId, name, options);
  }

  /**
   * An environment changed: its route (current, candidate, traffic split) and its deployments' sets
   * (a change of its variables gives its sets a new revision: the runtime replaces their replicas).
   * `deploymentsSynced`: the route only. `promotionStarted`: a promotion into it has just started,
   * which changes nothing of its deployments but the candidate's (now promoted into it): the route
   * and the candidate only — the current one's sync was a large statement for nothing, 100 of them
   * when 100 promote requests arrive together (bench/scale).
   */
  async syncEnvironment(modelId: string, environmentName: string, options: { deploymentsSynced?: boolean; promotionStarted?: boolean } = {}): Promise<void> {
    this.#touchedLive(modelId);
    // One read of environment and promotion together: see findEnvironmentRoute.
    const route = await findEnvironmentRoute(this.#sql, modelId, environmentName);
    if (!route) {
      this.#table.removeEnvironment(modelId, environmentName);
      // Deleted: its sets go (kept ones too).
      for (const set of this.#setsOfModel(modelId)) {
        if (set.environment === environmentName) {
          await this.#removeSet(set);
          await this.syncDeployment(set.deploymentId);
        }
      }
      return;
    }
    this.#setRoute(modelId, environmentName, route);
    if (options.deploymentsSynced) return;
    if (options.promotionStarted) {
      if (route.candidate_deployment_id) await this.syncDeployment(route.candidate_deployment_id);
      return;
    }
    const deploymentIds = new Set([route.current_deployment_id, route.candidate_deployment_id].filter((id) => id !== null));
    // Sets kept warm for a rollback follow the environment's variables too: promoted again, they
    // must not serve a moment with the configuration they were kept with.
    for (const set of this.#setsOfModel(modelId)) {
      if (set.role === "kept" && set.environment === environmentName) deploymentIds.add(set.deploymentId);
    }
    // all from one read of their slice
    if (deploymentIds.size > 0) await this.syncDeployments([...deploymentIds]);
  }

  /** The sets of a model's deployments, as they are now. */
  #setsOfModel(modelId: string): ManagedSet[] {
    const sets: ManagedSet[] = [];
    for (const deploymentId of this.#deploymentsOf.get(modelId) ?? []) {
      for (const id of this.#setsOf.get(deploymentId) ?? []) {
        const set = this.#sets.get(id);
        if (set !== undefined) sets.push(set);
      }
    }
    return sets;
  }

  /** A deployment row's model, as the router table and the model's events need it. */
  #noteModel(deploymentId: string, modelId: string): void {
    const previous = this.#modelOf.get(deploymentId);
    if (previous === modelId) return;
    if (previous !== undefined) this.#deploymentsOf.get(previous)?.delete(deploymentId);
    this.#modelOf.set(deploymentId, modelId);
    let deployments = this.#deploymentsOf.get(modelId);
    if (!deployments) this.#deploymentsOf.set(modelId, (deployments = new Set()));
    deployments.add(deploymentId);
  }

  /** A model's routes and deployments are being set from live reads: every resync under way leaves it alone. */
  #touchedLive(modelId: string): void {
    for (const touched of this.#modelsTouchedDuringResync) touched.add(modelId);
  }

  /** The router's table for an environment, from its stored route. */
  #setRoute(modelId: string, environmentName: string, route: EnvironmentRouteRow): void {
    this.#table.setShadow(modelId, environmentName, route.shadow ?? null);
    this.#table.setHeaderRouting(modelId, environmentName, route.header_routing ?? null);
    this.setTraffic(modelId, environmentName, {
      currentDeploymentId: route.current_deployment_id,
      candidateDeploymentId: route.candidate_deployment_id,
      percentToCandidate: route.percent_traffic_to_new_version ?? 0,
    });
  }

  /** The router's view of an environment (the reconciler calls this at every traffic shift). */
  setTraffic(modelId: string, environmentName: string, route: { currentDeploymentId: string | null; candidateDeploymentId: string | null; percentToCandidate: number }): void {
    this.#table.setEnvironment(modelId, environmentName, route);
  }

  /**
   * A deployment changed (created, live-patched, activated, deactivated, settings, deleted, began
   * or stopped serving an environment): its route, its sets' specs and autoscaling, and the sets
   * it no longer needs removed. `restoreReplicas` re-applies a persisted count after a restart.
   */
  async syncDeployment(deploymentId: string, options: { restoreReplicas?: number } = {}): Promise<void> {
    await this.#syncLive([deploymentId], options);
  }

  /**
   * Deployments that changed together (a promotion's end: its previous and its candidate), each
   * synced as syncDeployment does, from one read of their slice of the store.
   */
  async syncDeployments(deploymentIds: readonly string[]): Promise<void> {
    await this.#syncLive(deploymentIds, {});
  }

  async #syncLive(deploymentIds: readonly string[], options: { restoreReplicas?: number }): Promise<void> {
    if (this.#closed) return;
    const ids = [...new Set(deploymentIds)];
    for (const id of ids) {
      for (const syncedLive of this.#syncedDuringResync) syncedLive.add(id);
      this.#convergedFrom.delete(id);
    }
    const reads = liveReads(this.#sql, ids);
    // A live read is what this engine knows of the rows from now on; a snapshot's may be older than
    // a write of this engine that overlapped it (the resync forgot every row before it). The slice's
    // one statement (store-reads.ts) runs inside `throughMany`.
    const live = async (): Promise<DeploymentRow[]> => (await Promise.all(ids.map((id) => reads.deployment(id)))).filter((row) => row !== undefined);
    await this.#knownRows.throughMany(ids, live, observedColumns);
    for (const id of ids) await this.#syncDeployment({ reads, snapshot: false }, id, options);
  }

  async #syncDeployment(context: SyncReads, deploymentId: string, options: { restoreReplicas?: number }): Promise<void> {
    if (this.#closed) return;
    const { reads } = context;
    const row = await reads.deployment(deploymentId);
    if (!row || !row.active) {
      if (row) {
        this.#table.setDeployment(row.model_id, row.id, { active: false, predictPath: row.spec.predict_path, isDevelopment: row.is_development });
        await this.#stop(row.id, context.snapshot ? row : undefined);
      } else {
        await this.#forget(deploymentId);
      }
      return;
    }
    this.#noteModel(row.id, row.model_id);
    this.#table.setModel(row.model_id);
    this.#table.setDeployment(row.model_id, row.id, { active: true, predictPath: row.spec.predict_path, isDevelopment: row.is_development });
    const modelName = (await reads.modelName(row.model_id)) ?? row.model_id;
    const wanted = row.is_development ? [] : await this.#wantedEnvironments(reads, row);
    // The counts the leader stored: a follower runs exactly these; the leader starts from them when
    // it first sees a set (engine start, takeover), so a restart restores every set's count.
    const stored = new Map<ReplicaSetId, ReplicaSetRow>((await reads.replicaSetsOf(row.id)).map((set) => [set.id, set]));
    const leading = this.#leadership.isLeader();
    // From a snapshot, a deployment's observation is recorded once, after all its sets are applied.
    let observationDue = false;
    const apply = (set: ManagedSet, replicas: number): void => {
      if (!context.snapshot) return this.#apply(set, replicas);
      // The count the store already holds for this set needs no write (every set at engine start and
      // after a takeover, when nothing is known to be written).
      const storedRow = stored.get(set.id);
      if (set.persisted === undefined && storedRow?.role === set.role && storedRow.desired === replicas) set.persisted = persistedKey(set.role, replicas);
      this.#apply(set, replicas, () => {
        observationDue = true;
      });
    };

    // Environment sets. One whose spec cannot be built (a secret this engine cannot decrypt) is left
    // as it runs and named in the error thrown at the end; the deployment's other sets still converge.
    const wantedIds = new Set<ReplicaSetId>([replicaSetId(row.id, null)]);
    const unbuilt: string[] = [];
    const specOrUnbuilt = (id: ReplicaSetId, environment: EnvironmentRow): Promise<ReplicaSetSpec | undefined> =>
      this.#specFor(reads, row, modelName, environment).catch((error: unknown) => {
        unbuilt.push(`${id}: ${(error as Error).message}`);
        return undefined;
      });
    for (const { environment, role } of wanted) {
      const id = replicaSetId(row.id, environment.name);
      wantedIds.add(id);
      const spec = await specOrUnbuilt(id, environment);
      if (spec === undefined) continue;
      // A candidate's count is the promotion's to set; a serving set seen for the first time without a
      // stored count (a store from before replica_sets) restores the deployment's persisted total
      // when it is the deployment's only set with replicas.
      const replicas = leading
        ? (this.#sets.get(id)?.desired ??
          stored.get(id)?.desired ??
          (role === "candidate" ? 0 : Math.max(1, environment.autoscaling_settings.min_replica, wanted.length === 1 ? (options.restoreReplicas ?? 0) : 0)))
        : (stored.get(id)?.desired ?? 0);
      const set = this.#upsert(id, row.id, environment.name, role, spec, false);
      // A candidate's count is its promotion's from the start: before the reconciler's first pass the
      // autoscaler would otherwise raise it to the environment's min_replica at once, past the surge.
      if (role === "candidate") set.ownedByPromotion = true;
      this.#autoscaler.track(id, environment.autoscaling_settings, replicas);
      if (set.ownedByPromotion) this.#autoscaler.exclude(id);
      apply(set, replicas);
    }
    // Kept sets stay until a promotion takes them again or the environment goes; the store
    // remembers them across restarts and tells followers.
    const kept = new Set<ReplicaSetId>();
    for (const id of this.#setsOf.get(row.id) ?? []) if (this.#sets.get(id)?.role === "kept" && !wantedIds.has(id)) kept.add(id);
    for (const set of stored.values()) if (set.role === "kept" && !wantedIds.has(set.id)) kept.add(set.id);
    for (const id of kept) {
      const known = this.#sets.get(id);
      const environmentName = known?.environment ?? stored.get(id)?.environment ?? null;
      const environment = environmentName === null ? undefined : await reads.environment(row.model_id, environmentName);
      if (environment === undefined) continue;
      wantedIds.add(id);
      const spec = await specOrUnbuilt(id, environment);
      if (spec === undefined) continue;
      const replicas = leading ? (known?.desired ?? stored.get(id)?.desired ?? 0) : (stored.get(id)?.desired ?? 0);
      const set = this.#upsert(id, row.id, environment.name, "kept", spec, false);
      this.#autoscaler.untrack(id);
      apply(set, replicas);
    }

    // The own set. Beside environment sets it scales from zero (a request to the per-deployment
    // endpoint wakes it): the environments' traffic is served by their own sets.
    const besideEnvironments = wantedIds.size > 1;
    const ownId = replicaSetId(row.id, null);
    const ownSpec = await this.#specFor(reads, row, modelName, null);
    const settings: Partial<AutoscalingSettings> = row.is_development
      ? DEVELOPMENT_AUTOSCALING
      : besideEnvironments ? { ...row.autoscaling_settings, min_replica: 0 } : row.autoscaling_settings;
    const own = this.#sets.get(ownId);
    let replicas: number;
    if (!leading) {
      replicas = stored.get(ownId)?.desired ?? 0;
    } else if (own !== undefined) {
      replicas = besideEnvironments && !own.besideEnvironments ? 0 : own.desired;
    } else {
      // First sight: the stored count, else (a store from before replica_sets) the persisted total;
      // a new deployment starts its minimum, and at least one replica so that a broken command shows
      // up at once, not at the first request.
      replicas = stored.get(ownId)?.desired ?? (besideEnvironments ? 0 : (options.restoreReplicas ?? Math.max(1, settings.min_replica ?? 0)));
      if (row.is_development) replicas = Math.min(replicas, 1);
    }
    const ownSet = this.#upsert(ownId, row.id, null, "own", ownSpec, besideEnvironments);
    this.#autoscaler.track(ownId, settings, replicas);
    apply(ownSet, replicas);

    // Sets it no longer needs: it stopped serving that environment, or a promotion into it ended.
    for (const id of [...(this.#setsOf.get(row.id) ?? [])]) {
      const set = this.#sets.get(id);
      if (set && !wantedIds.has(id)) await this.#removeSet(set);
    }
    // Rows of sets that are gone (a leader stopped between removing a set and its row).
    if (leading) for (const id of stored.keys()) if (!wantedIds.has(id)) this.#deleteRow(id, row.id);
    if (observationDue) this.#recordObservationUnlessStored(row);
    if (unbuilt.length > 0) throw new Error(`this engine cannot run replica set ${unbuilt.join("; ")}`);
  }

  /** Spec of a set as last synced (undefined: the controller does not run it). */
  specOf(setId: ReplicaSetId): ReplicaSetSpec | undefined {
    return this.#sets.get(setId)?.spec;
  }

  /** A promotion takes over (or gives back) the replica count of a set. */
  setOwnedByPromotion(setId: ReplicaSetId, owned: boolean): void {
    const set = this.#sets.get(setId);
    if (!set || set.ownedByPromotion === owned) return;
    set.ownedByPromotion = owned;
    if (owned) this.#autoscaler.exclude(setId);
    else this.#autoscaler.include(setId, set.desired);
  }

  /** Set a set's replica count (autoscaler decisions, promotion steps, cleanup); the leader's only. */
  setReplicas(setId: ReplicaSetId, replicas: number): void {
    const set = this.#sets.get(setId);
    if (!set || !this.#leadership.isLeader()) return;
    this.#autoscaler.setCurrentReplicas(setId, replicas);
    this.#apply(set, replicas);
  }

  /** KEEP cleanup: the previous deployment's set of the environment stays warm (no traffic) for a rollback. */
  keepSet(setId: ReplicaSetId, replicas: number): void {
    const set = this.#sets.get(setId);
    if (!set || set.environment === null || !this.#leadership.isLeader()) return;
    set.role = "kept";
    set.ownedByPromotion = false;
    // Out of traffic, nothing to autoscale on: it holds the count it had.
    this.#autoscaler.untrack(setId);
    this.#apply(set, replicas);
  }

  /** Autoscaler callback: ignored for sets a promotion owns, and on followers (the leader's autoscaler decides). */
  applyAutoscaling(setId: ReplicaSetId, replicas: number): void {
    const set = this.#sets.get(setId);
    if (set === undefined || set.ownedByPromotion || set.role === "kept" || !this.#leadership.isLeader()) return;
    this.#apply(set, replicas);
  }

  /** A request is waiting for a replica set with no ready replica. */
  wake(setId: ReplicaSetId): void {
    const set = this.#sets.get(setId);
    if (set === undefined) return;
    // A follower asks the leader, whose count it will then run.
    if (!this.#leadership.isLeader()) return this.#publish({ type: "replica_set.wake", setId });
    if (this.#autoscaler.wake(setId)) return;
    // Untracked or promotion-owned: make sure at least one replica is asked for.
    if (set.desired === 0 && !set.ownedByPromotion) this.#apply(set, 1);
  }

  /** Replica count last asked of the runtime for a set (0 when the controller does not run it). */
  desiredReplicas(setId: ReplicaSetId): number {
    return this.#sets.get(setId)?.desired ?? 0;
  }

  /**
   * Where the roll of an environment's sets onto its current variables stands. The configuration
   * they must run is derived from the store (not from the specs last handed to the runtime), so an
   * answer given right after a change, before this controller has synced it, already says
   * IN_PROGRESS: the replicas still run the previous revision.
   */
  async variablesRollout(modelId: string, environmentName: string): Promise<VariablesRollout> {
    const replicas = { desired: 0, updated_ready: 0, outdated: 0 };
    const environment = await findLiveEnvironment(this.#sql, modelId, environmentName);
    if (!environment) return { environment: environmentName, deployment_ids: [], status: "NONE", replicas };
    const promotion = await findInProgressPromotion(this.#sql, environment.id);
    const deploymentIds: string[] = [];
    for (const deploymentId of new Set([environment.current_deployment_id, promotion?.deployment_id ?? null])) {
      if (deploymentId === null) continue;
      // the row, its environment's variables and settings in one statement, as a sync reads them
      const reads = liveReads(this.#sql, [deploymentId]);
      const row = await reads.deployment(deploymentId);
      if (!row || !row.active) continue;
      deploymentIds.push(deploymentId);
      const expected = (await this.#specFor(reads, row, (await reads.modelName(modelId)) ?? modelId, environment)).revision;
      const observation = this.#runtime.observe(replicaSetId(deploymentId, environmentName));
      replicas.desired += observation.desired;
      for (const replica of observation.replicas) {
        if (replica.state === "stopped") continue;
        if (replica.revision !== expected) replicas.outdated++;
        else if (replica.state === "ready") replicas.updated_ready++;
      }
    }
    const done = replicas.outdated === 0 && replicas.updated_ready >= replicas.desired;
    return { environment: environmentName, deployment_ids: deploymentIds, status: deploymentIds.length === 0 ? "NONE" : done ? "SUCCEEDED" : "IN_PROGRESS", replicas };
  }

  /** The sets the controller runs for a deployment (tests, status). */
  setsOf(deploymentId: string): ReplicaSetId[] {
    return [...(this.#setsOf.get(deploymentId) ?? [])];
  }

  /** Every set the controller runs, with its owner (the metrics export). */
  replicaSets(): Array<{ id: ReplicaSetId; owner: ReplicaSetOwner }> {
    return [...this.#sets.values()].map((set) => ({ id: set.id, owner: set.spec.owner }));
  }

  /** Stop observing (engine shutdown); pending status writes and replica_sets rows are written first. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe();
    // a periodic resync under way stops at its next deployment (#closed)
    await this.#resyncing;
    await Promise.allSettled([this.#observationWrites.drain(), this.#rowWrites.drain()]);
  }

  #upsert(id: ReplicaSetId, deploymentId: string, environment: string | null, role: SetRole, spec: ReplicaSetSpec, besideEnvironments: boolean): ManagedSet {
    let set = this.#sets.get(id);
    if (set === undefined) {
      set = { id, deploymentId, environment, role, spec, desired: 0, ownedByPromotion: false, besideEnvironments, persisted: undefined, recorded: undefined };
      this.#sets.set(id, set);
      let ids = this.#setsOf.get(deploymentId);
      if (!ids) this.#setsOf.set(deploymentId, (ids = new Set()));
      ids.add(id);
    } else {
      set.role = role;
      set.spec = spec;
      set.besideEnvironments = besideEnvironments;
    }
    return set;
  }

  /** `record`: what to do when the apply is to be recorded (default: record the deployment's observation now). */
  #apply(set: ManagedSet, replicas: number, record: () => void = () => this.#recordObservation(set.deploymentId)): void {
    if (this.#closed || this.#sets.get(set.id) !== set) return;
    set.desired = replicas;
    this.#runtime.setDesired(set.spec, replicas);
    if (!this.#leadership.isLeader()) return;
    this.#persist(set);
    // The reconciler re-applies both sets' counts on every pass: recording an unchanged apply
    // re-read the deployment's row for nothing (28 of 30 reads per step in bench/scale). What the
    // runtime then does is recorded from its change events. The first apply is always recorded:
    // a set asked for 0 from the start moves its deployment out of DEPLOYING.
    if (set.recorded?.replicas === replicas && set.recorded.spec === set.spec) return;
    set.recorded = { replicas, spec: set.spec };
    record();
  }

  async #removeSet(set: ManagedSet): Promise<void> {
    this.#autoscaler.untrack(set.id);
    this.#sets.delete(set.id);
    this.#setsOf.get(set.deploymentId)?.delete(set.id);
    if (this.#leadership.isLeader()) this.#deleteRow(set.id, set.deploymentId);
    await this.#runtime.remove(set.id);
    this.#recordObservation(set.deploymentId);
  }

  /** The snapshot's rows for the deployment are those a resync last converged it from, and the store holds what it decided. */
  #unchangedSince(snapshot: StoreSnapshot, deploymentId: string): boolean {
    const inputs = snapshot.inputsVersion(deploymentId);
    return inputs !== undefined && this.#convergedFrom.get(deploymentId) === inputs && this.#storedAsDecided(deploymentId);
  }

  /**
   * Whether the store holds every decision of this engine for the deployment's sets, as far as it
   * knows: as leader, each set's count is written or being written (a failed write is retried by
   * the next sync) and its observation recorded since the last takeover. A follower decides nothing.
   */
  #storedAsDecided(deploymentId: string): boolean {
    if (!this.#leadership.isLeader()) return true;
    for (const id of this.#setsOf.get(deploymentId) ?? []) {
      const set = this.#sets.get(id);
      if (set === undefined || set.persisted === undefined || set.recorded === undefined) return false;
    }
    return true;
  }

  /** Store the leader's decision for a set (when it changed); the other engines are told once it is written. */
  #persist(set: ManagedSet): void {
    const key = persistedKey(set.role, set.desired);
    if (set.persisted === key) return;
    set.persisted = key;
    const row = { id: set.id, deploymentId: set.deploymentId, environment: set.environment, role: set.role, desired: set.desired, at: this.#clock() };
    // Fenced out (this engine no longer leads; its successor writes) or failed: a later change or
    // resync writes it again.
    this.#rowWrites.upsert(row, this.#leadership.fence(), () => {
      if (set.persisted === key) set.persisted = undefined;
    });
  }

  #deleteRow(setId: ReplicaSetId, deploymentId: string): void {
    this.#rowWrites.remove(setId, deploymentId, this.#leadership.fence());
  }

  /** `snapshotRow`: the row as a resync's snapshot read it (its observation recorded only when the row no longer says it). */
  async #stop(deploymentId: string, snapshotRow?: DeploymentRow): Promise<void> {
    for (const id of [...(this.#setsOf.get(deploymentId) ?? [])]) {
      const set = this.#sets.get(id);
      if (set) await this.#removeSet(set);
    }
    this.#setsOf.delete(deploymentId);
    this.#everReady.delete(deploymentId);
    if (snapshotRow !== undefined) this.#recordObservationUnlessStored(snapshotRow);
    else this.#recordObservation(deploymentId);
  }

  async #forget(deploymentId: string): Promise<void> {
    for (const syncedLive of this.#syncedDuringResync) syncedLive.add(deploymentId);
    this.#convergedFrom.delete(deploymentId);
    this.#knownRows.forget(deploymentId);
    const modelId = this.#modelOf.get(deploymentId);
    if (modelId) {
      this.#table.removeDeployment(modelId, deploymentId);
      const deployments = this.#deploymentsOf.get(modelId);
      deployments?.delete(deploymentId);
      if (deployments?.size === 0) this.#deploymentsOf.delete(modelId);
    }
    this.#modelOf.delete(deploymentId);
    await this.#stop(deploymentId);
  }

  /** The environments a deployment needs a set in: those it serves, and those it is promoted into. */
  async #wantedEnvironments(reads: ControllerReads, row: DeploymentRow): Promise<WantedEnvironment[]> {
    const wanted: WantedEnvironment[] = (await reads.environmentsServing(row.id)).map((environment) => ({ environment, role: "serving" }));
    for (const environment of await reads.environmentsPromotedInto(row.id)) {
      if (!wanted.some((entry) => entry.environment.id === environment.id)) wanted.push({ environment, role: "candidate" });
    }
    return wanted;
  }

  /** A set's spec: the deployment's env; for an environment's set also its variables, secrets and ENVIRONMENT. */
  async #specFor(reads: ControllerReads, row: DeploymentRow, modelName: string, environment: EnvironmentRow | null): Promise<ReplicaSetSpec> {
    const env: Record<string, string> = { ...row.spec.env };
    const secrets: Record<string, string> = {};
    const hash = createHash("sha256");
    if (environment) {
      for (const variable of await reads.variablesOf(environment)) {
        // A secret and a plain variable never share a name (one row per name).
        if (variable.secret) secrets[variable.name] = variable.value;
        else env[variable.name] = variable.value;
        hash.update(`${variable.secret ? "s" : "v"}\0${variable.name}\0${variable.value}\0`);
      }
      env.ENVIRONMENT = environment.name;
    }
    // Replicas are replaced (new ones first) when the deployment is live-patched or redeployed
    // (revision) or when its environment's variables change, so the model always sees them.
    const revision = `${row.revision}.${hash.digest("hex").slice(0, 12)}`;
    const name = environment?.name ?? null;
    // An environment's configuration change rolls its set like a promotion would: as many new
    // replicas at once as its rolling settings allow, or all of them (instant); old ones go as new ones are ready.
    const maxSurgePercent = environment ? surgePercentOf(await reads.promotionSettingsOf(environment)) : undefined;
    return {
      id: replicaSetId(row.id, name),
      owner: { modelId: row.model_id, modelName, deploymentId: row.id, deploymentName: row.name, environment: name },
      workload: this.#workloadFor(row),
      env,
      secrets,
      readinessPath: row.spec.readiness_path,
      revision,
      ...(maxSurgePercent !== undefined ? { maxSurgePercent } : {}),
    };
  }

  /** How the runtime starts a replica: the first of the deployment's ways it can run (an image
   * with its command as override, else the command as a process); the runtime explains a refusal. */
  #workloadFor(row: DeploymentRow): Workload {
    const ways: Workload[] = [];
    if (row.spec.image !== undefined) {
      ways.push({
        kind: "container",
        image: row.spec.image,
        ...(row.spec.command.length > 0 ? { command: row.spec.command } : {}),
        port: row.spec.port ?? DEFAULT_CONTAINER_PORT,
        ...(row.spec.resources !== undefined ? { resources: row.spec.resources } : {}),
      });
    }
    if (row.spec.command.length > 0) ways.push({ kind: "process", command: row.spec.command, ...(row.spec.cwd !== undefined ? { cwd: row.spec.cwd } : {}) });
    return ways.find((workload) => this.#runtime.unsupported(workload) === undefined) ?? ways[0] ?? { kind: "process", command: [] };
  }

  /** Persist what the runtime sees, when it differs from the row (observation-writes.ts: batched, one write at a time per deployment). */
  #recordObservation(deploymentId: string): void {
    // One writer of the deployment rows' observations: the leader (followers would write their own view).
    if (this.#closed || !this.#leadership.isLeader()) return;
    this.#observationWrites.due(deploymentId);
  }

  /** A snapshot's deployment: its observation recorded only when its row (as the snapshot read it) no
   * longer says it — in a steady resync, no statement at all (it re-read every row, one by one). */
  #recordObservationUnlessStored(row: DeploymentRow): void {
    if (this.#closed || !this.#leadership.isLeader()) return;
    if (this.#observedChange(row) !== undefined) this.#recordObservation(row.id);
  }

  /** What the row must be changed to, to say what the runtime observes now (undefined: it says it). */
  #observedChange(row: ObservedDeploymentRow): ObservedChange | undefined {
    const observation = combineObservations([...(this.#setsOf.get(row.id) ?? [])].map((id) => this.#runtime.observe(id)));
    if (observation.ready > 0) this.#everReady.add(row.id);
    return observedChange(row, observation, this.#everReady.has(row.id));
  }
}

/** What a deployment row is changed to, to say what the runtime observes. */
export interface ObservedChange {
  status: DeploymentStatus;
  replicas: { desired: number; ready: number; starting: number };
  errorMessage: string | null;
}

/** The row's status, counts and error from the observation over its sets; undefined when the row already says them. */
export function observedChange(
  row: Pick<DeploymentRow, "active" | "status" | "error_message" | "replicas_desired" | "replicas_ready" | "replicas_starting">,
  observation: Pick<ReplicaSetObservation, "desired" | "ready" | "starting" | "failing" | "lastError">,
  everReady: boolean,
): ObservedChange | undefined {
  const status = statusOf(row, observation, everReady);
  const replicas = { desired: observation.desired, ready: observation.ready, starting: observation.starting };
  const keptFailure = !observation.failing && status === "FAILED" ? row.error_message : null;
  const errorMessage = status === "FAILED" || status === "UNHEALTHY" ? (observation.lastError ?? keptFailure ?? "replicas keep failing") : null;
  const unchanged =
    row.status === status &&
    row.replicas_desired === replicas.desired &&
    row.replicas_ready === replicas.ready &&
    row.replicas_starting === replicas.starting &&
    row.error_message === errorMessage;
  return unchanged ? undefined : { status, replicas, errorMessage };
}

/** What `persisted` remembers of a set's last stored row. */
function persistedKey(role: SetRole, desired: number): string {
  return `${role}/${desired}`;
}

/** The surge of an environment's configuration roll: its rolling max_surge_percent (at least one replica
 * in max-unavailable mode, where it is 0: capacity never drops), or 100 % when promotions are instant. */
export function surgePercentOf(settings: PromotionSettings): number {
  if (!settings.rolling_deploy) return 100;
  return Math.max(1, settings.rolling_deploy_config.max_surge_percent);
}

/** A deployment's replicas over all its sets: counts add up; failing when any set keeps failing. */
export function combineObservations(observations: readonly ReplicaSetObservation[]): Pick<ReplicaSetObservation, "desired" | "ready" | "starting" | "failing" | "lastError"> {
  const failing = observations.find((observation) => observation.failing);
  return {
    desired: observations.reduce((sum, observation) => sum + observation.desired, 0),
    ready: observations.reduce((sum, observation) => sum + observation.ready, 0),
    starting: observations.reduce((sum, observation) => sum + observation.starting, 0),
    failing: failing !== undefined,
    ...(failing?.lastError !== undefined ? { lastError: failing.lastError } : {}),
  };
}

/** The reference's deployment statuses, from the stored row and what the runtime observes. */
export function statusOf(row: Pick<DeploymentRow, "active" | "status">, observation: Pick<ReplicaSetObservation, "desired" | "ready" | "failing">, everReady: boolean): DeploymentStatus {
  if (!row.active) return "INACTIVE";
  if (observation.failing) return everReady ? "UNHEALTHY" : "FAILED";
  if (observation.ready > 0) return "ACTIVE";
  // A deployment that failed stays FAILED once its failing set is removed (a failed promotion's
  // clean-up), until it is asked for replicas again.
  if (observation.desired === 0 && row.status === "FAILED") return "FAILED";
  if (observation.desired === 0) return "SCALED_TO_ZERO";
  return row.status === "SCALED_TO_ZERO" || row.status === "WAKING_UP" ? "WAKING_UP" : "DEPLOYING";
}
