/**
 * Replica sets as Kubernetes Deployments. The engine declares each set's spec and replica count;
 * this runtime server-side-applies a Deployment (plus a headless Service for its EndpointSlices and
 * a Secret for its secret variables) and reports what the informers see: ready pod addresses for
 * the router, failures in plain words for the controller. Level-triggered: every declaration and
 * every watched change re-derives what to apply from the declared spec and the cached objects, and
 * applies only when the manifest's hash or the replica count differs — so a restarted engine that
 * declares the same sets writes nothing and restarts no pod (adoption).
 */
import {
  AppsV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
  type V1Pod,
} from "@kubernetes/client-node";
import type {
  ExistingReplicaSet,
  InFlightCounter,
  ReplicaInfo,
  ReplicaSetId,
  ReplicaSetObservation,
  ReplicaSetSpec,
  Runtime,
  Workload,
} from "../runtime.js";
import { capErrorMessage } from "../error-message.js";
import { apiStatusCode, describeApiError } from "./api-error.js";
import { ClusterWatch, type WatchedKind } from "./cluster-watch.js";
import { deploymentManifest } from "./deployment-manifest.js";
import { existingReplicaSet } from "./existing-replica-set.js";
import { DEFAULT_KUBERNETES_SETTINGS, type KubernetesSettings } from "./kubernetes-settings.js";
import { ANNOTATION, installationSelector } from "./labels.js";
import { manifestHash } from "./manifest-hash.js";
import { objectNameOf } from "./object-name.js";
import { podReplicas } from "./pod-replicas.js";
import { replicaSetHealth, type ReplicaSetHealth } from "./replica-set-health.js";
import { hasSecrets, secretManifest } from "./secret-manifest.js";
import { serviceManifest } from "./service-manifest.js";

export interface KubernetesRuntimeOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** this engine installation: labels every object, so that list/sweep never touch another's */
  installation: string;
  /** the router's in-flight requests per replica: `remove` waits for them before deleting */
  inFlight?: InFlightCounter;
  settings?: Partial<Omit<KubernetesSettings, "namespace" | "installation">>;
  log?: (line: string) => void;
  clock?: () => number;
}

/** The field manager of every server-side apply: `kubectl get -o yaml --show-managed-fields` shows it. */
const FIELD_MANAGER = "modelplane";
/** Back-off of a failed apply: 1 s doubling to 30 s. */
const RETRY_INITIAL_MS = 1_000;
const RETRY_MAX_MS = 30_000;
/** While a set is in trouble that time alone can turn into failure (unschedulable), re-judge it this often. */
const RECHECK_MS = 1_000;

interface ManagedSet {
  spec: ReplicaSetSpec;
  desired: number;
  name: string;
  /** last error of this runtime's own API calls for the set; cleared by the next success */
  apiError: string | undefined;
  /** the apply pass in progress, if any */
  applying: Promise<void> | undefined;
  /** something changed while applying: apply once more */
  again: boolean;
  retryTimer: NodeJS.Timeout | undefined;
  retryDelayMs: number;
  recheckTimer: NodeJS.Timeout | undefined;
  /** what was last applied successfully, so that an unchanged declaration writes nothing */
  appliedDeployment: string | undefined;
  /** metadata.generation the API gave the last applied Deployment: an older cached one is just stale */
  appliedGeneration: number;
  /** revision of the pod template this runtime last wrote (the cache may not show it yet) */
  templateRevision: string | undefined;
  appliedService: string | undefined;
  /** hash of the secret data applied; "unknown" after adoption (a Secret may exist from before) */
  appliedSecret: string | undefined;
  observation: ReplicaSetObservation | undefined;
  ready: readonly ReplicaInfo[] | undefined;
  /** observation signature last told to listeners */
  signature: string;
}

export class KubernetesRuntime implements Runtime {
  readonly kind = "kubernetes";
  readonly sharesReplicas = true;
  readonly #settings: KubernetesSettings;
  readonly #watch: ClusterWatch;
  readonly #objects: KubernetesObjectApi;
  readonly #apps: AppsV1Api;
  readonly #core: CoreV1Api;
  readonly #inFlight: InFlightCounter;
  readonly #log: (line: string) => void;
  readonly #clock: () => number;
  readonly #sets = new Map<ReplicaSetId, ManagedSet>();
  /** set ids by object name: watched objects carry the name, not the id */
  readonly #idsByName = new Map<string, ReplicaSetId>();
  /** removals in progress: a set declared again waits for its objects to be gone */
  readonly #removals = new Map<string, Promise<void>>();
  /** per pod uid: the kubelet's last probe-failure event, fetched when the pod's restart count grows */
  readonly #probeFailures = new Map<string, string>();
  readonly #probeFetched = new Map<string, number>();
  readonly #listeners = new Set<(id: ReplicaSetId) => void>();
  /** only the engine holding the control lease writes objects (setWriter) */
  #writing = true;
  #closed = false;

  private constructor(options: KubernetesRuntimeOptions) {
    this.#settings = { ...DEFAULT_KUBERNETES_SETTINGS, ...definedOnly(options.settings ?? {}), namespace: options.namespace, installation: options.installation };
    this.#objects = KubernetesObjectApi.makeApiClient(options.kubeConfig);
    this.#apps = options.kubeConfig.makeApiClient(AppsV1Api);
    this.#core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.#inFlight = options.inFlight ?? { inFlight: () => 0 };
    this.#log = options.log ?? (() => undefined);
    this.#clock = options.clock ?? Date.now;
    this.#watch = new ClusterWatch({
      kubeConfig: options.kubeConfig,
      namespace: options.namespace,
      installation: options.installation,
      log: this.#log,
      onChange: (kind, name, object, deleted) => this.#watched(kind, name, object, deleted),
    });
  }

  /**
   * Connects (one list call, so that a wrong address, credentials or RBAC fail the engine's start
   * with the API's own words) and fills the caches before the engine declares anything.
   */
  static async start(options: KubernetesRuntimeOptions): Promise<KubernetesRuntime> {
    const runtime = new KubernetesRuntime(options);
    try {
      await runtime.#apps.listNamespacedDeployment({ namespace: options.namespace, labelSelector: installationSelector(options.installation), limit: 1 });
    } catch (error) {
      throw new Error(describeApiError(error, `list Deployments in namespace ${options.namespace}`));
    }
    await runtime.#watch.start();
    return runtime;
  }

  unsupported(workload: Workload): string | undefined {
    if (workload.kind !== "container") return "the kubernetes runtime runs container images; this deployment has only a command (give it an image)";
    return undefined;
  }

  setDesired(spec: ReplicaSetSpec, replicas: number): void {
    if (this.#closed) throw new Error("KubernetesRuntime is detached");
    const desired = Math.max(0, Math.floor(replicas));
    let set = this.#sets.get(spec.id);
    if (set === undefined) {
      const name = objectNameOf(spec.id);
      set = {
        spec,
        desired,
        name,
        apiError: undefined,
        applying: undefined,
        again: false,
        retryTimer: undefined,
        retryDelayMs: RETRY_INITIAL_MS,
        recheckTimer: undefined,
        appliedDeployment: undefined,
        appliedGeneration: 0,
        templateRevision: undefined,
        appliedService: undefined,
        appliedSecret: "unknown",
        observation: undefined,
        ready: undefined,
        signature: "",
      };
      this.#sets.set(spec.id, set);
      this.#idsByName.set(name, spec.id);
    } else {
      if (set.spec === spec && set.desired === desired) return;
      if (set.spec.revision !== spec.revision) set.apiError = undefined;
      set.spec = spec;
      set.desired = desired;
    }
    this.#apply(set);
    this.#changed(set);
  }

  setWriter(writing: boolean): void {
    if (this.#writing === writing || this.#closed) return;
    this.#writing = writing;
    if (writing) for (const set of this.#sets.values()) this.#apply(set);
  }

  async remove(id: ReplicaSetId): Promise<void> {
    const name = objectNameOf(id);
    const set = this.#sets.get(id);
    if (set !== undefined) {
      this.#sets.delete(id);
      clearTimeout(set.retryTimer);
      clearTimeout(set.recheckTimer);
      this.#emit(id);
    }
    // Not the writer: the set is no longer observed here; the leader deletes its objects.
    if (!this.#writing) {
      if (!this.#removals.has(name)) this.#idsByName.delete(name);
      return;
    }
    const pending = this.#removals.get(name);
    if (pending !== undefined) return pending;
    // An apply pass still running would create objects again after the delete: let it end first.
    const removal = Promise.resolve(set?.applying)
      .then(() => this.#removeObjects(name))
      .finally(() => {
      this.#removals.delete(name);
      if (!this.#sets.has(id)) this.#idsByName.delete(name);
    });
    this.#removals.set(name, removal);
    await removal;
    this.#emit(id);
  }

  observe(id: ReplicaSetId): ReplicaSetObservation {
    const set = this.#sets.get(id);
    if (set === undefined) return { replicaSetId: id, desired: 0, ready: 0, starting: 0, consecutiveFailures: 0, failing: false, replicas: [] };
    set.observation ??= this.#observe(set);
    return set.observation;
  }

  readyReplicas(id: ReplicaSetId): readonly ReplicaInfo[] {
    const set = this.#sets.get(id);
    if (set === undefined) return [];
    set.ready ??= this.observe(id).replicas.filter((replica) => replica.state === "ready");
    return set.ready;
  }

  onChange(listener: (id: ReplicaSetId) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async list(): Promise<ExistingReplicaSet[]> {
    const { namespace, installation } = this.#settings;
    let items;
    try {
      ({ items } = await this.#apps.listNamespacedDeployment({ namespace, labelSelector: installationSelector(installation) }));
    } catch (error) {
      throw new Error(describeApiError(error, `list Deployments in namespace ${namespace}`));
    }
    const found: ExistingReplicaSet[] = [];
    for (const deployment of items) {
      const existing = existingReplicaSet(deployment);
      if (existing !== undefined) found.push(existing);
    }
    return found;
  }

  /** Stop watching; the pods keep running and a later engine adopts them. Ends this runtime. */
  async detach(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const set of this.#sets.values()) {
      clearTimeout(set.retryTimer);
      clearTimeout(set.recheckTimer);
    }
    await Promise.allSettled([...this.#sets.values()].map((set) => set.applying));
    await Promise.allSettled([...this.#removals.values()]);
    this.#sets.clear();
    await this.#watch.stop();
  }

  /** Delete every object of this installation in the namespace (drained first), then detach. */
  async stopAll(): Promise<void> {
    if (this.#closed) return;
    await this.#removeAll();
    await this.detach();
  }

  async #removeAll(): Promise<void> {
    const ids = new Set<string>(this.#sets.keys());
    for (const existing of await this.list()) ids.add(existing.id);
    await Promise.all([...ids].map((id) => this.remove(id)));
    // Services and Secrets left without their Deployment (an interrupted removal) go too — by
    // label, with deletecollection: the runtime never needs to read Secrets.
    const { namespace, installation } = this.#settings;
    const labelSelector = installationSelector(installation);
    try {
      await Promise.all([
        this.#core.deleteCollectionNamespacedService({ namespace, labelSelector }),
        this.#core.deleteCollectionNamespacedSecret({ namespace, labelSelector }),
      ]);
    } catch (error) {
      throw new Error(describeApiError(error, `delete the Services and Secrets labelled ${labelSelector}`));
    }
  }

  // ---- applying -------------------------------------------------------------------------------

  /** Apply the set's objects, one pass at a time per set; a change during a pass runs one more. */
  #apply(set: ManagedSet): void {
    if (!this.#writing) return;
    if (set.applying !== undefined) {
      set.again = true;
      return;
    }
    set.applying = this.#applyPass(set).finally(() => {
      set.applying = undefined;
      if (set.again && this.#sets.get(set.spec.id) === set && !this.#closed) {
        set.again = false;
        this.#apply(set);
      }
    });
  }

  async #applyPass(set: ManagedSet): Promise<void> {
    const removal = this.#removals.get(set.name);
    if (removal !== undefined) await removal;
    if (this.#sets.get(set.spec.id) !== set || this.#closed) return;
    const { spec, desired, name } = set;
    let action = `apply the objects of ${describeSet(spec)}`;
    try {
      const existing = this.#watch.deployment(name);
      const existingId = existing?.metadata?.annotations?.[ANNOTATION.replicaSetId];
      if (existingId !== undefined && existingId !== spec.id) {
        throw new NameTakenError(`Deployment ${name} in namespace ${this.#settings.namespace} belongs to replica set ${existingId}, not ${spec.id}`);
      }
      // The Secret first: pods must find it when they start.
      if (hasSecrets(spec)) {
        const secret = secretManifest(spec, this.#settings);
        const hash = manifestHash(secret.data);
        if (set.appliedSecret !== hash) {
          action = `apply Secret ${name}`;
          await this.#serverSideApply(secret);
          set.appliedSecret = hash;
        }
      } else if (set.appliedSecret !== undefined) {
        action = `delete Secret ${name}`;
        await this.#deleteIgnoringMissing({ apiVersion: "v1", kind: "Secret", metadata: { name, namespace: this.#settings.namespace } });
        set.appliedSecret = undefined;
      }
      const service = serviceManifest(spec, this.#settings);
      const serviceHash = manifestHash(service);
      if (set.appliedService !== serviceHash) {
        action = `apply Service ${name}`;
        await this.#serverSideApply(service);
        set.appliedService = serviceHash;
      }
      // The pod template is written when the Deployment is created and when the revision changes,
      // never otherwise: a pod's spec is its revision's (as a process replica keeps the env it was
      // started with), so a variable that changes without a new revision (ENVIRONMENT once a
      // candidate is promoted) or a restarted engine restarts no pod. Otherwise only the count moves.
      const key = `${spec.revision}/${desired}`;
      const cachedRevision = existing?.metadata?.annotations?.[ANNOTATION.revision];
      const cachedKey = existing === undefined ? undefined : `${cachedRevision}/${existing.spec?.replicas}`;
      // Up to date when the cache says so, or when this runtime just wrote it and the cache has not
      // caught up yet (older generation). A newer generation that differs is someone else's change
      // (kubectl scale/edit): the engine's declaration wins again.
      const cacheBehind = (existing?.metadata?.generation ?? 0) < set.appliedGeneration;
      // The template's revision: the cache's, unless it has not caught up with what this runtime wrote.
      const templateRevision = cacheBehind || existing === undefined ? set.templateRevision : cachedRevision;
      if (key !== cachedKey && !(key === set.appliedDeployment && cacheBehind)) {
        let written: KubernetesObject;
        if (templateRevision !== spec.revision) {
          action = `apply Deployment ${name}`;
          written = await this.#serverSideApply(deploymentManifest(spec, desired, this.#settings));
        } else {
          action = `scale Deployment ${name}`;
          written = await this.#objects.patch(
            { apiVersion: "apps/v1", kind: "Deployment", metadata: { name, namespace: this.#settings.namespace }, spec: { replicas: desired } },
            undefined,
            undefined,
            FIELD_MANAGER,
            undefined,
            PatchStrategy.MergePatch,
          );
        }
        set.appliedGeneration = written.metadata?.generation ?? 0;
        set.templateRevision = written.metadata?.annotations?.[ANNOTATION.revision];
        this.#log(`kubernetes: ${describeSet(spec)}: Deployment ${name} → ${desired} replica${desired === 1 ? "" : "s"} (revision ${spec.revision})`);
      }
      set.appliedDeployment = key;
      if (set.apiError !== undefined) {
        set.apiError = undefined;
        this.#changed(set);
      }
      set.retryDelayMs = RETRY_INITIAL_MS;
    } catch (error) {
      if (this.#sets.get(spec.id) !== set || this.#closed) return;
      set.apiError = error instanceof NameTakenError ? error.message : describeApiError(error, action);
      this.#log(`kubernetes: ${describeSet(spec)}: ${set.apiError}; again in ${set.retryDelayMs} ms`);
      this.#changed(set);
      clearTimeout(set.retryTimer);
      set.retryTimer = setTimeout(() => {
        set.retryTimer = undefined;
        this.#apply(set);
      }, set.retryDelayMs);
      set.retryDelayMs = Math.min(set.retryDelayMs * 2, RETRY_MAX_MS);
    }
  }

  async #serverSideApply(object: KubernetesObject): Promise<KubernetesObject> {
    return this.#objects.patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  }

  // ---- removing -------------------------------------------------------------------------------

  /**
   * Stop routing (done by the caller: the set is gone from the map), let the requests already
   * sent finish, delete the Deployment, Service and Secret, and wait until the pods are gone.
   */
  async #removeObjects(name: string): Promise<void> {
    const { namespace, terminationGraceSeconds, preStopDelaySeconds } = this.#settings;
    const pods = this.#watch.pods(name);
    await this.#drained(pods.map((pod) => pod.metadata?.name ?? ""), terminationGraceSeconds * 1000);
    const metadata = { name, namespace };
    await Promise.all([
      this.#deleteIgnoringMissing({ apiVersion: "apps/v1", kind: "Deployment", metadata }),
      this.#deleteIgnoringMissing({ apiVersion: "v1", kind: "Service", metadata }),
      this.#deleteIgnoringMissing({ apiVersion: "v1", kind: "Secret", metadata }),
    ]);
    // The garbage collector deletes the ReplicaSet and its pods; each stops within its grace period.
    const deadline = this.#clock() + (preStopDelaySeconds + terminationGraceSeconds + 30) * 1000;
    while (this.#watch.pods(name).length > 0 && this.#clock() < deadline) await delay(100);
  }

  async #drained(replicaIds: readonly string[], boundMs: number): Promise<void> {
    const deadline = this.#clock() + boundMs;
    while (replicaIds.some((id) => this.#inFlight.inFlight(id) > 0) && this.#clock() < deadline) await delay(25);
  }

  async #deleteIgnoringMissing(object: KubernetesObject): Promise<void> {
    try {
      // Background: the Deployment goes at once, the garbage collector removes its ReplicaSets and pods.
      await this.#objects.delete(object, undefined, undefined, undefined, undefined, "Background");
    } catch (error) {
      if (apiStatusCode(error) !== 404) throw new Error(describeApiError(error, `delete ${object.kind} ${object.metadata?.name}`));
    }
  }

  // ---- observing ------------------------------------------------------------------------------

  #watched(kind: WatchedKind, name: string, object: KubernetesObject, deleted: boolean): void {
    const uid = object.metadata?.uid;
    if (kind === "Pod" && deleted && uid !== undefined) {
      this.#probeFailures.delete(uid);
      this.#probeFetched.delete(uid);
    }
    const id = this.#idsByName.get(name);
    const set = id === undefined ? undefined : this.#sets.get(id);
    if (set === undefined) return;
    if (kind === "Deployment" && deleted) {
      // Deleted behind the engine's back (kubectl delete): declare it again.
      set.appliedDeployment = undefined;
      set.appliedGeneration = 0;
      set.templateRevision = undefined;
      set.appliedService = undefined;
      set.appliedSecret = "unknown";
    }
    // Compares the cached Deployment with the declaration; writes only if someone changed it.
    if (kind === "Deployment") this.#apply(set);
    if (kind === "Pod" && !deleted) this.#fetchProbeFailure(set, object as V1Pod);
    this.#changed(set);
  }

  /** A pod restarted: ask for the kubelet's events once per restart, to tell a probe kill from a crash. */
  #fetchProbeFailure(set: ManagedSet, pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    const restarts = pod.status?.containerStatuses?.[0]?.restartCount ?? 0;
    if (uid === undefined || restarts === 0 || this.#probeFetched.get(uid) === restarts) return;
    this.#probeFetched.set(uid, restarts);
    const { namespace } = this.#settings;
    this.#core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.uid=${uid}` }).then(
      ({ items }) => {
        const probe = items
          .filter((event) => event.reason === "Unhealthy" && /probe failed/i.test(event.message ?? ""))
          .sort((a, b) => eventTime(b) - eventTime(a))[0];
        if (probe?.message === undefined || this.#probeFailures.get(uid) === probe.message) return;
        this.#probeFailures.set(uid, probe.message);
        this.#changed(set);
      },
      () => undefined, // events are a refinement of the message; without them the exit code still tells
    );
  }

  #observe(set: ManagedSet): ReplicaSetObservation {
    const pods = this.#watch.pods(set.name);
    const replicas = podReplicas(set.spec.id, pods, this.#watch.endpointSlices(set.name));
    const health = this.#health(set, pods);
    const observation: ReplicaSetObservation = {
      replicaSetId: set.spec.id,
      desired: set.desired,
      ready: replicas.filter((replica) => replica.state === "ready").length,
      starting: replicas.filter((replica) => replica.state === "starting").length,
      consecutiveFailures: health.consecutiveFailures,
      failing: health.failing,
      replicas,
    };
    if (health.lastError !== undefined) observation.lastError = capErrorMessage(health.lastError);
    return observation;
  }

  #health(set: ManagedSet, pods: readonly V1Pod[]): ReplicaSetHealth {
    const health = replicaSetHealth({
      pods,
      deployment: this.#watch.deployment(set.name),
      revision: set.spec.revision,
      readinessPath: set.spec.readinessPath,
      ...(set.apiError !== undefined ? { apiError: set.apiError } : {}),
      probeFailures: this.#probeFailures,
      secretValues: Object.values(set.spec.secrets),
      settings: this.#settings,
      now: this.#clock(),
    });
    // Trouble that only time turns into failure (an unschedulable pod): look again soon.
    if (health.lastError !== undefined && !health.failing && set.recheckTimer === undefined && !this.#closed) {
      set.recheckTimer = setTimeout(() => {
        set.recheckTimer = undefined;
        if (this.#sets.get(set.spec.id) === set) this.#changed(set);
      }, RECHECK_MS);
    }
    return health;
  }

  /** Something about the set may have changed: recompute, and tell listeners if what they can observe did. */
  #changed(set: ManagedSet): void {
    set.observation = undefined;
    set.ready = undefined;
    const observation = this.observe(set.spec.id);
    const signature = JSON.stringify([
      set.spec.revision,
      observation.desired,
      observation.consecutiveFailures,
      observation.failing,
      observation.lastError,
      observation.replicas.map((replica) => [replica.id, replica.state, replica.url, replica.revision]),
    ]);
    if (signature === set.signature) return;
    set.signature = signature;
    this.#emit(set.spec.id);
  }

  #emit(id: ReplicaSetId): void {
    for (const listener of this.#listeners) {
      try {
        listener(id);
      } catch {
        // A listener's bug must not break the runtime's bookkeeping.
      }
    }
  }
}

class NameTakenError extends Error {}

/** "v2 (dep_…) in production" */
function describeSet(spec: ReplicaSetSpec): string {
  const where = spec.owner.environment === null ? "" : ` in ${spec.owner.environment}`;
  return `${spec.owner.modelName}/${spec.owner.deploymentName} (${spec.owner.deploymentId})${where}`;
}

function eventTime(event: { lastTimestamp?: Date | string; eventTime?: Date | string }): number {
  const value = event.lastTimestamp ?? event.eventTime;
  if (value === undefined) return 0;
  return value instanceof Date ? value.getTime() : Date.parse(value);
}

function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
