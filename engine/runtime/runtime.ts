/**
 * The replica runtime port. The unit a runtime runs is a REPLICA SET: the replicas of one deployment for one environment
 * (or the deployment's own set for its per-deployment endpoint / the development deployment).
 * The engine declares each set's spec and desired count; the runtime converges (level-triggered)
 * and reports what it observes. The router reads ready replicas per set.
 */
import type { Resources } from "../../sdk/index.js";

/** Opaque, stable id of a replica set; built by `replicaSetId()` only. */
export type ReplicaSetId = string;

/** `dep_x` for the deployment's own set, `dep_x.production` for its set in production.
 * Environment names are DNS labels, so '.' cannot be ambiguous. */
export function replicaSetId(deploymentId: string, environment: string | null): ReplicaSetId {
  return environment === null ? deploymentId : `${deploymentId}.${environment}`;
}

/** Who a replica set belongs to: labels on Kubernetes objects, names in progress lines. */
export interface ReplicaSetOwner {
  modelId: string;
  modelName: string;
  deploymentId: string;
  deploymentName: string;
  /** null: the deployment's own set (per-deployment endpoint, development deployment) */
  environment: string | null;
}

/** How to start a replica: a local process, or a container image. */
export type Workload =
  | {
      kind: "process";
      /** argv; command[0] resolved on PATH */
      command: string[];
      /** absolute, or relative to the engine's cwd */
      cwd?: string;
    }
  | {
      kind: "container";
      image: string;
      /** overrides the image's entrypoint when given */
      command?: string[];
      /** the port the container listens on (PORT is set to it too) */
      port: number;
      /** cpu / memory in Kubernetes notation, and extended resources such as nvidia.com/gpu, passed through */
      resources?: Resources & { extended?: Record<string, string> };
    };

export interface ReplicaSetSpec {
  id: ReplicaSetId;
  owner: ReplicaSetOwner;
  workload: Workload;
  /** plain variables: the deployment's env, the environment's variables, ENVIRONMENT. The runtime adds PORT. */
  env: Record<string, string>;
  /** secret variables (kept apart: Kubernetes puts them in a Secret; every runtime redacts their values
   * from any replica output it keeps or reports). Never logged. */
  secrets: Record<string, string>;
  /** HTTP path answering 200 when a replica is ready, e.g. "/health" */
  readinessPath: string;
  /** Opaque revision (hash of everything above that affects a replica): when it changes, replicas are
   * replaced by ones from the new spec, new ones first. */
  revision: string;
  /** How many replicas above the desired count a revision change may start at once, in percent of
   * the desired count (at least one; default 25). Old replicas go only as new ones become ready
   * (never below the desired count of ready replicas), so a change of configuration drops no request.
   * An environment's set takes it from the environment's promotion settings (rolling: max_surge_percent;
   * otherwise 100, all new replicas at once, like an instant promotion). Not part of the revision. */
  maxSurgePercent?: number;
}

export type ReplicaState =
  /** started, readiness path not yet answering 200 */
  | "starting"
  /** answering its readiness path; receives traffic */
  | "ready"
  /** chosen for removal / terminating: gets no new requests */
  | "draining"
  /** exited, killed, deleted */
  | "stopped";

export interface ReplicaInfo {
  id: string;
  replicaSetId: ReplicaSetId;
  /** base URL the router forwards to, e.g. http://127.0.0.1:41234 or http://198.18.0.7:8080 */
  url: string;
  state: ReplicaState;
  startedAt: number;
  revision: string;
  /** process runtime only: the replica's process group id */
  pid?: number;
}

export interface ReplicaSetObservation {
  replicaSetId: ReplicaSetId;
  desired: number;
  /** replicas in state "ready" (the only ones that get traffic) */
  ready: number;
  /** started but not ready yet */
  starting: number;
  /** consecutive failures (exit, never ready in time, image missing, unschedulable…) since the last ready replica */
  consecutiveFailures: number;
  /** true once replicas keep failing: the deployment is FAILED/UNHEALTHY */
  failing: boolean;
  /** why, in plain words, with the last lines the replica printed (secrets redacted) — or the
   * Kubernetes reason ("image localhost/x:v1 is not present on the node and pulling is disabled",
   * "forbidden: …", "exceeded quota …", "unschedulable: 0/1 nodes have enough nvidia.com/gpu") */
  lastError?: string;
  replicas: ReplicaInfo[];
}

/** A replica set found by `list()`: what exists in the runtime, whether or not this engine declared it. */
export interface ExistingReplicaSet {
  id: ReplicaSetId;
  owner: ReplicaSetOwner;
  desired: number;
  revision: string;
}

/** Requests being forwarded to each replica right now: the router counts, a runtime drains on it.
 * Created once at the composition root and given to both (no late binding). */
export interface InFlightCounter {
  inFlight(replicaId: string): number;
}

export interface Runtime {
  /** "process" | "kubernetes": shown in logs and `modelplane serve` output */
  readonly kind: string;
  /** whether every engine of an installation routes to the same replicas (Kubernetes pods), rather than
   * each engine to replicas it runs for itself (processes): the leader's autoscaler then adds up the
   * engines' load instead of taking the busiest engine's (engine/autoscaler/cluster-load.ts) */
  readonly sharesReplicas: boolean;
  /** undefined when this runtime can run the workload, else why not in plain words (the API answers
   * 400 with it, e.g. "the process runtime runs a command; this deployment has only an image") */
  unsupported(workload: Workload): string | undefined;
  /** Declare a set's spec and desired replica count. Idempotent, returns at once; listeners hear only of changes. */
  setDesired(spec: ReplicaSetSpec, replicas: number): void;
  /** Remove a set and everything it runs (deactivate with nothing left, delete, sweep). Drains first. */
  remove(replicaSetId: ReplicaSetId): Promise<void>;
  /** What the runtime sees now (desired 0 and no replicas when unknown). */
  observe(replicaSetId: ReplicaSetId): ReplicaSetObservation;
  /** Ready replicas of a set, for the router; must be cheap (called per request). */
  readyReplicas(replicaSetId: ReplicaSetId): readonly ReplicaInfo[];
  /** Called whenever something observable of a set changes. */
  onChange(listener: (replicaSetId: ReplicaSetId) => void): () => void;
  /**
   * Whether this engine writes replicas shared with other engines. Kubernetes pods are the same for
   * every engine of an installation: only the engine holding the control lease creates, scales and
   * deletes their objects; the others only watch them (declared sets are observed, `remove` forgets
   * without deleting). Becoming the writer applies every declared set. Processes belong to the
   * engine that started them: the process runtime always writes and ignores this.
   */
  setWriter(writing: boolean): void;
  /** Engine start: the sets that already exist (Kubernetes Deployments labelled as ours; none for
   * processes, which die with the engine). The controller adopts those it still wants (setDesired with
   * the same id and revision must not restart anything) and removes the rest (the sweep). */
  list(): Promise<ExistingReplicaSet[]>;
  /** Engine shutdown, replicas keep running where they can (Kubernetes pods outlive the engine; the
   * process runtime cannot, so detach = stopAll there). Stops watches and timers. */
  detach(): Promise<void>;
  /** Stop every replica of every set (tests, `modelplane serve` with processes). Like detach, it ends
   * the runtime: setDesired afterwards throws. */
  stopAll(): Promise<void>;
}
