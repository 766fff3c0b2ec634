/**
 * The periodic resync runs beside the controller's event queue (data-plane.ts): events handled while
 * it runs are fresher than its reads, and it must not put back what they changed.
 */
import { expect, it } from "vitest";
import { Autoscaler } from "../../../engine/autoscaler/index.js";
import { DeploymentController } from "../../../engine/control/deployment-controller.js";
import { createPromotionExecutor } from "../../../engine/promotions/executor.js";
import { RoutingTable } from "../../../engine/router/index.js";
import { replicaSetId } from "../../../engine/runtime/runtime.js";
import { ControlPlane } from "../../../engine/service/control-plane.js";
import type { Sql, SqlParam } from "../../../engine/store/sql.js";
import { pgliteStoreForFile } from "../../support/pglite-store-for-file.js";
import { RecordingRuntime } from "../../support/recording-runtime.js";

const store = pgliteStoreForFile();

/** A deployment as the API's defaults complete it. */
function deploymentOf(name: string) {
  return { name, command: ["model", name], readiness_path: "/health", predict_path: "/predict", env: {} };
}

/** A deferred: the test says when a held answer is given. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

it("leaves a model an event set meanwhile as the event set it: its routes and its deployments' sets", async () => {
  const sql = store();
  const service = new ControlPlane({ sql, promotionExecutor: createPromotionExecutor({ currentReplicas: () => 1, readyReplicas: () => 0 }) });
  const model = await service.createModel({ name: "moved" });
  const blue = (await service.createDeployment(model.id, deploymentOf("blue"))).id;
  const green = (await service.createDeployment(model.id, deploymentOf("green"))).id;
  const serve = (deploymentId: string) => sql.query("UPDATE environments SET current_deployment_id = $2 WHERE model_id = $1 AND name = 'production'", [model.id, deploymentId]);
  await serve(blue);

  // The resync's read of the routes (its last read) answers only once the test lets it: taken while
  // blue served production, handed over after an event moved production to green.
  let holdRoutes: { read: ReturnType<typeof deferred>; release: ReturnType<typeof deferred> } | undefined;
  const gated: Sql = {
    ...sql,
    async query<Row>(text: string, params?: readonly SqlParam[]): Promise<Row[]> {
      const rows = await sql.query<Row>(text, params);
      const hold = holdRoutes;
      if (hold && text.includes("promotions.percent_traffic_to_new_version") && text.includes("JOIN models")) {
        holdRoutes = undefined;
        hold.read.resolve();
        await hold.release.promise;
      }
      return rows;
    },
  };
  const runtime = new RecordingRuntime();
  const table = new RoutingTable();
  const autoscaler = new Autoscaler({ source: { inFlightForSet: () => 0 } });
  const controller = new DeploymentController({ sql: gated, runtime, table, autoscaler });
  try {
    await controller.resync({ restore: true });
    expect(table.environment(model.id, "production")?.currentDeploymentId).toBe(blue);
    expect(controller.specOf(replicaSetId(blue, "production"))).toBeDefined();

    const hold = (holdRoutes = { read: deferred(), release: deferred() });
    const resync = controller.resync();
    await hold.read.promise;
    // the event (as a promotion's end: the environment, then both deployments)
    await serve(green);
    await controller.syncEnvironment(model.id, "production");
    await controller.syncDeployment(blue);
    const routedMeanwhile = table.environment(model.id, "production")?.currentDeploymentId;
    hold.release.resolve();
    await resync;
    expect(routedMeanwhile).toBe(green);

    expect(table.environment(model.id, "production")?.currentDeploymentId).toBe(green);
    expect(controller.specOf(replicaSetId(green, "production"))).toBeDefined();
    expect(controller.specOf(replicaSetId(blue, "production"))).toBeUndefined();
    // the next resync, with nothing handled beside it, agrees
    await controller.resync();
    expect(table.environment(model.id, "production")?.currentDeploymentId).toBe(green);
  } finally {
    autoscaler.close();
    await controller.close();
  }
});

it("does not bring back a model deleted while it ran", async () => {
  const sql = store();
  const service = new ControlPlane({ sql, promotionExecutor: createPromotionExecutor({ currentReplicas: () => 1, readyReplicas: () => 0 }) });
  const model = await service.createModel({ name: "short-lived" });
  const only = (await service.createDeployment(model.id, deploymentOf("only"))).id;
  await sql.query("UPDATE environments SET current_deployment_id = $2 WHERE model_id = $1 AND name = 'production'", [model.id, only]);

  // The resync's snapshot (its first transaction) is read before the deletion and used after it.
  let holdSnapshot: { read: ReturnType<typeof deferred>; release: ReturnType<typeof deferred> } | undefined;
  const gated: Sql = {
    ...sql,
    async transaction<T>(fn: Parameters<Sql["transaction"]>[0]): Promise<T> {
      const result = (await sql.transaction(fn)) as T;
      const hold = holdSnapshot;
      if (hold) {
        holdSnapshot = undefined;
        hold.read.resolve();
        await hold.release.promise;
      }
      return result;
    },
  };
  const runtime = new RecordingRuntime();
  const table = new RoutingTable();
  const autoscaler = new Autoscaler({ source: { inFlightForSet: () => 0 } });
  const controller = new DeploymentController({ sql: gated, runtime, table, autoscaler });
  try {
    await controller.resync({ restore: true });
    expect(table.modelIds()).toContain(model.id);

    const hold = (holdSnapshot = { read: deferred(), release: deferred() });
    const resync = controller.resync();
    await hold.read.promise;
    await service.deleteModel(model.id);
    await controller.syncModel(model.id); // the model.deleted event
    const modelsMeanwhile = table.modelIds();
    hold.release.resolve();
    await resync;
    expect(modelsMeanwhile).not.toContain(model.id);

    expect(table.modelIds()).not.toContain(model.id);
    expect(controller.specOf(replicaSetId(only, null))).toBeUndefined();
    expect(controller.specOf(replicaSetId(only, "production"))).toBeUndefined();
  } finally {
    autoscaler.close();
    await controller.close();
  }
});
