/**
 * The promotion reconciler without processes: real store (PGlite), real controller, router table
 * and autoscaler, a fake runtime that records what it is asked, and an injected clock. Shows the
 * level-triggered contract: a pass with nothing changed writes nothing to the database and asks the
 * runtime for nothing new; a pass after a change persists exactly once and acts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Autoscaler } from "../../../engine/autoscaler/index.js";
import { DeploymentController } from "../../../engine/control/deployment-controller.js";
import { createPromotionExecutor } from "../../../engine/promotions/executor.js";
import { PromotionReconciler } from "../../../engine/promotions/reconciler.js";
import { RoutingTable } from "../../../engine/router/index.js";
import { replicaSetId } from "../../../engine/runtime/runtime.js";
import { ControlPlane } from "../../../engine/service/control-plane.js";
import { openStore } from "../../../engine/store/open-store.js";
import { findPromotion } from "../../../engine/store/promotions.js";
import type { Sql, SqlExecutor } from "../../../engine/store/sql.js";
import { createPgliteTemplate, type PgliteTemplate } from "../../support/pglite-template.js";
import { RecordingRuntime } from "../../support/recording-runtime.js";

/** Counts statements that write (INSERT/UPDATE/DELETE), inside transactions too. */
/** Without the deployment controller's: it records what the runtime shows (v2 ready → ACTIVE, audited) on its own schedule. */
function reconcilerWrites(writes: string[]): string[] {
  return writes.filter((write) => !/^(UPDATE deployments|INSERT INTO audit_logs)\b/.test(write));
}

function countingWrites(sql: Sql): { sql: Sql; writes: string[] } {
  const writes: string[] = [];
  const wrap = <E extends SqlExecutor>(executor: E): E =>
    new Proxy(executor, {
      get(target, property, receiver) {
        if (property === "query") {
          return (text: string, params?: readonly unknown[]) => {
            if (/^\s*(INSERT|UPDATE|DELETE)\b/i.test(text)) writes.push(text.trim().split(/\s+/).slice(0, 3).join(" "));
            return target.query(text, params as never);
          };
        }
        if (property === "transaction") {
          return <T>(fn: (tx: SqlExecutor) => Promise<T>) => (target as unknown as Sql).transaction((tx) => fn(wrap(tx)));
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  return { sql: wrap(sql), writes };
}

let template: PgliteTemplate;
let store: Sql;
beforeAll(async () => {
  template = await createPgliteTemplate();
  store = await openStore({ dataDir: await template.freshDataDir() });
});
afterAll(async () => {
  await store?.close();
  await template?.cleanup();
});

const inProduction = (deploymentId: string) => replicaSetId(deploymentId, "production");

describe("promotion reconciler", () => {
  it("a pass with nothing changed writes nothing and changes nothing in the runtime", async () => {
    let now = Date.parse("2025-01-01T00:00:00Z");
    const clock = () => now;
    const { sql, writes } = countingWrites(store);
    const runtime = new RecordingRuntime();
    const autoscaler = new Autoscaler({ source: { inFlightForSet: () => 0 }, clock });
    const deployments = new DeploymentController({ sql, runtime, table: new RoutingTable(), autoscaler, clock: () => new Date(now) });
    autoscaler.onDecision((id, replicas) => deployments.applyAutoscaling(id, replicas));
    const service = new ControlPlane({
      sql,
      now: () => new Date(now),
      promotionExecutor: createPromotionExecutor({
        currentReplicas: (id, environment) => deployments.desiredReplicas(replicaSetId(id, environment)),
        readyReplicas: (id, environment) => runtime.observe(replicaSetId(id, environment)).ready,
        clock,
      }),
    });
    const logged: string[] = [];
    const reconciler = new PromotionReconciler({ sql, runtime, deployments, autoscaler, clock, maxIdleMs: 60_000, log: (line) => logged.push(line) });
    try {
      const model = await service.createModel({ name: "idempotent" });
      await service.patchEnvironment(model.id, "production", { autoscaling_settings: { min_replica: 2, max_replica: 2 } });
      const v1 = await service.createDeployment(model.id, { command: ["model"] } as never);
      const first = await service.promote(model.id, "production", { deployment_id: v1.id });
      // the first pass asks v1's production set for 2 replicas; once they are ready the next one finishes
      await reconciler.reconcileNow(first.id);
      runtime.ready.set(inProduction(v1.id), 2);
      await reconciler.reconcileNow(first.id);
      expect((await findPromotion(sql, first.id))?.status).toBe("SUCCEEDED");

      await service.patchEnvironment(model.id, "production", {
        promotion_settings: { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 50, max_unavailable_percent: 0, stabilization_time_seconds: 30 } },
      });
      const v2 = await service.createDeployment(model.id, { command: ["model"] } as never);
      const promotion = await service.promote(model.id, "production", { deployment_id: v2.id });
      await reconciler.reconcileNow(promotion.id);
      await reconciler.reconcileNow(promotion.id);
      const settled = await findPromotion(sql, promotion.id);
      expect(settled?.phase, JSON.stringify(settled)).toBe("scaling_up_candidate");
      // the promotion scales the deployments' production sets; their own sets (per-deployment endpoint) stay at 0
      expect(runtime.desiredSnapshot()).toEqual({ [inProduction(v1.id)]: 2, [inProduction(v2.id)]: 1, [v1.id]: 0, [v2.id]: 0 });

      // Nothing changed (same clock, same observation): three more passes write nothing.
      const writesBefore = writes.length;
      const desiredBefore = runtime.desiredSnapshot();
      const callsBefore = runtime.calls.length;
      for (let pass = 0; pass < 3; pass++) await reconciler.reconcileNow(promotion.id);
      await new Promise((resolve) => setImmediate(resolve));
      expect(reconcilerWrites(writes.slice(writesBefore))).toEqual([]);
      const after = await findPromotion(sql, promotion.id);
      expect({ version: after?.version, updated_at: after?.updated_at }).toEqual({ version: settled?.version, updated_at: settled?.updated_at });
      expect(runtime.desiredSnapshot()).toEqual(desiredBefore);
      // the re-applied desired state, if any, is exactly what was asked before (idempotent)
      for (const call of runtime.calls.slice(callsBefore)) expect(call.replicas).toBe(desiredBefore[call.replicaSetId]);

      // Positive control: the candidate's replica becomes ready → one pass persists one new state and shifts traffic.
      runtime.ready.set(inProduction(v2.id), 1);
      const writesBeforeChange = writes.length;
      await reconciler.reconcileNow(promotion.id);
      const shifted = await findPromotion(sql, promotion.id);
      expect(shifted?.phase).toBe("stabilizing");
      expect(shifted?.percent_traffic_to_new_version).toBe(50);
      expect(shifted!.version).toBe(settled!.version + 1);
      // the row and the engine's log name the deployments (ids in brackets)
      expect(shifted).toMatchObject({ deployment_name: v2.name, previous_deployment_name: v1.name });
      expect(logged).toContain(`production → ${v2.name} (${v2.id}): traffic to candidate 0% → 50%`);
      expect(writes.slice(writesBeforeChange).filter((w) => w.startsWith("UPDATE promotions"))).toHaveLength(1);

      // Stabilizing with the clock still: nothing again. After 30 s: the previous scales down.
      const writesWhileStable = writes.length;
      await reconciler.reconcileNow(promotion.id);
      expect(reconcilerWrites(writes.slice(writesWhileStable))).toEqual([]);
      now += 30_000;
      await reconciler.reconcileNow(promotion.id);
      expect((await findPromotion(sql, promotion.id))?.phase).toBe("scaling_down_previous");
      expect(runtime.desiredSnapshot()[inProduction(v1.id)]).toBe(1);
    } finally {
      await reconciler.close();
      autoscaler.close();
      await deployments.close();
    }
  });
});
