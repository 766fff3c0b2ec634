import { spawn, type ChildProcess } from "node:child_process";
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
} from "../runtime.js";
import { capErrorMessage } from "../error-message.js";
import { Backoff } from "./backoff.js";
import { findFreePort } from "./free-port.js";
import { OutputTail } from "./output-tail.js";
import { probeReadiness } from "./readiness-probe.js";
import { replicaEnvironment, secretValues } from "./replica-env.js";
import { replicaAccessProblem, type ReplicaUser } from "./replica-user.js";
import { spawnFailureReason } from "./spawn-failure.js";

export interface ProcessRuntimeOptions {
  /** Requests the router is currently forwarding to each replica; a draining replica is stopped
   * once its count reaches 0. Default: always 0. */
  inFlight?: InFlightCounter;
  /** Interface replicas are reached on. Default 127.0.0.1. */
  host?: string;
  /** Readiness polling of a starting replica. Default 100 ms. */
  readinessPollIntervalMs?: number;
  /** Health checking of a ready replica. Default 1000 ms. */
  healthCheckIntervalMs?: number;
  /** A ready replica failing this many health checks in a row is replaced. Default 3. */
  healthCheckFailureThreshold?: number;
  /** Timeout of one readiness/health probe. Default 1000 ms. */
  probeTimeoutMs?: number;
  /** A replica not ready after this long is a failure and is replaced. Default 60 s. */
  startupTimeoutMs?: number;
  /** Back-off between replica restarts after a failure: initial and cap. Default 200 ms → 10 s. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Consecutive failures, with no replica becoming ready, after which the set is reported
   * `failing`. Default 3. */
  crashLoopThreshold?: number;
  /** How long a draining replica may keep finishing in-flight requests. Default 30 s. */
  drainTimeoutMs?: number;
  /** Between SIGTERM and SIGKILL of a replica's process group. Default 10 s. */
  stopGracePeriodMs?: number;
  /** Lines of replica output kept for failure reports. Default 20. */
  outputTailLines?: number;
  /** The engine's environment, of which replicas get only PATH, HOME, LANG, LC_ALL, TZ and
   * `passEnv` (replica-env.ts). Default process.env. */
  baseEnv?: NodeJS.ProcessEnv;
  /** More variables of the engine's environment to pass to replicas (e.g. LD_LIBRARY_PATH). */
  passEnv?: readonly string[];
  /** Run replicas as this user (the engine must be root): they cannot read the engine's
   * /proc/<pid>/environ or its data dir. Default: the engine's own user. `modelplane serve`
   * defaults it to an unprivileged user when it runs as root (replica-user.ts). */
  replicaUser?: ReplicaUser;
  /** Start replicas under a /bin/sh supervisor that kills them if the engine is SIGKILLed (see
   * ORPHAN_GUARD_SCRIPT). Default true; the 'exit' handler alone covers only graceful exits and
   * uncaught exceptions. */
  orphanGuard?: boolean;
}

type ResolvedOptions = Required<Omit<ProcessRuntimeOptions, "inFlight" | "replicaUser">> & { replicaUser: ReplicaUser | undefined };

const DEFAULTS: ResolvedOptions = {
  host: "127.0.0.1",
  readinessPollIntervalMs: 100,
  healthCheckIntervalMs: 1000,
  healthCheckFailureThreshold: 3,
  probeTimeoutMs: 1000,
  startupTimeoutMs: 60_000,
  backoffInitialMs: 200,
  backoffMaxMs: 10_000,
  crashLoopThreshold: 3,
  drainTimeoutMs: 30_000,
  stopGracePeriodMs: 10_000,
  outputTailLines: 20,
  baseEnv: process.env,
  passEnv: [],
  replicaUser: undefined,
  orphanGuard: true,
};

/**
 * Runs the replica command under a tiny /bin/sh supervisor that holds a pipe from the engine on
 * fd 3 (its stdin): if the engine dies in any way — SIGKILL and OOM included, where no 'exit'
 * handler runs — the pipe reaches EOF and the supervisor SIGKILLs its process group, replica and
 * all. While the engine lives it only waits for the replica and exits with its code. It traps TERM
 * so that a group SIGTERM stops the replica gracefully without the supervisor exiting first (a
 * trap with a command is reset to the default in children, so the replica still sees SIGTERM).
 * Reaping the guard it killed makes dash print "Killed" to stderr, which is the replica's output
 * stream (seen as the last line of a replica that exited with code 3, in about half the runs):
 * that stderr goes to /dev/null.
 */
const ORPHAN_GUARD_SCRIPT = [
  "exec 3<&0",
  '"$@" </dev/null &',
  "replica=$!",
  "(read _ <&3; kill -KILL 0) </dev/null &",
  "guard=$!",
  'trap ":" TERM INT',
  'while :; do wait "$replica"; code=$?; kill -0 "$replica" 2>/dev/null || break; done',
  '{ kill -KILL "$guard"; wait "$guard"; } 2>/dev/null',
  'exit "$code"',
].join("\n");

/** A replica that died because another process took its port between probe and bind is retried
 * at once on a new port, this many times in a row before it counts as an ordinary failure. */
const MAX_PORT_CONFLICT_RETRIES = 3;

interface ManagedReplica {
  id: string;
  replicaSetId: ReplicaSetId;
  revision: string;
  spec: ProcessSpec;
  state: ReplicaState;
  startedAt: number;
  port: number;
  url: string;
  child: ChildProcess | undefined;
  pid: number | undefined;
  output: OutputTail;
  /** the process (group leader) has exited */
  exited: boolean;
  /** resolves when the process group leader has exited (or was never started) */
  exitPromise: Promise<void>;
  markExited: () => void;
  /** the runtime decided to stop this replica: its exit is expected, not a failure */
  removing: boolean;
  stopPromise: Promise<void> | undefined;
  healthCheckFailures: number;
  probeTimer: NodeJS.Timeout | undefined;
}

/** A set's spec with its workload known to be a process. */
type ProcessSpec = ReplicaSetSpec & { workload: Extract<Workload, { kind: "process" }> };

interface ManagedSet {
  spec: ReplicaSetSpec;
  desired: number;
  replicas: Map<string, ManagedReplica>;
  consecutiveFailures: number;
  failing: boolean;
  lastError: string | undefined;
  portConflicts: number;
  backoff: Backoff;
  /** no new replica is started before this time (back-off after a failure) */
  startBlockedUntil: number;
  retryTimer: NodeJS.Timeout | undefined;
  /** ready replicas as handed to the router; rebuilt only when a replica changes state */
  readyCache: readonly ReplicaInfo[] | undefined;
}

/**
 * Replicas as local child processes. Each replica runs in its own process group (detached) so
 * that stopping it also stops whatever it forked (a shell wrapper, worker processes). The runtime
 * is level-triggered: `setDesired` records intent and `reconcile` converges towards it whenever
 * anything changes (a replica ready, exited, unhealthy, a back-off elapsed).
 */
export class ProcessRuntime implements Runtime {
  readonly kind = "process";
  readonly sharesReplicas = false;
  private readonly options: ResolvedOptions;
  private readonly inFlight: InFlightCounter;
  private readonly sets = new Map<ReplicaSetId, ManagedSet>();
  /** every replica process not yet reaped, including those of removed sets */
  private readonly liveReplicas = new Set<ManagedReplica>();
  private readonly listeners = new Set<(replicaSetId: ReplicaSetId) => void>();
  private nextReplicaNumber = 1;
  private closed = false;
  private closing: Promise<void> | undefined;
  /**
   * SIGKILL every replica's process group, synchronously, without draining. The last resort: a
   * crashing engine must not leave replicas behind, and 'exit' handlers run synchronously even on
   * process.exit() and uncaught exceptions, so this runs from one (registered by the constructor).
   */
  readonly killAllNow = (): void => {
    for (const replica of this.liveReplicas) killGroup(replica, "SIGKILL");
  };

  constructor(options: ProcessRuntimeOptions = {}) {
    const { inFlight, ...rest } = options;
    const defined = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined));
    this.options = { ...DEFAULTS, ...defined };
    this.inFlight = inFlight ?? { inFlight: () => 0 };
    process.on("exit", this.killAllNow);
  }

  unsupported(workload: Workload): string | undefined {
    if (workload.kind === "process") return undefined;
    return `the process runtime runs a command; this deployment has only an image (${workload.image})`;
  }

  setDesired(spec: ReplicaSetSpec, replicas: number): void {
    if (this.closed) throw new Error("ProcessRuntime is closed");
    const desired = Math.max(0, Math.floor(replicas));
    let deployment = this.sets.get(spec.id);
    // Listeners hear of changes only: the promotion reconciler sets the count on every pass and
    // is woken by these events, so an event per call kept it passing back to back (hundreds of
    // passes a second for the whole rollout, and the router starved of CPU).
    const changed = deployment === undefined || deployment.desired !== desired || deployment.spec.revision !== spec.revision;
    if (deployment === undefined) {
      deployment = {
        spec,
        desired,
        replicas: new Map(),
        consecutiveFailures: 0,
        failing: false,
        lastError: undefined,
        portConflicts: 0,
        backoff: new Backoff(this.options.backoffInitialMs, this.options.backoffMaxMs),
        startBlockedUntil: 0,
        retryTimer: undefined,
        readyCache: undefined,
      };
      this.sets.set(spec.id, deployment);
    } else {
      if (deployment.spec.revision !== spec.revision) {
        // A new revision is a new chance: the crash loop of the previous one says nothing about it.
        deployment.consecutiveFailures = 0;
        deployment.failing = false;
        deployment.lastError = undefined;
        deployment.backoff.reset();
        deployment.startBlockedUntil = 0;
      }
      deployment.spec = spec;
      deployment.desired = desired;
    }
    const unsupported = this.unsupported(spec.workload);
    if (unsupported !== undefined && !deployment.failing) {
      // Nothing to start: the set fails at once, saying why (an image-only deployment).
      deployment.failing = true;
      deployment.consecutiveFailures = this.options.crashLoopThreshold;
      deployment.lastError = unsupported;
    }
    this.reconcile(deployment);
    if (changed) this.emit(spec.id);
  }

  async remove(replicaSetId: ReplicaSetId): Promise<void> {
    const deployment = this.sets.get(replicaSetId);
    if (deployment === undefined) return;
    this.sets.delete(replicaSetId);
    clearTimeout(deployment.retryTimer);
    const stops = [...deployment.replicas.values()].map((replica) => this.stopReplica(deployment, replica, true));
    this.emit(replicaSetId);
    await Promise.all(stops);
  }

  observe(replicaSetId: ReplicaSetId): ReplicaSetObservation {
    const deployment = this.sets.get(replicaSetId);
    if (deployment === undefined) {
      return { replicaSetId, desired: 0, ready: 0, starting: 0, consecutiveFailures: 0, failing: false, replicas: [] };
    }
    const replicas = [...deployment.replicas.values()].map(replicaInfo);
    const observation: ReplicaSetObservation = {
      replicaSetId,
      desired: deployment.desired,
      ready: replicas.filter((replica) => replica.state === "ready").length,
      starting: replicas.filter((replica) => replica.state === "starting").length,
      consecutiveFailures: deployment.consecutiveFailures,
      failing: deployment.failing,
      replicas,
    };
    if (deployment.lastError !== undefined) observation.lastError = deployment.lastError;
    return observation;
  }

  readyReplicas(replicaSetId: ReplicaSetId): readonly ReplicaInfo[] {
    const deployment = this.sets.get(replicaSetId);
    if (deployment === undefined) return [];
    deployment.readyCache ??= [...deployment.replicas.values()]
      .filter((replica) => replica.state === "ready")
      .map(replicaInfo);
    return deployment.readyCache;
  }

  onChange(listener: (replicaSetId: ReplicaSetId) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every engine runs its own processes (at the counts the leader stored): nothing is shared to hold back. */
  setWriter(): void {}

  /** The sets this runtime runs now: processes die with the engine, so a new engine finds none. */
  list(): Promise<ExistingReplicaSet[]> {
    return Promise.resolve(
      [...this.sets.values()].map((set) => ({ id: set.spec.id, owner: set.spec.owner, desired: set.desired, revision: set.spec.revision })),
    );
  }

  /** Processes cannot outlive the engine: detaching stops them (drained). */
  detach(): Promise<void> {
    return this.stopAll();
  }

  stopAll(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private async closeAll(): Promise<void> {
    this.closed = true;
    const stops: Promise<void>[] = [];
    for (const deployment of this.sets.values()) {
      clearTimeout(deployment.retryTimer);
      deployment.desired = 0;
      for (const replica of deployment.replicas.values()) stops.push(this.stopReplica(deployment, replica, true));
    }
    await Promise.all(stops);
    // Replicas of deployments removed earlier may still be stopping.
    await Promise.all([...this.liveReplicas].map((replica) => replica.stopPromise ?? replica.exitPromise));
    this.sets.clear();
    process.off("exit", this.killAllNow);
  }

  /**
   * Converge one deployment towards its desired count and revision. At most `desired` replicas
   * of the current revision; while older-revision replicas exist, up to max(1, 25 % of desired)
   * extra replicas are started (surge), and an old ready replica is drained each time a new one
   * becomes ready, so serving capacity never drops during a revision change.
   */
  private reconcile(deployment: ManagedSet): void {
    if (this.closed || this.sets.get(deployment.spec.id) !== deployment) return;
    const { desired } = deployment;
    const revision = deployment.spec.revision;
    const live = [...deployment.replicas.values()].filter((replica) => !replica.removing);
    const current = live.filter((replica) => replica.revision === revision);
    const outdated = live.filter((replica) => replica.revision !== revision);

    // Surplus of the current revision: drop replicas that serve nothing yet first, then the newest.
    if (current.length > desired) {
      const surplus = [...current].sort(scaleDownOrder).slice(0, current.length - desired);
      for (const replica of surplus) this.stopReplica(deployment, replica, true);
    }
    const currentKept = Math.min(current.length, desired);
    const readyCurrent = Math.min(current.filter((replica) => replica.state === "ready").length, desired);

    // Older revision: a starting one serves nothing, drop it; keep only as many ready ones as
    // the new revision cannot serve yet, dropping the oldest first.
    const outdatedReady = outdated.filter((replica) => replica.state === "ready").sort(oldestFirst);
    for (const replica of outdated) if (replica.state !== "ready") this.stopReplica(deployment, replica, true);
    const outdatedToKeep = Math.max(0, desired - readyCurrent);
    const outdatedDropped = outdatedReady.slice(0, Math.max(0, outdatedReady.length - outdatedToKeep));
    for (const replica of outdatedDropped) this.stopReplica(deployment, replica, true);
    const outdatedKept = outdatedReady.length - outdatedDropped.length;

    const missing = desired - currentKept;
    if (missing <= 0) return;
    const surge = outdatedKept > 0 ? surgeReplicas(desired, deployment.spec.maxSurgePercent) : 0;
    const room = desired + surge - currentKept - outdatedKept;
    const toStart = Math.min(missing, Math.max(0, room));
    if (toStart === 0) return;
    const waitMs = deployment.startBlockedUntil - Date.now();
    if (waitMs > 0) {
      if (deployment.retryTimer === undefined) {
        deployment.retryTimer = setTimeout(() => {
          deployment.retryTimer = undefined;
          this.reconcile(deployment);
        }, waitMs);
      }
      return;
    }
    for (let started = 0; started < toStart; started++) this.startReplica(deployment);
  }

  private startReplica(deployment: ManagedSet): void {
    const spec = deployment.spec;
    if (spec.workload.kind !== "process") return; // failing since setDesired: nothing to start
    const processSpec = { ...spec, workload: spec.workload };
    let markExited: () => void = () => undefined;
    const exitPromise = new Promise<void>((resolve) => {
      markExited = resolve;
    });
    const replica: ManagedReplica = {
      id: `${spec.id}/replica-${this.nextReplicaNumber++}`,
      replicaSetId: spec.id,
      revision: spec.revision,
      spec: processSpec,
      state: "starting",
      startedAt: Date.now(),
      port: 0,
      url: "",
      child: undefined,
      pid: undefined,
      output: new OutputTail(this.options.outputTailLines, secretValues(spec)),
      exited: false,
      exitPromise,
      markExited: () => {
        replica.exited = true;
        markExited();
      },
      removing: false,
      stopPromise: undefined,
      healthCheckFailures: 0,
      probeTimer: undefined,
    };
    deployment.replicas.set(replica.id, replica);
    this.liveReplicas.add(replica);
    findFreePort(this.options.host).then(
      (port) => this.spawnReplica(deployment, replica, port),
      (error: unknown) => this.failBeforeStart(deployment, replica, `could not find a free port: ${errorMessage(error)}`),
    );
  }

  private spawnReplica(deployment: ManagedSet, replica: ManagedReplica, port: number): void {
    if (replica.removing) {
      replica.markExited();
      this.liveReplicas.delete(replica);
      return;
    }
    const { spec } = replica;
    const { command, cwd } = spec.workload;
    const [executable, ...args] = command;
    if (executable === undefined) {
      this.failBeforeStart(deployment, replica, "the deployment has an empty command");
      return;
    }
    replica.port = port;
    replica.url = `http://${this.options.host}:${port}`;
    replica.startedAt = Date.now();
    const user = this.options.replicaUser;
    const env = replicaEnvironment(this.options.baseEnv, spec, port, {
      passThrough: this.options.passEnv,
      ...(user !== undefined ? { overrides: { HOME: user.home, USER: user.name, LOGNAME: user.name } } : {}),
    });
    if (user !== undefined) {
      const problem = replicaAccessProblem(user, executable, cwd, env["PATH"] ?? "");
      if (problem !== undefined) {
        this.failBeforeStart(deployment, replica, problem);
        return;
      }
    }
    // libuv drops supplementary groups and sets gid, then uid, in the child before exec
    const identity = user !== undefined ? { uid: user.uid, gid: user.gid } : {};
    let child: ChildProcess;
    try {
      child = this.options.orphanGuard
        ? spawn("/bin/sh", ["-c", ORPHAN_GUARD_SCRIPT, "modelplane-replica", executable, ...args], {
            cwd,
            env,
            ...identity,
            detached: true,
            // stdin is the engine-held pipe whose EOF tells the supervisor the engine is gone
            stdio: ["pipe", "pipe", "pipe"],
          })
        : spawn(executable, args, { cwd, env, ...identity, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    } catch (error) {
      this.failBeforeStart(deployment, replica, spawnFailureReason(executable, cwd, error));
      return;
    }
    replica.child = child;
    replica.pid = child.pid;
    child.stdout?.on("data", (chunk: Buffer) => replica.output.append(chunk));
    child.stderr?.on("data", (chunk: Buffer) => replica.output.append(chunk));
    child.on("error", (error) => {
      // spawn failures (ENOENT, EACCES) arrive here, without an 'exit'
      if (child.pid === undefined) this.failBeforeStart(deployment, replica, spawnFailureReason(executable, cwd, error));
    });
    child.on("exit", () => {
      replica.markExited();
      // Whatever the replica forked dies with it, and its pipes close so 'close' fires.
      killGroup(replica, "SIGKILL");
    });
    child.on("close", (code, signal) => {
      this.liveReplicas.delete(replica);
      if (replica.removing) return;
      const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code ?? "unknown"}`;
      if (replica.state === "starting" && replica.output.includes("EADDRINUSE") && deployment.portConflicts < MAX_PORT_CONFLICT_RETRIES) {
        // Port taken between probe and bind: not the model's fault, try again on another port.
        deployment.portConflicts++;
        this.forgetReplica(deployment, replica);
        this.reconcile(deployment);
        return;
      }
      this.replicaFailed(deployment, replica, `replica ${how}`);
    });
    this.scheduleProbe(deployment, replica, this.options.readinessPollIntervalMs);
    this.emit(replica.replicaSetId);
  }

  private scheduleProbe(deployment: ManagedSet, replica: ManagedReplica, delayMs: number): void {
    replica.probeTimer = setTimeout(() => {
      replica.probeTimer = undefined;
      void this.probe(deployment, replica);
    }, delayMs);
  }

  private async probe(deployment: ManagedSet, replica: ManagedReplica): Promise<void> {
    if (replica.removing || replica.exited) return;
    const { host, probeTimeoutMs, startupTimeoutMs, readinessPollIntervalMs, healthCheckIntervalMs } = this.options;
    const ok = await probeReadiness(host, replica.port, replica.spec.readinessPath, probeTimeoutMs);
    if (replica.removing || replica.exited) return;
    if (replica.state === "starting") {
      if (ok) {
        this.replicaReady(deployment, replica);
        this.scheduleProbe(deployment, replica, healthCheckIntervalMs);
      } else if (Date.now() - replica.startedAt >= startupTimeoutMs) {
        this.replicaFailed(deployment, replica, `replica not ready after ${formatSeconds(startupTimeoutMs)} (GET ${replica.spec.readinessPath} never answered 200)`);
      } else {
        this.scheduleProbe(deployment, replica, readinessPollIntervalMs);
      }
      return;
    }
    if (ok) {
      replica.healthCheckFailures = 0;
    } else if (++replica.healthCheckFailures >= this.options.healthCheckFailureThreshold) {
      this.replicaFailed(deployment, replica, `replica stopped answering GET ${replica.spec.readinessPath} (${replica.healthCheckFailures} checks in a row)`);
      return;
    }
    this.scheduleProbe(deployment, replica, healthCheckIntervalMs);
  }

  private replicaReady(deployment: ManagedSet, replica: ManagedReplica): void {
    replica.state = "ready";
    deployment.readyCache = undefined;
    if (replica.revision === deployment.spec.revision) {
      deployment.consecutiveFailures = 0;
      deployment.failing = false;
      deployment.lastError = undefined;
      deployment.portConflicts = 0;
      deployment.backoff.reset();
    }
    this.reconcile(deployment);
    this.emit(replica.replicaSetId);
  }

  /** A replica exited on its own, never became ready, or stopped answering: record why, stop
   * what is left of it, and let reconcile start a replacement once the back-off has elapsed. */
  private replicaFailed(deployment: ManagedSet, replica: ManagedReplica, reason: string): void {
    if (replica.removing) return;
    const output = replica.output.text();
    deployment.consecutiveFailures++;
    // The deployment counts as failing only after crashLoopThreshold starts in a row (3 by
    // default: a replica never ready fails after 3 × 60 s, not 60 s): the message says how many.
    const count = deployment.consecutiveFailures;
    const inARow = count > 1 ? ` (${count} failed starts in a row)` : "";
    deployment.lastError = capErrorMessage(output.length > 0 ? `${reason}${inARow}; last output:\n${output}` : `${reason}${inARow}; no output`);
    if (deployment.consecutiveFailures >= this.options.crashLoopThreshold) deployment.failing = true;
    deployment.startBlockedUntil = Date.now() + deployment.backoff.next();
    void this.stopReplica(deployment, replica, false);
    this.reconcile(deployment);
  }

  /** No process to stop: the replica failed before its process existed. */
  private failBeforeStart(deployment: ManagedSet, replica: ManagedReplica, reason: string): void {
    replica.markExited();
    this.liveReplicas.delete(replica);
    this.replicaFailed(deployment, replica, reason);
  }

  /** Drain (wait for in-flight requests, bounded), then SIGTERM the process group, then SIGKILL
   * after the grace period. Idempotent: returns the same promise for a replica already stopping. */
  private stopReplica(deployment: ManagedSet, replica: ManagedReplica, drain: boolean): Promise<void> {
    if (replica.stopPromise !== undefined) return replica.stopPromise;
    replica.removing = true;
    clearTimeout(replica.probeTimer);
    const wasReady = replica.state === "ready";
    replica.state = "draining";
    deployment.readyCache = undefined;
    this.emit(replica.replicaSetId);
    replica.stopPromise = (async () => {
      if (replica.child === undefined) {
        // Still waiting for its port: spawnReplica sees `removing` and never starts it.
        if (replica.pid === undefined && !replica.exited) await replica.exitPromise;
      } else {
        if (drain && wasReady) await this.drained(replica);
        await this.terminate(replica);
      }
      this.forgetReplica(deployment, replica);
      this.reconcile(deployment);
    })();
    return replica.stopPromise;
  }

  private async drained(replica: ManagedReplica): Promise<void> {
    const deadline = Date.now() + this.options.drainTimeoutMs;
    while (!replica.exited && Date.now() < deadline && this.inFlight.inFlight(replica.id) > 0) {
      await delay(Math.min(25, Math.max(1, deadline - Date.now())));
    }
  }

  private async terminate(replica: ManagedReplica): Promise<void> {
    if (!replica.exited) {
      killGroup(replica, "SIGTERM");
      await Promise.race([replica.exitPromise, delay(this.options.stopGracePeriodMs)]);
    }
    // Also after a clean exit: children the replica forked may still be alive in its group.
    killGroup(replica, "SIGKILL");
    await replica.exitPromise;
  }

  private forgetReplica(deployment: ManagedSet, replica: ManagedReplica): void {
    replica.state = "stopped";
    clearTimeout(replica.probeTimer);
    deployment.replicas.delete(replica.id);
    deployment.readyCache = undefined;
    this.emit(replica.replicaSetId);
  }

  private emit(replicaSetId: ReplicaSetId): void {
    for (const listener of this.listeners) {
      try {
        listener(replicaSetId);
      } catch {
        // A listener's bug must not break the runtime's bookkeeping.
      }
    }
  }
}

function replicaInfo(replica: ManagedReplica): ReplicaInfo {
  const info: ReplicaInfo = {
    id: replica.id,
    replicaSetId: replica.replicaSetId,
    url: replica.url,
    state: replica.state,
    startedAt: replica.startedAt,
    revision: replica.revision,
  };
  if (replica.pid !== undefined) info.pid = replica.pid;
  return info;
}

/** Scale-down order: replicas that serve nothing yet first, then the newest (the oldest have
 * proven themselves and have warm caches). */
function scaleDownOrder(a: ManagedReplica, b: ManagedReplica): number {
  const aReady = a.state === "ready" ? 1 : 0;
  const bReady = b.state === "ready" ? 1 : 0;
  return aReady - bReady || b.startedAt - a.startedAt;
}

function oldestFirst(a: ManagedReplica, b: ManagedReplica): number {
  return a.startedAt - b.startedAt;
}

function killGroup(replica: ManagedReplica, signal: NodeJS.Signals): void {
  if (replica.pid === undefined) return;
  try {
    process.kill(-replica.pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** Extra replicas a revision change may start: `maxSurgePercent` of desired (default 25 %), rounded
 * up, at least one so a change always moves (4 desired at 25 % → 1; 4 at 50 % → 2; 3 at 100 % → 3). */
export function surgeReplicas(desired: number, maxSurgePercent = 25): number {
  return Math.max(1, Math.ceil((desired * maxSurgePercent) / 100));
}
