/**
 * The deployment controller's reads answered from one bulk read of the store (a resync), as an
 * informer answers from its cache after a LIST: the rows of engine/store/control-snapshot.ts,
 * indexed once; a change event's sync answers from one deployment's slice of the same rows (liveReads,
 * store-reads.ts). Same answers as reading each row when asked would give at the snapshot's instant:
 * same filters, same orders, the same decryption and merge of variables, so a set's revision
 * hashes the same.
 */
import type { PromotionSettings } from "../../sdk/index.js";
import { TimeSlice } from "../time-slice.js";
import { mergeEffectiveVariables, promotionSettingsSource, settingsFrom } from "../service/lookups.js";
import { readControlSnapshot, type ControlSnapshotRows, type DeploymentVersion, type Versioned } from "../store/control-snapshot.js";
import type { DeploymentRow } from "../store/deployments.js";
import type { EnvironmentRow } from "../store/environments.js";
import type { PromotionSettingsRow } from "../store/promotion-settings.js";
import type { ReplicaSetRow } from "../store/replica-sets.js";
import type { Sql, SqlExecutor } from "../store/sql.js";
import { decryptedVariable, type StoredVariableRow } from "../store/variables.js";
import { decryptedWorkspaceVariable, type StoredWorkspaceVariableRow, type WorkspaceEnvironmentRow } from "../store/workspace-environments.js";
import type { ControllerReads, SetVariable } from "./store-reads.js";

/**
 * Read every table the controller needs, once (a handful of statements whatever the size).
 * `changed`: asked per live deployment once every other table is read; only the rows of those it
 * says changed are read (the others' `deployment()` answers undefined: see hasRow). Default: all.
 */
export async function loadStoreSnapshot(sql: Sql, changed?: (snapshot: StoreSnapshot, deploymentId: string) => boolean): Promise<StoreSnapshot> {
  let partial: StoreSnapshot | undefined;
  const rows = await readControlSnapshot(sql, async (rest) => {
    if (changed === undefined) return "all";
    const snapshot = (partial = await StoreSnapshot.inSlices(rest, sql));
    // (in slices: 10,000 deployments' versions are tens of milliseconds)
    const slice = new TimeSlice();
    const ids: string[] = [];
    for (const deployment of rest.deploymentVersions) {
      if (slice.over) await slice.yield();
      if (changed(snapshot, deployment.id)) ids.push(deployment.id);
    }
    // (every one: read as such, not as a list of 10,000 ids)
    return ids.length === rest.deploymentVersions.length ? "all" : ids;
  });
  if (partial === undefined) return StoreSnapshot.inSlices(rows, sql);
  partial.addDeploymentRows(rows.deployments);
  return partial;
}

/** A live deployment of the snapshot: which it is, its model, its row's version (when read with one). */
export type SnapshotDeployment = Pick<DeploymentVersion, "id" | "model_id"> & { readonly row_version?: string };

export class StoreSnapshot implements ControllerReads {
  /** live deployments, oldest first (their rows: those read, see hasRow) */
  readonly deployments: readonly SnapshotDeployment[];
  /** live models */
  readonly modelIds: ReadonlySet<string>;
  readonly #keys: Pick<SqlExecutor, "keyring">;
  readonly #deployments = new Map<string, Versioned<DeploymentRow>>();
  readonly #versions = new Map<string, SnapshotDeployment>();
  readonly #inputsVersions = new Map<string, string | undefined>();
  readonly #modelNames = new Map<string, string>();
  readonly #serving = new Map<string, Array<Versioned<EnvironmentRow>>>();
  readonly #promotedInto = new Map<string, Array<Versioned<EnvironmentRow>>>();
  readonly #replicaSets = new Map<string, Array<Versioned<ReplicaSetRow>>>();
  /** by `${modelId}\0${name}` */
  readonly #environments = new Map<string, Versioned<EnvironmentRow>>();
  readonly #variables = new Map<string, Array<Versioned<StoredVariableRow>>>();
  readonly #workspaceVariables = new Map<string, Array<Versioned<StoredWorkspaceVariableRow>>>();
  readonly #workspaceEnvironments = new Map<string, Versioned<WorkspaceEnvironmentRow>>();
  readonly #promotionSettings = new Map<string, Versioned<PromotionSettingsRow>>();

  /** A snapshot of rows already read, indexed at once (a live slice: a handful of rows). */
  constructor(rows: ControlSnapshotRows, keys: Pick<SqlExecutor, "keyring">, index = true) {
    this.#keys = keys;
    this.deployments = rows.deploymentVersions ?? rows.deployments;
    this.modelIds = new Set(rows.models.map((model) => model.id));
    if (index) for (const _ of this.#index(rows));
  }

  /** A resync's snapshot: tens of thousands of rows (at 10,000 deployments ~20 ms to index), indexed
   * in slices of the event loop's time. */
  static async inSlices(rows: ControlSnapshotRows, keys: Pick<SqlExecutor, "keyring">): Promise<StoreSnapshot> {
    const snapshot = new StoreSnapshot(rows, keys, false);
    const slice = new TimeSlice();
    let indexed = 0;
    for (const _ of snapshot.#index(rows)) if (++indexed % 256 === 0 && slice.over) await slice.yield();
    return snapshot;
  }

  /** Index the rows, one step per row. */
  *#index(rows: ControlSnapshotRows): Generator<void> {
    for (const deployment of this.deployments) yield void this.#versions.set(deployment.id, deployment);
    for (const row of rows.deployments) yield void this.#deployments.set(row.id, row);
    for (const model of rows.models) yield void this.#modelNames.set(model.id, model.name);
    const candidateOf = new Map(rows.promotionsInProgress.map((promotion) => [promotion.environment_id, promotion.deployment_id]));
    // environments come production first, then by name: each list below keeps that order
    for (const environment of rows.environments) {
      this.#environments.set(environmentKey(environment.model_id, environment.name), environment);
      if (environment.current_deployment_id !== null) append(this.#serving, environment.current_deployment_id, environment);
      const candidate = candidateOf.get(environment.id);
      if (candidate !== undefined) append(this.#promotedInto, candidate, environment);
      yield;
    }
    for (const set of rows.replicaSets) yield append(this.#replicaSets, set.deployment_id, set);
    for (const variable of rows.variables) yield append(this.#variables, variable.environment_id, variable);
    for (const variable of rows.workspaceVariables) yield append(this.#workspaceVariables, variable.workspace_environment_id, variable);
    for (const workspace of rows.workspaceEnvironments) yield void this.#workspaceEnvironments.set(workspace.id, workspace);
    for (const settings of rows.promotionSettings) yield void this.#promotionSettings.set(settings.id, settings);
  }

  /**
   * The versions of every row a sync of the deployment reads here, as one string (undefined when the
   * rows carry none: a live slice): the same string in a later snapshot means the same answers to
   * every read of the sync. Its row, its model's name (all a sync reads of the model: the model's
   * row changes with every deployment created, which made each of its deployments converge again),
   * its replica_sets rows, the environments it serves,
   * is promoted into (marked) or has a kept set in (by name: absent is a version too), their
   * variables, workspace environments with their variables and named promotion settings. Ids name
   * each environment's part: two rows written by one transaction share a version.
   */
  inputsVersion(deploymentId: string): string | undefined {
    // asked twice a resync (which rows to read, then whether to converge): built once
    let version = this.#inputsVersions.get(deploymentId);
    if (version === undefined && !this.#inputsVersions.has(deploymentId)) {
      version = this.#buildInputsVersion(deploymentId);
      this.#inputsVersions.set(deploymentId, version);
    }
    return version;
  }

  #buildInputsVersion(deploymentId: string): string | undefined {
    const row = this.#versions.get(deploymentId);
    if (row?.row_version === undefined) return undefined;
    let version = `${row.row_version}/${JSON.stringify(this.#modelNames.get(row.model_id))}/`;
    const environments = new Set(this.#serving.get(deploymentId));
    for (const set of this.#replicaSets.get(deploymentId) ?? []) {
      version += `${set.row_version},`;
      if (set.role !== "kept" || set.environment === null) continue;
      const kept = this.#environments.get(environmentKey(row.model_id, set.environment));
      if (kept === undefined) version += `|${set.environment}:none`;
      else environments.add(kept);
    }
    const promotedInto = this.#promotedInto.get(deploymentId) ?? [];
    for (const environment of promotedInto) environments.add(environment);
    for (const environment of environments) {
      version += `|${environment.id}:${environment.row_version}${promotedInto.includes(environment) ? "+" : ""}:`;
      for (const variable of this.#variables.get(environment.id) ?? []) version += `${variable.row_version},`;
      version += `:${this.#promotionSettingsVersion(environment.promotion_settings_id)}`;
      const workspaceId = environment.workspace_environment_id;
      if (workspaceId === null) continue;
      const workspace = this.#workspaceEnvironments.get(workspaceId);
      version += `:${workspaceId}:${workspace?.row_version}:${this.#promotionSettingsVersion(workspace?.promotion_settings_id ?? null)}:`;
      for (const variable of this.#workspaceVariables.get(workspaceId) ?? []) version += `${variable.row_version},`;
    }
    return version;
  }

  /** The rows of live deployments, read after the rest (loadStoreSnapshot). */
  addDeploymentRows(rows: ReadonlyArray<Versioned<DeploymentRow>>): void {
    for (const row of rows) this.#deployments.set(row.id, row);
  }

  /** Whether the deployment's row was read (a live deployment's row is not when it was not asked for). */
  hasRow(deploymentId: string): boolean {
    return this.#deployments.has(deploymentId);
  }

  #promotionSettingsVersion(id: string | null): string | undefined {
    return id === null ? "" : this.#promotionSettings.get(id)?.row_version;
  }

  async deployment(deploymentId: string): Promise<DeploymentRow | undefined> {
    return this.#deployments.get(deploymentId);
  }

  async modelName(modelId: string): Promise<string | undefined> {
    return this.#modelNames.get(modelId);
  }

  async environmentsServing(deploymentId: string): Promise<EnvironmentRow[]> {
    return [...(this.#serving.get(deploymentId) ?? [])];
  }

  async environmentsPromotedInto(deploymentId: string): Promise<EnvironmentRow[]> {
    return [...(this.#promotedInto.get(deploymentId) ?? [])];
  }

  async replicaSetsOf(deploymentId: string): Promise<ReplicaSetRow[]> {
    return [...(this.#replicaSets.get(deploymentId) ?? [])];
  }

  async environment(modelId: string, name: string): Promise<EnvironmentRow | undefined> {
    return this.#environments.get(environmentKey(modelId, name));
  }

  async variablesOf(environment: EnvironmentRow): Promise<SetVariable[]> {
    // decrypted when asked: a secret this engine cannot decrypt fails only the sets that need it
    const own = (this.#variables.get(environment.id) ?? []).map((row) => decryptedVariable(this.#keys, row));
    if (environment.workspace_environment_id === null) return own;
    const workspace = (this.#workspaceVariables.get(environment.workspace_environment_id) ?? []).map((row) => decryptedWorkspaceVariable(this.#keys, row));
    return mergeEffectiveVariables(workspace, own);
  }

  async promotionSettingsOf(environment: EnvironmentRow): Promise<PromotionSettings> {
    const workspace = promotionSettingsSource(environment) === "workspace" ? this.#workspaceEnvironments.get(environment.workspace_environment_id!) : undefined;
    const row = workspace ?? environment;
    return settingsFrom(row, row.promotion_settings_id === null ? undefined : this.#promotionSettings.get(row.promotion_settings_id));
  }
}

function environmentKey(modelId: string, name: string): string {
  return `${modelId}\0${name}`;
}

function append<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
