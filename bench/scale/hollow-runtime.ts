/**
 * A hollow runtime, as kubemark's hollow nodes are for Kubernetes: it keeps the Runtime contract's
 * bookkeeping (desired counts converging over time, new-first replacement on a revision change,
 * draining, change events) but runs nothing. A replica is an in-memory record that turns from
 * "starting" to "ready" after `readyAfterMs`, at a URL nothing answers on (`.invalid` never
 * resolves, RFC 6761). So the engine's control plane can be measured with 10,000s of replicas on a
 * 2-core machine: every cost left is the engine's own (store, controller, reconciler, API).
 *
 * A bench tool, not a product runtime: it never fails a replica (no crash loops, no failing sets).
 */
import type {
  ExistingReplicaSet,
  InFlightCounter,
  ReplicaInfo,
  ReplicaSetId,
  ReplicaSetObservation,
  ReplicaSetSpec,
  ReplicaState,
  Runtime,
  Workload,
} from "../../engine/runtime/runtime.js";
import { surgeReplicas } from "../../engine/runtime/process/process-runtime.js";

export interface HollowRuntimeOptions {
  /** How long a replica stays "starting" before it is ready. Default 200 ms. */
  readyAfterMs?: number;
  /** How long a drained replica takes to stop (a process's SIGTERM → exit). Default 20 ms. */
  stopAfterMs?: number;
  /** Requests being forwarded to each replica: a draining replica waits for 0 (always 0 here, as
   * nothing can reach a hollow replica, but the wait is the contract's). */
  inFlight?: InFlightCounter;
  /** How long a draining replica may wait for its in-flight requests. Default 30 s. */
  drainTimeoutMs?: number;
  /** Told of every replica that becomes ready (the bench times the engine's reaction from it). */
  onReplicaReady?: (replicaSetId: ReplicaSetId, at: number) => void;
  /** Told of every set declared for the first time (the bench times the controller from it). */
  onSetCreated?: (replicaSetId: ReplicaSetId, at: number) => void;
}

interface HollowReplica {
  id: string;
  replicaSetId: ReplicaSetId;
  revision: string;
  state: ReplicaState;
  startedAt: number;
  url: string;
  /** the runtime chose to stop it: it counts neither as ready nor as starting */
  removing: boolean;
  timer: NodeJS.Timeout | undefined;
  stopPromise: Promise<void> | undefined;
}

interface HollowSet {
  spec: ReplicaSetSpec;
  desired: number;
  replicas: Map<string, HollowReplica>;
  /** ready replicas as handed to the router; rebuilt only when a replica changes state */
  readyCache: readonly ReplicaInfo[] | undefined;
}

export class HollowRuntime implements Runtime {
  readonly kind = "hollow";
  readonly sharesReplicas = false;
  readonly #readyAfterMs: number;
  readonly #stopAfterMs: number;
  readonly #drainTimeoutMs: number;
  readonly #inFlight: InFlightCounter;
  readonly #onReplicaReady: ((replicaSetId: ReplicaSetId, at: number) => void) | undefined;
  readonly #onSetCreated: ((replicaSetId: ReplicaSetId, at: number) => void) | undefined;
  readonly #sets = new Map<ReplicaSetId, HollowSet>();
  /** every replica not yet stopped, those of removed sets included (stopAll waits for them) */
  readonly #live = new Set<HollowReplica>();
  readonly #listeners = new Set<(replicaSetId: ReplicaSetId) => void>();
  #nextReplicaNumber = 1;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: HollowRuntimeOptions = {}) {
    this.#readyAfterMs = options.readyAfterMs ?? 200;
    this.#stopAfterMs = options.stopAfterMs ?? 20;
    this.#drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
    this.#inFlight = options.inFlight ?? { inFlight: () => 0 };
    this.#onReplicaReady = options.onReplicaReady;
    this.#onSetCreated = options.onSetCreated;
  }

  /** Runs any workload: there is nothing to run. */
  unsupported(_workload: Workload): string | undefined {
    return undefined;
  }

  setDesired(spec: ReplicaSetSpec, replicas: number): void {
    if (this.#closed) throw new Error("HollowRuntime is closed");
    const desired = Math.max(0, Math.floor(replicas));
    let set = this.#sets.get(spec.id);
    // Listeners hear of changes only (the contract): the reconciler sets counts on every pass.
    const changed = set === undefined || set.desired !== desired || set.spec.revision !== spec.revision;
    if (set === undefined) {
      set = { spec, desired, replicas: new Map(), readyCache: undefined };
      this.#sets.set(spec.id, set);
      this.#onSetCreated?.(spec.id, Date.now());
    } else {
      set.spec = spec;
      set.desired = desired;
    }
    this.#reconcile(set);
    if (changed) this.#emit(spec.id);
  }

  async remove(replicaSetId: ReplicaSetId): Promise<void> {
    const set = this.#sets.get(replicaSetId);
    if (set === undefined) return;
    this.#sets.delete(replicaSetId);
    const stops = [...set.replicas.values()].map((replica) => this.#stop(set, replica));
    this.#emit(replicaSetId);
    await Promise.all(stops);
  }

  observe(replicaSetId: ReplicaSetId): ReplicaSetObservation {
    const set = this.#sets.get(replicaSetId);
    if (set === undefined) return { replicaSetId, desired: 0, ready: 0, starting: 0, consecutiveFailures: 0, failing: false, replicas: [] };
    const replicas = [...set.replicas.values()].map(replicaInfo);
    return {
      replicaSetId,
      desired: set.desired,
      ready: replicas.filter((replica) => replica.state === "ready").length,
      starting: replicas.filter((replica) => replica.state === "starting").length,
      consecutiveFailures: 0,
      failing: false,
      replicas,
    };
  }

  readyReplicas(replicaSetId: ReplicaSetId): readonly ReplicaInfo[] {
    const set = this.#sets.get(replicaSetId);
    if (set === undefined) return [];
    set.readyCache ??= [...set.replicas.values()].filter((replica) => replica.state === "ready").map(replicaInfo);
    return set.readyCache;
  }

  onChange(listener: (replicaSetId: ReplicaSetId) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Hollow replicas live in this engine's memory, as processes do: it always writes. */
  setWriter(): void {}

  /** The sets of this runtime; none at an engine's start (in-memory replicas die with the engine). */
  list(): Promise<ExistingReplicaSet[]> {
    return Promise.resolve([...this.#sets.values()].map((set) => ({ id: set.spec.id, owner: set.spec.owner, desired: set.desired, revision: set.spec.revision })));
  }

  /** Nothing can outlive the engine's memory: detaching stops everything, as for processes. */
  detach(): Promise<void> {
    return this.stopAll();
  }

  stopAll(): Promise<void> {
    this.#closing ??= this.#closeAll();
    return this.#closing;
  }

  /** Replica records alive now (the bench reports it beside the engine's memory). */
  get replicaCount(): number {
    return this.#live.size;
  }

  /** Live replicas of deployments' own sets and of environment sets (ids with a '.', see replicaSetId). */
  replicaCountByKind(): { own: number; environment: number } {
    let own = 0;
    let environment = 0;
    for (const replica of this.#live) {
      if (replica.replicaSetId.includes(".")) environment++;
      else own++;
    }
    return { own, environment };
  }

  async #closeAll(): Promise<void> {
    this.#closed = true;
    const stops: Promise<void>[] = [];
    for (const set of this.#sets.values()) {
      set.desired = 0;
      for (const replica of set.replicas.values()) stops.push(this.#stop(set, replica));
    }
    await Promise.all(stops);
    await Promise.all([...this.#live].map((replica) => replica.stopPromise));
    this.#sets.clear();
  }

  /**
   * Converge one set, with the process runtime's rules: at most `desired` replicas of the current
   * revision; on a revision change up to surgeReplicas(desired, maxSurgePercent) extra replicas
   * start, and an old ready replica goes only as a new one is ready, so ready capacity never drops.
   */
  #reconcile(set: HollowSet): void {
    if (this.#closed || this.#sets.get(set.spec.id) !== set) return;
    const { desired } = set;
    const revision = set.spec.revision;
    const live = [...set.replicas.values()].filter((replica) => !replica.removing);
    const current = live.filter((replica) => replica.revision === revision);
    const outdated = live.filter((replica) => replica.revision !== revision);

    // Surplus of the current revision: the starting ones first, then the newest.
    if (current.length > desired) {
      for (const replica of [...current].sort(scaleDownOrder).slice(0, current.length - desired)) void this.#stop(set, replica);
    }
    const currentKept = Math.min(current.length, desired);
    const readyCurrent = Math.min(current.filter((replica) => replica.state === "ready").length, desired);

    // Older revision: starting ones serve nothing; keep only the ready ones the new revision cannot replace yet.
    const outdatedReady = outdated.filter((replica) => replica.state === "ready").sort((a, b) => a.startedAt - b.startedAt);
    for (const replica of outdated) if (replica.state !== "ready") void this.#stop(set, replica);
    const outdatedToKeep = Math.max(0, desired - readyCurrent);
    const outdatedDropped = outdatedReady.slice(0, Math.max(0, outdatedReady.length - outdatedToKeep));
    for (const replica of outdatedDropped) void this.#stop(set, replica);
    const outdatedKept = outdatedReady.length - outdatedDropped.length;

    const missing = desired - currentKept;
    if (missing <= 0) return;
    const surge = outdatedKept > 0 ? surgeReplicas(desired, set.spec.maxSurgePercent) : 0;
    const toStart = Math.min(missing, Math.max(0, desired + surge - currentKept - outdatedKept));
    for (let started = 0; started < toStart; started++) this.#start(set);
  }

  #start(set: HollowSet): void {
    const number = this.#nextReplicaNumber++;
    const replica: HollowReplica = {
      id: `${set.spec.id}/replica-${number}`,
      replicaSetId: set.spec.id,
      revision: set.spec.revision,
      state: "starting",
      startedAt: Date.now(),
      url: `http://replica-${number}.hollow.invalid:8080`,
      removing: false,
      timer: undefined,
      stopPromise: undefined,
    };
    replica.timer = setTimeout(() => this.#ready(set, replica), this.#readyAfterMs);
    set.replicas.set(replica.id, replica);
    this.#live.add(replica);
    // A new replica is observable at once ("starting"), as a spawned process is.
    this.#emit(set.spec.id);
  }

  #ready(set: HollowSet, replica: HollowReplica): void {
    replica.timer = undefined;
    if (replica.removing) return;
    replica.state = "ready";
    set.readyCache = undefined;
    this.#onReplicaReady?.(set.spec.id, Date.now());
    this.#reconcile(set);
    this.#emit(set.spec.id);
  }

  /** Drain (in-flight requests to 0, bounded), then stop after `stopAfterMs`. Idempotent. */
  #stop(set: HollowSet, replica: HollowReplica): Promise<void> {
    if (replica.stopPromise !== undefined) return replica.stopPromise;
    replica.removing = true;
    clearTimeout(replica.timer);
    replica.state = "draining";
    set.readyCache = undefined;
    this.#emit(set.spec.id);
    replica.stopPromise = (async () => {
      const deadline = Date.now() + this.#drainTimeoutMs;
      while (Date.now() < deadline && this.#inFlight.inFlight(replica.id) > 0) await delay(25);
      await delay(this.#stopAfterMs);
      replica.state = "stopped";
      set.replicas.delete(replica.id);
      set.readyCache = undefined;
      this.#live.delete(replica);
      this.#emit(set.spec.id);
      this.#reconcile(set);
    })();
    return replica.stopPromise;
  }

  #emit(replicaSetId: ReplicaSetId): void {
    for (const listener of this.#listeners) {
      try {
        listener(replicaSetId);
      } catch {
        // A listener's bug must not break the runtime's bookkeeping.
      }
    }
  }
}

function replicaInfo(replica: HollowReplica): ReplicaInfo {
  return { id: replica.id, replicaSetId: replica.replicaSetId, url: replica.url, state: replica.state, startedAt: replica.startedAt, revision: replica.revision };
}

/** Scale-down order: replicas that serve nothing yet first, then the newest (as the process runtime). */
function scaleDownOrder(a: HollowReplica, b: HollowReplica): number {
  const aReady = a.state === "ready" ? 1 : 0;
  const bReady = b.state === "ready" ? 1 : 0;
  return aReady - bReady || b.startedAt - a.startedAt;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
