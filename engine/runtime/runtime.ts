/**
 * The replica runtime port. The engine declares, per deployment, how to start a replica and how
 * many it wants; the runtime converges to that (level-triggered) and reports what it observes.
 * The process runtime (child processes) is the embedded default; a Kubernetes runtime would
 * implement the same interface and pass the same contract suite.
 */

/** How to start one replica of a deployment. Everything a replica needs is in here. */
export interface ReplicaSpec {
  deploymentId: string;
  /** argv of the replica process; `command[0]` is resolved on PATH. */
  command: string[];
  /** working directory of the replica process (absolute, or relative to the engine's cwd). */
  cwd?: string;
  /** Extra environment: the deployment's env, then the environment's variables and secrets,
   * then ENVIRONMENT. The runtime adds PORT itself. Values here may be secret: never log them. */
  env: Record<string, string>;
  /** Names of `env` entries whose values are secret: the runtime redacts their values from any
   * replica output it keeps or reports (lastError). */
  secretKeys?: string[];
  /** HTTP path that answers 200 when the replica is ready, e.g. "/health". */
  readinessPath: string;
  /** Opaque revision: when it changes for a running deployment (live reload of the development
   * deployment, or a redeploy on promotion), every replica is replaced by one started from the
   * new spec, new ones first. */
  revision: string;
}

export type ReplicaState =
  /** process started, readiness path not yet answering 200 */
  | "starting"
  /** answering its readiness path; receives traffic */
  | "ready"
  /** chosen for removal: gets no new requests; stopped once in-flight requests finish */
  | "draining"
  /** exited or killed */
  | "stopped";

export interface ReplicaInfo {
  id: string;
  deploymentId: string;
  /** base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  state: ReplicaState;
  pid?: number;
  startedAt: number;
  revision: string;
}

export interface DeploymentObservation {
  deploymentId: string;
  desired: number;
  /** replicas in state "ready" (the only ones that get traffic) */
  ready: number;
  /** replicas started but not ready yet */
  starting: number;
  /** consecutive replica failures (exit, or never became ready in time) since the last ready replica */
  consecutiveFailures: number;
  /** true once replicas keep failing (crash loop): the deployment is FAILED/UNHEALTHY */
  failing: boolean;
  /** why it is failing, with the last lines the replica printed (never contains env values) */
  lastError?: string;
  replicas: ReplicaInfo[];
}

export interface Runtime {
  /** Declare the spec and the desired replica count of a deployment. Idempotent; returns at once. */
  setDesired(spec: ReplicaSpec, replicas: number): void;
  /** Stop every replica of a deployment and forget it (deactivate / delete). Drains first. */
  remove(deploymentId: string): Promise<void>;
  /** What the runtime sees now for a deployment (desired 0 and no replicas when unknown). */
  observe(deploymentId: string): DeploymentObservation;
  /** Ready replicas of a deployment, for the router. */
  readyReplicas(deploymentId: string): readonly ReplicaInfo[];
  /** Called whenever a replica changes state (start, ready, drain, stop, failure). */
  onChange(listener: (deploymentId: string) => void): () => void;
  /** Stop everything (engine shutdown): drain, SIGTERM, SIGKILL after the grace period. */
  close(): Promise<void>;
}
