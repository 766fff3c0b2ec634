/**
 * The follower's resync is the guarantee behind the change notifications (issue 14): with no
 * notification at all, one resync declares every set the store holds at the count the leader
 * stored — sets it has never seen included — a second changes nothing, and one set it cannot build
 * does not keep it from the others. Real store (PGlite) and controllers, a recording runtime per
 * engine: the leader's drives the promotions, the follower's only resyncs.
 */
import { describe, expect, it } from "vitest";
import type { Leadership } from "../../../engine/control/control-lease.js";
import { createPromotionExecutor } from "../../../engine/promotions/executor.js";
import { PromotionReconciler } from "../../../engine/promotions/reconciler.js";
import { replicaSetId } from "../../../engine/runtime/runtime.js";
import { ControlPlane } from "../../../engine/service/control-plane.js";
import { listAuditLogs } from "../../../engine/store/audit-log.js";
import { findPromotion } from "../../../engine/store/promotions.js";
import type { Sql } from "../../../engine/store/sql.js";
import { waitFor } from "../../../testing/index.js";
import { controlEngineOn } from "../../support/control-engine.js";
import { pgliteStoreForFile } from "../../support/pglite-store-for-file.js";
import { loggingStatements } from "../../support/statement-log.js";

const FOLLOWING: Leadership = { isLeader: () => false, fence: () => undefined };

/** A read of a deployment row: a sync's slice (store/control-snapshot.ts readDeploymentSlice) or an observation write's own read. */
const DEPLOYMENT_ROW_READ = /^(WITH d AS \()?SELECT \* FROM deployments WHERE id/;
/** the observation writes' statements (engine/control/observation-writes.ts) */
const OBSERVATION_WRITE = "WITH observation AS";
const OBSERVATION_READ = /^SELECT id, model_id, name, active, status, error_message, replicas_desired, replicas_ready, replicas_starting FROM deployments/;

const store = pgliteStoreForFile();

/** An engine's control side on the shared store, its autoscaler's decisions applied. */
function engineOn(sql: Sql, leadership?: Leadership) {
  return controlEngineOn(sql, { autoscaling: true, ...(leadership ? { leadership } : {}) });
}

async function storedCounts(sql: Sql): Promise<Record<string, number>> {
  const rows = await sql.query<{ id: string; desired: number }>("SELECT id, desired FROM replica_sets ORDER BY id");
  return Object.fromEntries(rows.map((row) => [row.id, row.desired]));
}

describe("deployment controller: the follower's resync", () => {
  it("declares every stored set it has never seen at the leader's count, changes nothing the second time, and is not stopped by a set it cannot build", async () => {
    const leader = engineOn(store());
    const follower = engineOn(store(), FOLLOWING);
    const service = new ControlPlane({
      sql: store(),
      promotionExecutor: createPromotionExecutor({
        currentReplicas: (id, environment) => leader.controller.desiredReplicas(replicaSetId(id, environment)),
        readyReplicas: (id, environment) => leader.runtime.observe(replicaSetId(id, environment)).ready,
      }),
    });
    const reconciler = new PromotionReconciler({ sql: store(), runtime: leader.runtime, deployments: leader.controller, autoscaler: leader.autoscaler, maxIdleMs: 60_000 });
    /** Promote through the leader until SUCCEEDED, its replicas made ready as they are asked for. */
    const promote = async (modelId: string, environment: string, deploymentId: string) => {
      const promotion = await service.promote(modelId, environment, { deployment_id: deploymentId });
      await waitFor(async () => {
        await reconciler.reconcileNow(promotion.id);
        const set = replicaSetId(deploymentId, environment);
        leader.runtime.ready.set(set, leader.runtime.observe(set).desired);
        return (await findPromotion(store(), promotion.id))?.status === "SUCCEEDED";
      }, { timeoutMs: 10_000, intervalMs: 1, message: `${environment} promotion` });
      await leader.controller.syncDeployment(deploymentId);
    };
    try {
      // A model whose secret the follower will not be able to decrypt comes first: the resync meets it first.
      const locked = await service.createModel({ name: "locked" });
      await service.putVariable(locked.id, "production", "API_TOKEN", { value: "locked-token", secret: true });
      const lockedV1 = await service.createDeployment(locked.id, { command: ["model"] } as never);
      await promote(locked.id, "production", lockedV1.id);

      const model = await service.createModel({ name: "followed" });
      await service.patchEnvironment(model.id, "production", { autoscaling_settings: { min_replica: 2, max_replica: 2 } });
      await service.putVariable(model.id, "production", "API_TOKEN", { value: "prod-token", secret: true });
      const v1 = await service.createDeployment(model.id, { command: ["model"] } as never);
      await promote(model.id, "production", v1.id);
      await service.createEnvironment(model.id, { name: "staging" });
      await promote(model.id, "staging", v1.id);
      const production = replicaSetId(v1.id, "production");
      const staging = replicaSetId(v1.id, "staging");
      await waitFor(async () => (await storedCounts(store()))[staging] === 1, { timeoutMs: 5_000, intervalMs: 5, message: "the leader's stored counts" });
      expect(await storedCounts(store())).toMatchObject({ [production]: 2, [staging]: 1, [v1.id]: 0 });

      // The follower heard nothing: one resync declares every stored set at the stored count.
      expect(follower.runtime.desiredSnapshot()).toEqual({});
      await follower.controller.resync();
      expect(follower.runtime.desiredSnapshot()).toMatchObject({ [production]: 2, [staging]: 1, [v1.id]: 0, [replicaSetId(lockedV1.id, "production")]: 1 });
      // each environment's set carries its own configuration
      const declared = new Map(follower.runtime.calls.map((call) => [call.replicaSetId, call.revision]));
      expect(declared.get(production)).not.toBe(declared.get(staging));
      expect(follower.controller.specOf(production)?.env.ENVIRONMENT).toBe("production");
      expect(follower.controller.specOf(production)?.secrets).toEqual({ API_TOKEN: "prod-token" });

      // Level-triggered: a second resync asks the runtime for nothing it did not already have.
      const before = follower.runtime.desiredSnapshot();
      const callsBefore = follower.runtime.calls.length;
      await follower.controller.resync();
      expect(follower.runtime.desiredSnapshot()).toEqual(before);
      for (const call of follower.runtime.calls.slice(callsBefore)) {
        expect({ replicas: call.replicas, revision: call.revision }).toEqual({ replicas: before[call.replicaSetId], revision: declared.get(call.replicaSetId) });
      }

      // The locked model's secret altered (it fails its integrity check) and the leader scales the
      // followed model's production to 3: the resync declares the new count, keeps the locked set
      // as it ran, and says which set it cannot build.
      await store().query(
        `UPDATE variables SET value = (SELECT value FROM variables v JOIN environments e ON e.id = v.environment_id WHERE e.model_id = $2 AND e.name = 'production' AND v.name = 'API_TOKEN')
         WHERE name = 'API_TOKEN' AND environment_id = (SELECT id FROM environments WHERE model_id = $1 AND name = 'production')`,
        [locked.id, model.id],
      );
      // (as a promotion does: the autoscaler, at min = max = 2, leaves the count alone)
      leader.controller.setOwnedByPromotion(production, true);
      leader.controller.setReplicas(production, 3);
      await waitFor(async () => (await storedCounts(store()))[production] === 3, { timeoutMs: 5_000, intervalMs: 5, message: "the leader's new count" });
      await follower.controller.resync();
      expect(follower.runtime.desiredSnapshot()).toMatchObject({ [production]: 3, [staging]: 1, [replicaSetId(lockedV1.id, "production")]: 1 });
      expect(follower.log.join("\n")).toContain(`resync: deployment ${lockedV1.id}: this engine cannot run replica set ${replicaSetId(lockedV1.id, "production")}: the secret API_TOKEN`);
    } finally {
      await reconciler.close();
      for (const engine of [leader, follower]) await engine.close();
    }
  });
});

describe("deployment controller: the deployment row's observation", () => {
  it("a burst of replica changes is one write of the row, decided from the row as this engine last read or wrote it (no read)", async () => {
    const log = loggingStatements(store());
    const leader = engineOn(log.sql);
    const service = new ControlPlane({ sql: store() });
    try {
      const model = await service.createModel({ name: "burst" });
      const v1 = await service.createDeployment(model.id, { command: ["model"] } as never);
      await leader.controller.syncDeployment(v1.id);
      const own = replicaSetId(v1.id, null);
      leader.controller.setReplicas(own, 3);
      const row = async () => (await store().query<{ replicas_desired: number; replicas_ready: number; status: string }>("SELECT replicas_desired, replicas_ready, status FROM deployments WHERE id = $1", [v1.id]))[0];
      await waitFor(async () => (await row())?.replicas_desired === 3, { timeoutMs: 5_000, intervalMs: 5, message: "the row says 3 desired" });
      // the sync read the row; the observation writes since decided from it and from what they wrote
      expect(log.count(DEPLOYMENT_ROW_READ)).toBe(1);

      // three replicas turn ready in one turn of the event loop, as a set's replicas often do
      const from = log.statements.length;
      for (const ready of [1, 2, 3]) {
        leader.runtime.ready.set(own, ready);
        leader.runtime.changed(own);
      }
      await waitFor(async () => (await row())?.replicas_ready === 3, { timeoutMs: 5_000, intervalMs: 5, message: "the row says 3 ready" });
      await leader.controller.close();
      expect(log.count(DEPLOYMENT_ROW_READ, from) + log.count(OBSERVATION_READ, from)).toBe(0);
      expect(log.count(OBSERVATION_WRITE, from)).toBe(1);
      expect(log.statements.length - from).toBe(1);
      // ACTIVE now: the status change is audited by the same statement
      expect(await row()).toMatchObject({ status: "ACTIVE", replicas_ready: 3 });
      const audited = (await listAuditLogs(store(), model.id)).filter((entry) => entry.kind === "deployment.status_changed" && entry.object_id === v1.id);
      expect(audited.map((entry) => entry.details)).toContainEqual({ from: "DEPLOYING", to: "ACTIVE" });
    } finally {
      await leader.close();
    }
  });

  it("an observation decided from a copy the row no longer matches is not written: the row is read and the decision made again", async () => {
    const log = loggingStatements(store());
    const leader = engineOn(log.sql);
    const service = new ControlPlane({ sql: store() });
    try {
      const model = await service.createModel({ name: "outdated-copy" });
      const v1 = await service.createDeployment(model.id, { command: ["model"] } as never);
      await leader.controller.syncDeployment(v1.id);
      const own = replicaSetId(v1.id, null);
      leader.controller.setReplicas(own, 2);
      leader.runtime.ready.set(own, 2);
      leader.runtime.changed(own);
      const row = async () => (await store().query<{ replicas_ready: number; replicas_starting: number; status: string }>("SELECT replicas_ready, replicas_starting, status FROM deployments WHERE id = $1", [v1.id]))[0];
      await waitFor(async () => (await row())?.replicas_ready === 2, { timeoutMs: 5_000, intervalMs: 5, message: "the row says 2 ready" });

      // Someone else writes the row, and this engine is not told.
      await store().query("UPDATE deployments SET replicas_ready = 7, replicas_starting = 5 WHERE id = $1", [v1.id]);
      const from = log.statements.length;
      leader.runtime.ready.set(own, 1);
      leader.runtime.changed(own);
      await waitFor(async () => (await row())?.replicas_ready === 1, { timeoutMs: 5_000, intervalMs: 5, message: "the row says 1 ready" });
      await leader.controller.close();
      // one write that found the row changed, one read, one write that landed
      expect(log.count(OBSERVATION_WRITE, from)).toBe(2);
      expect(log.count(OBSERVATION_READ, from)).toBe(1);
      expect(await row()).toMatchObject({ replicas_ready: 1, replicas_starting: 1, status: "ACTIVE" });
    } finally {
      await leader.close();
    }
  });
});

describe("deployment controller: the leader's replica_sets rows", () => {
  it("a resync that finds none of 60 deployments' counts stored writes them in a few statements (one a set before), and close waits for them", async () => {
    const service = new ControlPlane({ sql: store() });
    const model = await service.createModel({ name: "rows-in-batches" });
    const deployments: string[] = [];
    for (let n = 0; n < 60; n++) deployments.push((await service.createDeployment(model.id, { command: ["model", String(n)] } as never)).id);
    const log = loggingStatements(store());
    const leader = engineOn(log.sql);
    try {
      const from = log.statements.length;
      await leader.controller.resync();
      await leader.controller.close();
      const stored = await storedCounts(store());
      for (const id of deployments) expect(stored[id]).toBe(1);
      // 60 one statement each before; 2 measured (the resync's slices each hand over a batch; on a
      // loaded machine more, smaller slices)
      expect(log.count("INSERT INTO replica_sets", from)).toBeLessThanOrEqual(6);
    } finally {
      await leader.close();
    }
  });
});

describe("deployment controller: a promotion's start", () => {
  it("syncs the environment's route and its candidate; the deployment it serves is not read again", async () => {
    const service = new ControlPlane({ sql: store(), promotionExecutor: createPromotionExecutor({ currentReplicas: () => 1, readyReplicas: () => 0 }) });
    const model = await service.createModel({ name: "promotion-start" });
    const [v1, v2] = [await service.createDeployment(model.id, { command: ["model", "1"] } as never), await service.createDeployment(model.id, { command: ["model", "2"] } as never)];
    // as a finished first promotion leaves it: production served by v1
    await store().query("UPDATE environments SET current_deployment_id = $2 WHERE model_id = $1 AND name = 'production'", [model.id, v1.id]);
    const log = loggingStatements(store());
    const engine = engineOn(log.sql);
    try {
      await engine.controller.syncEnvironment(model.id, "production");
      expect(engine.controller.specOf(replicaSetId(v1.id, "production"))).toBeDefined();
      await service.promote(model.id, "production", { deployment_id: v2.id });

      const from = log.statements.length;
      await engine.controller.syncEnvironment(model.id, "production", { promotionStarted: true });
      expect(log.count(DEPLOYMENT_ROW_READ, from)).toBe(1);
      expect(engine.controller.specOf(replicaSetId(v2.id, "production"))).toBeDefined();
      expect(engine.table.environment(model.id, "production")).toMatchObject({ currentDeploymentId: v1.id, candidateDeploymentId: v2.id });
      // any other change of it (here its variables) syncs both, from one read of their slice
      await service.putVariable(model.id, "production", "REGION", { value: "eu", secret: false });
      const fromAll = log.statements.length;
      await engine.controller.syncEnvironment(model.id, "production");
      expect(log.count(DEPLOYMENT_ROW_READ, fromAll)).toBe(1);
      for (const deployment of [v1, v2]) expect(engine.controller.specOf(replicaSetId(deployment.id, "production"))?.env, deployment.name).toMatchObject({ REGION: "eu" });
    } finally {
      await engine.close();
    }
  });
});
