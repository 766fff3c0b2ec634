/**
 * Keeps what runs in line with what is stored: for every live deployment it derives the replica
 * spec (command, the deployment's env, the variables and secrets of the environment it serves,
 * ENVIRONMENT), owns the desired replica count outside promotions (through the autoscaler),
 * updates the router's in-memory table, and writes what the runtime observes (status, replica
 * counts, error) back to the deployment row. Level-triggered: every `sync*` re-reads the rows,
 * so a missed or repeated event does no harm.
 */
import { createHash } from "node:crypto";
import type { AutoscalingSettings, DeploymentStatus } from "../../sdk/index.js";
import type { Autoscaler } from "../autoscaler/index.js";
import type { RoutingTable } from "../router/index.js";
import { replicaSetId, type ReplicaSetId, type ReplicaSetObservation, type ReplicaSetSpec, type Runtime, type Workload } from "../runtime/runtime.js";
import { findLiveDeploymentById, listAllLiveDeployments, updateDeployment, type DeploymentRow } from "../store/deployments.js";
import { findLiveEnvironment, listEnvironmentsServing, listLiveEnvironments, type EnvironmentRow } from "../store/environments.js";
import { findLiveModel } from "../store/models.js";
import { findInProgressPromotion, IN_PROGRESS_SQL, type PromotionRow } from "../store/promotions.js";
import type { Sql } from "../store/sql.js";
import { listVariables } from "../store/variables.js";

/** The container port of an image deployment that names none (the common default of model servers). */
const DEFAULT_CONTAINER_PORT = 8080;

/** The development deployment: at most one replica, scales to zero when idle (reference). */
const DEVELOPMENT_AUTOSCALING: Partial<AutoscalingSettings> = { min_replica: 0, max_replica: 1, scale_down_delay: 300 };

export interface DeploymentControllerOptions {
  sql: Sql;
  runtime: Runtime;
  table: RoutingTable;
  autoscaler: Autoscaler;
  clock?: () => Date;
}

interface Assignment {
  environment: EnvironmentRow;
  /** true when the deployment is the candidate of an in-progress promotion into `environment` */
  candidate: boolean;
}

export class DeploymentController {
  readonly #sql: Sql;
  readonly #runtime: Runtime;
  readonly #table: RoutingTable;
  readonly #autoscaler: Autoscaler;
  readonly #clock: () => Date;
  /** Last spec handed to the runtime, per deployment. */
  readonly #specs = new Map<string, ReplicaSetSpec>();
  /** The deployment each replica set the runtime reports on belongs to. */
  readonly #deploymentOfSet = new Map<ReplicaSetId, string>();
  /** Replica count last asked of the runtime, per deployment. */
  readonly #desired = new Map<string, number>();
  /** Deployments whose replica count a promotion decides (the reconciler sets them). */
  readonly #ownedByPromotion = new Set<string>();
  /** Deployment rows' model ids, for the router table. */
  readonly #modelOf = new Map<string, string>();
  /** Deployments that had a ready replica since their last (re)start: tells UNHEALTHY from FAILED. */
  readonly #everReady = new Set<string>();
  readonly #statusWrites = new Map<string, Promise<void>>();
  readonly #unsubscribe: () => void;
  #closed = false;

  constructor(options: DeploymentControllerOptions) {
    this.#sql = options.sql;
    this.#runtime = options.runtime;
    this.#table = options.table;
    this.#autoscaler = options.autoscaler;
    this.#clock = options.clock ?? (() => new Date());
    this.#unsubscribe = this.#runtime.onChange((setId) => {
      const deploymentId = this.#deploymentOfSet.get(setId);
      if (deploymentId !== undefined) this.#recordObservation(deploymentId);
    });
  }

  /** Engine start: rebuild the router table and the desired replica counts from the store. */
  async syncAll(): Promise<void> {
    for (const row of await listAllLiveDeployments(this.#sql)) {
      this.#table.setModel(row.model_id);
      await this.syncDeployment(row.id, { restoreReplicas: row.replicas_desired });
    }
    const models = new Set((await listAllLiveDeployments(this.#sql)).map((row) => row.model_id));
    const modelRows = await this.#sql.query<{ id: string }>("SELECT id FROM models WHERE deleted_at IS NULL");
    for (const { id } of modelRows) models.add(id);
    for (const modelId of models) await this.syncModel(modelId);
    // Sets that outlived a previous engine (Kubernetes): those still wanted were adopted above
    // (same id and revision: nothing restarts); the rest are swept.
    for (const existing of await this.#runtime.list()) {
      if (!this.#deploymentOfSet.has(existing.id)) await this.#runtime.remove(existing.id);
    }
  }

  /** A model changed: its environments' routes, or everything gone when deleted. */
  async syncModel(modelId: string): Promise<void> {
    const model = await findLiveModel(this.#sql, modelId);
    if (!model) {
      for (const [deploymentId, owner] of this.#modelOf) if (owner === modelId) await this.#forget(deploymentId);
      this.#table.removeModel(modelId);
      return;
    }
    this.#table.setModel(modelId);
    for (const environment of await listLiveEnvironments(this.#sql, modelId)) await this.syncEnvironment(modelId, environment.name);
  }

  /** An environment changed: its route (current, candidate, traffic split) and its deployments' specs. */
  async syncEnvironment(modelId: string, environmentName: string): Promise<void> {
    const environment = await findLiveEnvironment(this.#sql, modelId, environmentName);
    if (!environment) {
      this.#table.removeEnvironment(modelId, environmentName);
      return;
    }
    const promotion = await findInProgressPromotion(this.#sql, environment.id);
    this.setTraffic(modelId, environmentName, {
      currentDeploymentId: environment.current_deployment_id,
      candidateDeploymentId: promotion?.deployment_id ?? null,
      percentToCandidate: promotion?.percent_traffic_to_new_version ?? 0,
    });
    for (const deploymentId of [environment.current_deployment_id, promotion?.deployment_id]) {
      if (deploymentId) await this.syncDeployment(deploymentId);
    }
  }

  /** The router's view of an environment (the reconciler calls this at every traffic shift). */
  setTraffic(modelId: string, environmentName: string, route: { currentDeploymentId: string | null; candidateDeploymentId: string | null; percentToCandidate: number }): void {
    this.#table.setEnvironment(modelId, environmentName, route);
  }

  /**
   * A deployment changed (created, live-patched, activated, deactivated, settings, deleted): its
   * route, spec and autoscaling. `restoreReplicas` re-applies a persisted count after a restart.
   */
  async syncDeployment(deploymentId: string, options: { restoreReplicas?: number } = {}): Promise<void> {
    if (this.#closed) return;
    const row = await findLiveDeploymentById(this.#sql, deploymentId);
    if (!row || !row.active) {
      if (row) {
        this.#table.setDeployment(row.model_id, row.id, { active: false, predictPath: row.spec.predict_path, isDevelopment: row.is_development });
        await this.#stop(row.id);
      } else {
        await this.#forget(deploymentId);
      }
      return;
    }
    this.#modelOf.set(row.id, row.model_id);
    this.#table.setModel(row.model_id);
    this.#table.setDeployment(row.model_id, row.id, { active: true, predictPath: row.spec.predict_path, isDevelopment: row.is_development });
    const assignment = await this.#assignmentOf(row);
    const spec = await this.#specFor(row, assignment);
    this.#specs.set(row.id, spec);
    const settings: Partial<AutoscalingSettings> = row.is_development
      ? DEVELOPMENT_AUTOSCALING
      : assignment && !assignment.candidate ? assignment.environment.autoscaling_settings : row.autoscaling_settings;
    let replicas = this.#desired.get(row.id);
    if (replicas === undefined) {
      // First sight: a restart restores the persisted count; a new deployment starts its minimum,
      // and at least one replica so that a broken command shows up at once, not at the first request.
      replicas = options.restoreReplicas ?? Math.max(1, settings.min_replica ?? 0);
      if (row.is_development) replicas = Math.min(replicas, 1);
    }
    this.#autoscaler.track(spec.id, settings, replicas);
    if (this.#ownedByPromotion.has(row.id)) this.#autoscaler.exclude(spec.id);
    this.#apply(row.id, replicas);
  }

  /** Spec of a deployment as last synced (the reconciler scales with it). */
  specOf(deploymentId: string): ReplicaSetSpec | undefined {
    return this.#specs.get(deploymentId);
  }

  /** A promotion takes over (or gives back) the replica count of a deployment. */
  setOwnedByPromotion(deploymentId: string, owned: boolean): void {
    const setId = replicaSetId(deploymentId, null);
    if (owned) {
      this.#ownedByPromotion.add(deploymentId);
      this.#autoscaler.exclude(setId);
    } else if (this.#ownedByPromotion.delete(deploymentId)) {
      this.#autoscaler.include(setId, this.#desired.get(deploymentId) ?? 0);
    }
  }

  /** Set a deployment's replica count (autoscaler decisions, promotion steps, cleanup). */
  setReplicas(deploymentId: string, replicas: number): void {
    this.#autoscaler.setCurrentReplicas(replicaSetId(deploymentId, null), replicas);
    this.#apply(deploymentId, replicas);
  }

  /** Autoscaler callback: ignored for sets a promotion owns. */
  applyAutoscaling(setId: ReplicaSetId, replicas: number): void {
    const deploymentId = this.#deploymentOfSet.get(setId);
    if (deploymentId === undefined || this.#ownedByPromotion.has(deploymentId)) return;
    this.#apply(deploymentId, replicas);
  }

  /** A request is waiting for a replica set with no ready replica. */
  wake(setId: ReplicaSetId): void {
    const deploymentId = this.#deploymentOfSet.get(setId);
    if (deploymentId === undefined) return;
    if (this.#autoscaler.wake(setId)) return;
    // Untracked or promotion-owned: make sure at least one replica is asked for.
    if ((this.#desired.get(deploymentId) ?? 0) === 0 && !this.#ownedByPromotion.has(deploymentId)) this.#apply(deploymentId, 1);
  }

  desiredReplicas(deploymentId: string): number {
    return this.#desired.get(deploymentId) ?? 0;
  }

  /** Stop observing (engine shutdown); pending status writes finish first. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe();
    await Promise.allSettled([...this.#statusWrites.values()]);
  }

  #apply(deploymentId: string, replicas: number): void {
    const spec = this.#specs.get(deploymentId);
    if (!spec || this.#closed) return;
    this.#desired.set(deploymentId, replicas);
    this.#deploymentOfSet.set(spec.id, deploymentId);
    this.#runtime.setDesired(spec, replicas);
    this.#recordObservation(deploymentId);
  }

  async #stop(deploymentId: string): Promise<void> {
    const setId = replicaSetId(deploymentId, null);
    this.#autoscaler.untrack(setId);
    this.#desired.delete(deploymentId);
    this.#specs.delete(deploymentId);
    this.#everReady.delete(deploymentId);
    await this.#runtime.remove(setId);
    this.#recordObservation(deploymentId);
    this.#deploymentOfSet.delete(setId);
  }

  async #forget(deploymentId: string): Promise<void> {
    const modelId = this.#modelOf.get(deploymentId);
    if (modelId) this.#table.removeDeployment(modelId, deploymentId);
    this.#modelOf.delete(deploymentId);
    this.#ownedByPromotion.delete(deploymentId);
    await this.#stop(deploymentId);
  }

  async #assignmentOf(row: DeploymentRow): Promise<Assignment | undefined> {
    const [serving] = await listEnvironmentsServing(this.#sql, row.id);
    if (serving) return { environment: serving, candidate: false };
    const [promotion] = await this.#sql.query<PromotionRow>(
      `SELECT * FROM promotions WHERE deployment_id = $1 AND ${IN_PROGRESS_SQL} LIMIT 1`,
      [row.id],
    );
    if (!promotion) return undefined;
    const [environment] = await this.#sql.query<EnvironmentRow>("SELECT * FROM environments WHERE id = $1", [promotion.environment_id]);
    return environment ? { environment, candidate: true } : undefined;
  }

  async #specFor(row: DeploymentRow, assignment: Assignment | undefined): Promise<ReplicaSetSpec> {
    const env: Record<string, string> = { ...row.spec.env };
    const secrets: Record<string, string> = {};
    const hash = createHash("sha256");
    if (assignment) {
      for (const variable of await listVariables(this.#sql, assignment.environment.id)) {
        // A secret and a plain variable never share a name (one row per name).
        if (variable.secret) secrets[variable.name] = variable.value;
        else env[variable.name] = variable.value;
        hash.update(`${variable.name}\0${variable.value}\0`);
      }
      env.ENVIRONMENT = assignment.environment.name;
    }
    const model = await findLiveModel(this.#sql, row.model_id);
    // Replicas are replaced (new ones first) when the deployment is live-patched or redeployed
    // (revision) or when its environment's variables change, so the model always sees them.
    const revision = `${row.revision}.${hash.digest("hex").slice(0, 12)}`;
    return {
      id: replicaSetId(row.id, null),
      owner: { modelId: row.model_id, modelName: model?.name ?? row.model_id, deploymentId: row.id, deploymentName: row.name, environment: null },
      workload: this.#workloadFor(row),
      env,
      secrets,
      readinessPath: row.spec.readiness_path,
      revision,
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

  /** Persist what the runtime sees, when it differs from the row; one write at a time per deployment. */
  #recordObservation(deploymentId: string): void {
    if (this.#closed) return;
    const previous = this.#statusWrites.get(deploymentId) ?? Promise.resolve();
    const next = previous.then(() => this.#writeObservation(deploymentId)).catch(() => undefined);
    this.#statusWrites.set(deploymentId, next);
    void next.finally(() => {
      if (this.#statusWrites.get(deploymentId) === next) this.#statusWrites.delete(deploymentId);
    });
  }

  async #writeObservation(deploymentId: string): Promise<void> {
    if (this.#closed) return;
    const row = await findLiveDeploymentById(this.#sql, deploymentId);
    if (!row) return;
    const observation = this.#runtime.observe(replicaSetId(deploymentId, null));
    if (observation.ready > 0) this.#everReady.add(deploymentId);
    const status = statusOf(row, observation, this.#everReady.has(deploymentId));
    const replicas = { desired: observation.desired, ready: observation.ready, starting: observation.starting };
    const errorMessage = status === "FAILED" || status === "UNHEALTHY" ? (observation.lastError ?? "replicas keep failing") : null;
    const unchanged =
      row.status === status &&
      row.replicas_desired === replicas.desired &&
      row.replicas_ready === replicas.ready &&
      row.replicas_starting === replicas.starting &&
      row.error_message === errorMessage;
    if (unchanged) return;
    await updateDeployment(this.#sql, deploymentId, { status, replicas, errorMessage }, this.#clock().toISOString());
  }
}

/** The reference's deployment statuses, from the stored row and what the runtime observes. */
export function statusOf(row: Pick<DeploymentRow, "active" | "status">, observation: ReplicaSetObservation, everReady: boolean): DeploymentStatus {
  if (!row.active) return "INACTIVE";
  if (observation.failing) return everReady ? "UNHEALTHY" : "FAILED";
  if (observation.ready > 0) return "ACTIVE";
  if (observation.desired === 0) return "SCALED_TO_ZERO";
  return row.status === "SCALED_TO_ZERO" || row.status === "WAKING_UP" ? "WAKING_UP" : "DEPLOYING";
}
