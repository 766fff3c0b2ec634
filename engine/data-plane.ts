/**
 * Everything that makes deployments really run and serve, wired together: the process runtime
 * (replicas), the router (predict traffic), the autoscaler, the deployment controller (stored
 * state → runtime and router) and the promotion reconciler. Driven by the control plane's domain
 * events; rebuilt from the store on start, so a restarted engine resumes where it stopped.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Autoscaler } from "./autoscaler/index.js";
import { DeploymentController } from "./control/deployment-controller.js";
import { createPromotionExecutor } from "./promotions/executor.js";
import { PromotionReconciler } from "./promotions/reconciler.js";
import { createRouter, InFlightCounts, RoutingTable } from "./router/index.js";
import type { AuthorizePredict } from "./router/router.js";
import type { ConnectionHandler } from "./router/front-door.js";
import { ProcessRuntime, type ProcessRuntimeOptions } from "./runtime/process/index.js";
import { replicaSetId, type InFlightCounter, type Runtime } from "./runtime/runtime.js";
import type { ControlPlane } from "./service/control-plane.js";
import type { DomainEvent } from "./service/events.js";
import type { Sql } from "./store/sql.js";
import type { KubernetesRuntimeChoice } from "./runtime/kubernetes/start-kubernetes-runtime.js";

export interface DataPlaneOptions {
  /** who may call a predict target (the engine's AccessView); required, so no router runs open */
  authorizePredict: AuthorizePredict;
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
  /** with several engines on one PostgreSQL: how long after its driver died another engine takes a promotion over (default 10 s) */
  promotionLeaseTtlMs?: number;
  /** progress lines of promotions and replica changes */
  log?: (line: string) => void;
}

export interface DataPlane {
  /** serves data-plane paths (`/models/...`); false for any other path */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** the router's fast path for new connections (see engine/router/fast-path.ts) */
  acceptConnection: ConnectionHandler;
  runtime: Runtime;
  controller: DeploymentController;
  reconciler: PromotionReconciler;
  close(): Promise<void>;
}

export async function startDataPlane(controlPlane: ControlPlane, options: DataPlaneOptions): Promise<DataPlane> {
  const sql = controlPlane.sql;
  const inFlight = new InFlightCounts();
  const runtime = await createRuntime(sql, inFlight, options);
  const table = new RoutingTable();
  // The controller is created after the router and autoscaler it uses; their callbacks reach it late.
  let controller: DeploymentController | undefined;
  const router = createRouter({
    table,
    runtime,
    inFlight,
    authorize: options.authorizePredict,
    onWake: (setId) => controller?.wake(setId),
    ...(options.wakeTimeoutMs !== undefined ? { wakeTimeoutMs: options.wakeTimeoutMs } : {}),
  });
  const autoscaler = new Autoscaler({ source: router, apply: (setId, replicas) => controller?.applyAutoscaling(setId, replicas) });
  const deployments = new DeploymentController({ sql, runtime, table, autoscaler });
  controller = deployments;
  const reconciler = new PromotionReconciler({
    sql,
    runtime,
    deployments,
    autoscaler,
    ...(options.log ? { log: options.log } : {}),
    ...(options.promotionLeaseTtlMs !== undefined ? { leaseTtlMs: options.promotionLeaseTtlMs } : {}),
  });
  controlPlane.setVariablesRolloutSource((modelId, environmentName) => deployments.variablesRollout(modelId, environmentName));
  controlPlane.setPromotionExecutor(
    createPromotionExecutor({
      currentReplicas: (deploymentId, environmentName) => deployments.desiredReplicas(replicaSetId(deploymentId, environmentName)),
      readyReplicas: (deploymentId, environmentName) => runtime.observe(replicaSetId(deploymentId, environmentName)).ready,
      routeEnded: (promotion, state) => reconciler.route(promotion, state),
      ...(options.promotionReadyTimeoutMs !== undefined ? { readyTimeoutMs: options.promotionReadyTimeoutMs } : {}),
    }),
  );

  // Events are handled one at a time, in order: each handler re-reads the rows it needs.
  let queue: Promise<void> = Promise.resolve();
  const onEvent = async (event: DomainEvent): Promise<void> => {
    switch (event.type) {
      case "model.created":
      case "model.deleted":
        return deployments.syncModel(event.modelId);
      case "deployment.changed":
        return deployments.syncDeployment(event.deploymentId);
      case "environment.changed":
        return deployments.syncEnvironment(event.modelId, event.environmentName);
      case "promotion.changed":
        await deployments.syncEnvironment(event.modelId, event.environmentName);
        return reconciler.wake(event.promotionId);
      case "promotion_settings.changed":
        return;
    }
  };
  const unsubscribe = controlPlane.onChange((event) => {
    queue = queue.then(() => onEvent(event)).catch((error: unknown) => options.log?.(`event ${event.type} failed: ${(error as Error).message}`));
  });

  await deployments.syncAll();
  await reconciler.start();

  return {
    handle: (req, res) => router.handle(req, res),
    acceptConnection: (socket, handOff) => router.acceptConnection(socket, handOff),
    runtime,
    controller: deployments,
    reconciler,
    async close() {
      unsubscribe();
      await queue;
      await reconciler.close();
      autoscaler.close();
      await deployments.close();
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
