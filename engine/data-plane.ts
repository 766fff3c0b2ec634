/**
 * Everything that makes deployments really run and serve, wired together: the process runtime
 * (replicas), the router (predict traffic), the autoscaler, the deployment controller (stored
 * state → runtime and router) and the promotion reconciler. Driven by the control plane's domain
 * events, and with several engines on one PostgreSQL by theirs (the change feed) and the control
 * lease (one leader writes counts and drives promotions); rebuilt from the store on start, so a
 * restarted engine resumes where it stopped. Mounted by the engine (engine.ts) before it listens.
 */
import type { ShadowSettings, VariablesRollout } from "../sdk/index.js";
import { Autoscaler } from "./autoscaler/index.js";
import { ClusterLoad, LoadReporter, withClusterLoad } from "./autoscaler/load-report.js";
import { ChangeFeed, type ClusterChange } from "./control/change-feed.js";
import { ControlLease } from "./control/control-lease.js";
import { DeploymentController } from "./control/deployment-controller.js";
import { createPromotionExecutor } from "./promotions/executor.js";
import { PromotionReconciler } from "./promotions/reconciler.js";
import { AnalysisRunner } from "./analysis/runner.js";
import { createRouter, InFlightCounts, RoutingTable, type EnvironmentRoute } from "./router/index.js";
import { ProcessRuntime, type ProcessRuntimeOptions } from "./runtime/process/index.js";
import { replicaSetId, type InFlightCounter, type Runtime } from "./runtime/runtime.js";
import type { EngineMount, EngineParts } from "./engine.js";
import type { PromotionExecutor } from "./service/promotions.js";
import type { Sql } from "./store/sql.js";
import { nextResyncDelayMs } from "./control/resync-schedule.js";
import { KeyedWorkQueue } from "./control/work-queue.js";
import { asBackgroundWork, asControlLoop } from "./store/statement-priority.js";
import type { KubernetesRuntimeChoice } from "./runtime/kubernetes/start-kubernetes-runtime.js";

export interface DataPlaneOptions {
  /** options of the default process runtime */
  runtime?: ProcessRuntimeOptions;
  /** another runtime instead; it drains on the router's counts it is given */
  createRuntime?: (inFlight: InFlightCounter) => Runtime | Promise<Runtime>;
  /** run replicas on Kubernetes (`modelplane serve --runtime kubernetes`) instead of as processes */
  kubernetes?: KubernetesRuntimeChoice;
  /** how long a promotion's candidate gets to have the replicas it is asked for (default 5 min) */
  promotionReadyTimeoutMs?: number;
  /** how long a predict request waits for a deployment scaled to zero (default 60 s) */
  wakeTimeoutMs?: number;
  /** with several engines on one PostgreSQL: how long after the leading engine died another takes the
   * lead (replica counts, autoscaling) and its promotions over (default 10 s) */
  promotionLeaseTtlMs?: number;
  /** with several engines on one PostgreSQL: how often each re-reads everything from the store, the
   * guarantee behind the change notifications other engines send (default 10 s; longer when a
   * resync takes over a tenth of it) */
  storeResyncMs?: number;
  /** with several engines on one PostgreSQL: how often each engine that does not lead writes its
   * router's load per replica set for the leader's autoscaler (default 2 s; the leader reads every half) */
  loadReportMs?: number;
  /** the Prometheus server of analysis metrics that give no url of their own (e.g. http://127.0.0.1:9090) */
  prometheusUrl?: string;
  /** progress lines of promotions and replica changes */
  log?: (line: string) => void;
}

export interface DataPlane extends EngineMount {
  promotionExecutor: PromotionExecutor;
  variablesRollout(modelId: string, environmentName: string): Promise<VariablesRollout>;
  runtime: Runtime;
  controller: DeploymentController;
  reconciler: PromotionReconciler;
  /** whether this engine leads (writes counts, drives promotions): always on PGlite */
  leadership: ControlLease;
  /** what this engine's router does with an environment's traffic now (diagnostics, tests) */
  routeOf(modelId: string, environmentName: string): EnvironmentRoute | undefined;
  /** the shadow this engine's router mirrors an environment's requests to (diagnostics, tests) */
  shadowOf(modelId: string, environmentName: string): ShadowSettings | undefined;
  /** whether this engine's router knows a deployment (diagnostics, tests) */
  routesDeployment(modelId: string, deploymentId: string): boolean;
  close(): Promise<void>;
}

/**
 * Models whose events the controller handles at once. Each handler is a chain of statements, so a
 * few chains keep the store busier than one; more would only queue there (PGlite has one session).
 */
const EVENT_WORKERS = 4;

/** The model an event is about; undefined: it is handled alone (a replica set's change from another engine names its deployment only). */
function modelOf(change: ClusterChange): string | undefined {
  return "modelId" in change ? change.modelId : undefined;
}

/** Built from the engine's parts (store, domain events, access view): every piece made once, in order. */
export async function startDataPlane(parts: EngineParts, options: DataPlaneOptions): Promise<DataPlane> {
  // metrics (GET /metrics): the router counts requests into them, the rest is read at scrape time
  const { sql, events, access, metrics, recordChange } = parts;
  const inFlight = new InFlightCounts();
  const runtime = await createRuntime(sql, inFlight, options);
  const table = new RoutingTable();
  const router = createRouter({
    table,
    runtime,
    inFlight,
    // required: no router runs open
    authorize: (target, authorization) => access.authorizePredict(target, authorization),
    metrics: metrics.requests,
    shadowStats: metrics.shadows,
    ...(options.wakeTimeoutMs !== undefined ? { wakeTimeoutMs: options.wakeTimeoutMs } : {}),
  });
  // Events are handled in order per model, several models at once (control/work-queue.ts); each
  // handler re-reads the rows it needs. Work of no one model (resyncs, leadership) runs alone.
  const queue = new KeyedWorkQueue(EVENT_WORKERS);
  /** Resolves once `work` has run (never rejects: a failure is logged). */
  const enqueue = (what: string, modelId: string | undefined, work: () => Promise<void>): Promise<void> =>
    queue.enqueue(modelId, () => asControlLoop(work), (error: unknown) => options.log?.(`${what} failed: ${(error as Error).message}`));
  let started = false;
  const leadership = new ControlLease({
    sql,
    ...(options.promotionLeaseTtlMs !== undefined ? { ttlMs: options.promotionLeaseTtlMs } : {}),
    ...(options.log ? { log: options.log } : {}),
    onChange: (leading) => {
      if (started) enqueue("leadership change", undefined, () => deployments.leadershipChanged(leading));
    },
  });
  const feed = new ChangeFeed({
    sql,
    onChange: (change) => {
      recordChange(change);
      promotionRowsMayHaveChanged(change);
      enqueue(`change ${change.type} from another engine`, modelOf(change), () => onChange(change));
    },
    onGap: () => {
      reconciler.allRowsMayHaveChanged();
      enqueue("resync after lost notifications", undefined, () => deployments.resync());
    },
    ...(options.log ? { log: options.log } : {}),
  });
  // Each router counts only its own requests: with several engines on PostgreSQL the followers
  // report theirs to the store and the leader's autoscaler combines them with its own (autoscaler/
  // cluster-load.ts): added up for replicas every engine routes to, the busiest engine's for
  // replicas each engine runs for itself. One engine on PGlite has all the traffic and pays for none of it.
  const loadExchange =
    sql.kind === "postgres"
      ? {
          sql,
          engineId: leadership.holder,
          isLeader: () => leadership.isLeader(),
          sharing: runtime.sharesReplicas ? ("shared" as const) : ("per-engine" as const),
          ...(options.loadReportMs !== undefined ? { reportIntervalMs: options.loadReportMs } : {}),
          ...(options.log ? { log: options.log } : {}),
        }
      : undefined;
  const loadReporter = loadExchange === undefined ? undefined : new LoadReporter(router, loadExchange);
  const clusterLoad = loadExchange === undefined ? undefined : new ClusterLoad(loadExchange);
  const autoscaler = new Autoscaler({ source: clusterLoad === undefined ? router : withClusterLoad(router, clusterLoad) });
  // What the controller and the reconciler write outside the control plane's transactions: told to
  // the other engines and to this engine's GET /v1/events.
  const publish = (change: ClusterChange): void => {
    recordChange(change);
    feed.publish(change);
  };
  const deployments = new DeploymentController({
    sql,
    runtime,
    table,
    autoscaler,
    leadership,
    publish,
    ...(options.log ? { log: options.log } : {}),
  });
  router.onWake((setId) => asControlLoop(() => deployments.wake(setId)));
  autoscaler.onDecision((setId, replicas) => asBackgroundWork(() => deployments.applyAutoscaling(setId, replicas)));
  const reconciler = new PromotionReconciler({
    sql,
    runtime,
    deployments,
    autoscaler,
    leadership,
    publish,
    ...(options.log ? { log: options.log } : {}),
    ...(options.promotionLeaseTtlMs !== undefined ? { leaseTtlMs: options.promotionLeaseTtlMs } : {}),
    onPass: metrics.reconcilePass.bind(metrics),
    // promotion analysis measures the candidate with the router's own counters
    analysis: new AnalysisRunner({
      requests: metrics.requests,
      shadows: metrics.shadows,
      ...(options.prometheusUrl !== undefined ? { prometheusUrl: options.prometheusUrl } : {}),
    }),
  });
  const stopMetrics = metrics.observeDataPlane({
    replicaSets: () => deployments.replicaSets(),
    runtime,
    inFlightForSet: (setId) => router.inFlightForSet(setId),
    autoscaler,
    table,
    sql,
  });
  const promotionExecutor = createPromotionExecutor({
    currentReplicas: (deploymentId, environmentName) => deployments.desiredReplicas(replicaSetId(deploymentId, environmentName)),
    readyReplicas: (deploymentId, environmentName) => runtime.observe(replicaSetId(deploymentId, environmentName)).ready,
    routeEnded: (promotion, state) => reconciler.route(promotion, state),
    ...(options.promotionReadyTimeoutMs !== undefined ? { readyTimeoutMs: options.promotionReadyTimeoutMs } : {}),
  });

  /**
   * The reconciler plans passes from the promotion rows it last read or wrote (reconciler.ts,
   * keptRowUsable): a committed change that may have written one is told to it at once, not in the
   * event queue's turn, so that no pass after the change's answer plans from the row before it.
   */
  const promotionRowsMayHaveChanged = (change: ClusterChange): void => {
    if (change.type === "promotion.changed") reconciler.rowMayHaveChanged(change.promotionId);
    // a model's deletion cancels its in-progress promotions (store/models.ts)
    if (change.type === "model.deleted") reconciler.modelRowsMayHaveChanged(change.modelId);
  };

  const onChange = async (change: ClusterChange): Promise<void> => {
    switch (change.type) {
      case "model.created":
      case "model.deleted":
        return deployments.syncModel(change.modelId);
      case "deployment.changed":
        return deployments.syncDeployment(change.deploymentId);
      case "environment.changed":
        return deployments.syncEnvironment(change.modelId, change.environmentName);
      case "promotion.changed":
        await deployments.syncEnvironment(change.modelId, change.environmentName, change.started === true ? { promotionStarted: true } : {});
        return reconciler.wake(change.promotionId);
      case "promotion_settings.changed":
        return;
      case "replica_set.changed":
        return deployments.syncDeployment(change.deploymentId);
      case "replica_set.wake":
        return deployments.wake(change.setId);
    }
  };
  // the change's answer waits for its handling here (service/context.ts: read your writes)
  const unsubscribe = events.onChange((event) => {
    promotionRowsMayHaveChanged(event);
    feed.publish(event);
    return enqueue(`event ${event.type}`, modelOf(event), () => onChange(event));
  });

  await feed.start();
  await leadership.start();
  const leadingAtStart = leadership.isLeader();
  runtime.setWriter(leadingAtStart);
  await deployments.resync({ restore: true });
  started = true;
  // The lead changed while the first sync ran: act on it now.
  if (leadership.isLeader() !== leadingAtStart) enqueue("leadership change", undefined, () => deployments.leadershipChanged(leadership.isLeader()));
  await reconciler.start();
  loadReporter?.start();
  clusterLoad?.start();
  // The guarantee behind the notifications: everything re-read now and then (one engine on PGlite needs none).
  // Never more than a tenth of the engine's time (control/resync-schedule.ts); lost notifications
  // trigger one at once (onGap above).
  let resyncTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  // It runs beside the event queue, not alone in it: at 10,000 deployments a resync takes 0.45–0.7 s
  // on PostgreSQL (bench/scale/resync.js), and every write's answer, which waits for its event to be
  // applied, waited that long behind it (PATCH/create p99 ~1 s with the API alone, bench/scale run 9).
  // Events handled meanwhile are fresher than its snapshot: the controller leaves what they synced
  // or forgot alone, and runs one resync at a time.
  const scheduleResync = (afterMs: number): void => {
    if (stopped) return;
    resyncTimer = setTimeout(() => {
      const began = performance.now();
      void asControlLoop(() => deployments.resync())
        .catch((error: unknown) => options.log?.(`periodic resync failed: ${(error as Error).message}`))
        .finally(() => scheduleResync(nextResyncDelayMs(options.storeResyncMs ?? 10_000, performance.now() - began)));
    }, afterMs);
    resyncTimer.unref();
  };
  if (sql.kind === "postgres") scheduleResync(options.storeResyncMs ?? 10_000);

  return {
    promotionExecutor,
    variablesRollout: (modelId, environmentName) => deployments.variablesRollout(modelId, environmentName),
    handle: (req, res) => router.handle(req, res),
    acceptConnection: (socket, handOff) => router.acceptConnection(socket, handOff),
    drainConnections: (idleGraceMs) => router.drainConnections(idleGraceMs),
    runtime,
    controller: deployments,
    reconciler,
    leadership,
    routeOf: (modelId, environmentName) => table.environment(modelId, environmentName),
    shadowOf: (modelId, environmentName) => table.shadow(modelId, environmentName)?.settings,
    routesDeployment: (modelId, deploymentId) => table.deployment(modelId, deploymentId) !== undefined,
    async close() {
      stopMetrics();
      unsubscribe();
      stopped = true;
      clearTimeout(resyncTimer);
      await feed.close();
      await loadReporter?.close();
      await clusterLoad?.close();
      await queue.idle();
      await reconciler.close();
      autoscaler.close();
      await deployments.close();
      // Released only now: the replica counts and observations this engine wrote are all stored.
      await leadership.close();
      await router.close();
      // Processes stop with the engine; replicas that can outlive it (Kubernetes) keep serving.
      await runtime.detach();
    },
  };
}

/** The one place the runtime is chosen: Kubernetes (its client library loaded only then), another given one, or processes. */
async function createRuntime(sql: Sql, inFlight: InFlightCounter, options: DataPlaneOptions): Promise<Runtime> {
  if (options.kubernetes !== undefined) {
    const { startKubernetesRuntime } = await import("./runtime/kubernetes/start-kubernetes-runtime.js");
    return startKubernetesRuntime(options.kubernetes, { sql, inFlight, log: options.log ?? ((line) => process.stderr.write(`${line}\n`)) });
  }
  if (options.createRuntime !== undefined) return options.createRuntime(inFlight);
  return new ProcessRuntime({ ...options.runtime, inFlight });
}
