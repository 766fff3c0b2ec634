/**
 * The periodic resync runs beside the controller's event queue (data-plane.ts): events handled while
 * it runs are fresher than its reads, and it must not put back what they changed.
 */
import { expect, it } from "vitest";
import { createPromotionExecutor } from "../../../engine/promotions/executor.js";
import { replicaSetId } from "../../../engine/runtime/runtime.js";
import { ControlPlane } from "../../../engine/service/control-plane.js";
import type { Sql, SqlParam } from "../../../engine/store/sql.js";
import { controlEngineOn, type ControlEngine } from "../../support/control-engine.js";
import { pgliteStoreForFile } from "../../support/pglite-store-for-file.js";

const store = pgliteStoreForFile();

/** A deployment as the API's defaults complete it. */
function deploymentOf(name: string) {
  return { name, command: ["model", name], readiness_path: "/health", predict_path: "/predict", env: {} };
}

/**
 * Holds one answer of the store until the test releases it: once armed, the first question that
 * `matches` gets its answer only at `release()`; `taken` resolves when the answer is there and held.
 */
function holdOnce<Question>(matches: (question: Question) => boolean) {
  let armed: { taken: () => void; released: Promise<void> } | undefined;
  return {
    arm(): { taken: Promise<void>; release: () => void } {
      let taken!: () => void;
      let release!: () => void;
      const wasTaken = new Promise<void>((done) => (taken = done));
      armed = { taken, released: new Promise<void>((done) => (release = done)) };
      return { taken: wasTaken, release };
    },
    /** `answer` (the store's), held when armed and the question matches. */
    async answer<T>(question: Question, answer: Promise<T>): Promise<T> {
      const result = await answer;
      const hold = armed;
      if (hold && matches(question)) {
        armed = undefined;
        hold.taken();
        await hold.released;
      }
      return result;
    },
  };
}

/** The controller of one engine on a (gated) store, alone and leading. */
async function withController(sql: Sql, test: (engine: ControlEngine) => Promise<void>): Promise<void> {
  const engine = controlEngineOn(sql);
  try {
    await test(engine);
  } finally {
    await engine.close();
  }
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
  const routesRead = holdOnce((text: string) => text.includes("promotions.percent_traffic_to_new_version") && text.includes("JOIN models"));
  const gated: Sql = { ...sql, query: <Row>(text: string, params?: readonly SqlParam[]) => routesRead.answer(text, sql.query<Row>(text, params)) };
  await withController(gated, async ({ controller, table }) => {
    await controller.resync({ restore: true });
    expect(table.environment(model.id, "production")?.currentDeploymentId).toBe(blue);
    expect(controller.specOf(replicaSetId(blue, "production"))).toBeDefined();

    const hold = routesRead.arm();
    const resync = controller.resync();
    await hold.taken;
    // the event (as a promotion's end: the environment, then both deployments)
    await serve(green);
    await controller.syncEnvironment(model.id, "production");
    await controller.syncDeployment(blue);
    const routedMeanwhile = table.environment(model.id, "production")?.currentDeploymentId;
    hold.release();
    await resync;
    expect(routedMeanwhile).toBe(green);

    expect(table.environment(model.id, "production")?.currentDeploymentId).toBe(green);
    expect(controller.specOf(replicaSetId(green, "production"))).toBeDefined();
    expect(controller.specOf(replicaSetId(blue, "production"))).toBeUndefined();
    // the next resync, with nothing handled beside it, agrees
    await controller.resync();
    expect(table.environment(model.id, "production")?.currentDeploymentId).toBe(green);
  });
});

it("does not bring back a model deleted while it ran", async () => {
  const sql = store();
  const service = new ControlPlane({ sql, promotionExecutor: createPromotionExecutor({ currentReplicas: () => 1, readyReplicas: () => 0 }) });
  const model = await service.createModel({ name: "short-lived" });
  const only = (await service.createDeployment(model.id, deploymentOf("only"))).id;
  await sql.query("UPDATE environments SET current_deployment_id = $2 WHERE model_id = $1 AND name = 'production'", [model.id, only]);

  // The resync's snapshot (its first transaction) is read before the deletion and used after it.
  const snapshotRead = holdOnce(() => true);
  const gated: Sql = { ...sql, transaction: (fn) => snapshotRead.answer(undefined, sql.transaction(fn)) };
  await withController(gated, async ({ controller, table }) => {
    await controller.resync({ restore: true });
    expect(table.modelIds()).toContain(model.id);

    const hold = snapshotRead.arm();
    const resync = controller.resync();
    await hold.taken;
    await service.deleteModel(model.id);
    await controller.syncModel(model.id); // the model.deleted event
    const modelsMeanwhile = table.modelIds();
    hold.release();
    await resync;
    expect(modelsMeanwhile).not.toContain(model.id);

    expect(table.modelIds()).not.toContain(model.id);
    expect(controller.specOf(replicaSetId(only, null))).toBeUndefined();
    expect(controller.specOf(replicaSetId(only, "production"))).toBeUndefined();
  });
});
