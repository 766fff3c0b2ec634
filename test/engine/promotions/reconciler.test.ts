/**
 * The promotion reconciler without processes: real store (PGlite), real controller, router table
 * and autoscaler, a fake runtime that records what it is asked, and an injected clock. Shows the
 * level-triggered contract: a pass with nothing changed writes nothing to the database and asks the
 * runtime for nothing new; a pass after a change persists exactly once and acts.
 */
import { describe, expect, it } from "vitest";
import { Autoscaler } from "../../../engine/autoscaler/index.js";
import { DeploymentController } from "../../../engine/control/deployment-controller.js";
import { createPromotionExecutor } from "../../../engine/promotions/executor.js";
import { keptRowUsable, PromotionReconciler, type KeptRow } from "../../../engine/promotions/reconciler.js";
import { RoutingTable } from "../../../engine/router/index.js";
import { replicaSetId } from "../../../engine/runtime/runtime.js";
import { ControlPlane } from "../../../engine/service/control-plane.js";
import { lockEnvironment } from "../../../engine/store/environments.js";
import { compareAndSetPromotion, findInProgressPromotion, findPromotion, type PromotionRow } from "../../../engine/store/promotions.js";
import type { Sql, SqlExecutor } from "../../../engine/store/sql.js";
import { pgliteStoreForFile } from "../../support/pglite-store-for-file.js";
import { describeOnPostgres } from "../../support/postgres-store-for-file.js";
import { RecordingRuntime } from "../../support/recording-runtime.js";
import { AT_COMMIT, loggingStatements } from "../../support/statement-log.js";
import { waitFor } from "../../../testing/index.js";

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

const store = pgliteStoreForFile();

const inProduction = (deploymentId: string) => replicaSetId(deploymentId, "production");

/** A model whose production is promoted to v1 with 2 ready replicas; `sql` reads the promotion back. */
async function modelOnV1InProduction(
  name: string,
  { service, reconciler, runtime, sql }: { service: ControlPlane; reconciler: PromotionReconciler; runtime: RecordingRuntime; sql: Sql },
) {
  const model = await service.createModel({ name });
  await service.patchEnvironment(model.id, "production", { autoscaling_settings: { min_replica: 2, max_replica: 2 } });
  const v1 = await service.createDeployment(model.id, { command: ["model"] } as never);
  const first = await service.promote(model.id, "production", { deployment_id: v1.id });
  // the first pass asks v1's production set for 2 replicas; once they are ready the next one finishes
  await reconciler.reconcileNow(first.id);
  runtime.ready.set(inProduction(v1.id), 2);
  await reconciler.reconcileNow(first.id);
  expect((await findPromotion(sql, first.id))?.status).toBe("SUCCEEDED");
  return { model, v1 };
}

describe("promotion reconciler", () => {
  it("a pass with nothing changed writes nothing and changes nothing in the runtime", async () => {
    let now = Date.parse("2025-01-01T00:00:00Z");
    const { sql, writes } = countingWrites(store());
    const { runtime, service, reconciler, logged, close } = reconcilerOn(sql, () => now);
    try {
      const { model, v1 } = await modelOnV1InProduction("idempotent", { service, reconciler, runtime, sql });

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

      // The controller records the counts decided so far on its own schedule (bookkeeping): once
      // they are stored, nothing is left to write.
      await waitFor(async () => {
        const rows = await store().query<{ id: string; desired: number }>("SELECT id, desired FROM replica_sets WHERE deployment_id = $1", [v2.id]);
        return rows.some((row) => row.id === inProduction(v2.id) && row.desired === 1);
      }, { message: "v2's production count recorded" });
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
      await close();
    }
  });

  it("passes woken by their timer or by the runtime plan from the row this engine kept; a row changed elsewhere is read once a write finds it changed", async () => {
    let now = Date.parse("2025-01-01T00:00:00Z");
    const clock = () => now;
    const log = loggingStatements(store());
    const runtime = new RecordingRuntime();
    const autoscaler = new Autoscaler({ source: { inFlightForSet: () => 0 }, clock });
    const deployments = new DeploymentController({ sql: log.sql, runtime, table: new RoutingTable(), autoscaler, clock: () => new Date(now) });
    autoscaler.onDecision((id, replicas) => deployments.applyAutoscaling(id, replicas));
    const service = new ControlPlane({
      sql: store(),
      now: () => new Date(now),
      promotionExecutor: createPromotionExecutor({
        currentReplicas: (id, environment) => deployments.desiredReplicas(replicaSetId(id, environment)),
        readyReplicas: (id, environment) => runtime.observe(replicaSetId(id, environment)).ready,
        clock,
      }),
    });
    let passes = 0;
    const failures: string[] = [];
    // A pass every 2 ms by the safety net's timer (the clock stands still: nothing is due); the row
    // is trusted for a minute here, so that what makes the pass read again below is the failed write.
    const reconciler = new PromotionReconciler({
      sql: log.sql,
      runtime,
      deployments,
      autoscaler,
      clock,
      maxIdleMs: 2,
      rowTrustMs: 60_000,
      onPass: (result) => {
        passes++;
        if (result === "error") failures.push("pass failed");
      },
      log: (line) => {
        if (line.includes("failed")) failures.push(line);
      },
    });
    const promotionReads = (from: number) => log.count(/^SELECT .* FROM promotions WHERE id = \$1$/, from);
    const promotionWrites = (from: number) => log.count("UPDATE promotions", from);
    const passesMore = async (count: number) => {
      const target = passes + count;
      await waitFor(() => passes >= target, { timeoutMs: 10_000, intervalMs: 1, message: `${count} more passes` });
    };
    const stored = async (id: string): Promise<PromotionRow> => (await findPromotion(store(), id))!;
    try {
      const { model } = await modelOnV1InProduction("kept-row", { service, reconciler, runtime, sql: store() });

      await service.patchEnvironment(model.id, "production", {
        promotion_settings: { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 50, max_unavailable_percent: 0, stabilization_time_seconds: 30 } },
      });
      const v2 = await service.createDeployment(model.id, { command: ["model"] } as never);
      const promotion = await service.promote(model.id, "production", { deployment_id: v2.id });
      // the first pass reads the row (nothing kept yet)
      await reconciler.reconcileNow(promotion.id);
      await waitFor(async () => (await stored(promotion.id)).phase === "scaling_up_candidate", { timeoutMs: 5_000, intervalMs: 2, message: "scaling up the candidate" });

      // 20 passes by the timer: the row is not read once.
      const waiting = log.statements.length;
      await passesMore(20);
      expect(promotionReads(waiting)).toBe(0);
      expect(promotionWrites(waiting)).toBe(0);

      // The candidate's replica turns ready: the runtime's change wakes a pass, which writes the
      // step from the kept row (its compare-and-set on the kept version succeeds) — still no read.
      const scaling = await stored(promotion.id);
      runtime.ready.set(inProduction(v2.id), 1);
      runtime.changed(inProduction(v2.id));
      await waitFor(async () => (await stored(promotion.id)).phase === "stabilizing", { timeoutMs: 5_000, intervalMs: 2, message: "stabilizing" });
      const stabilizing = await stored(promotion.id);
      expect(stabilizing.version).toBe(scaling.version + 1);
      expect(stabilizing.percent_traffic_to_new_version).toBe(50);
      await passesMore(10);
      expect(promotionReads(waiting)).toBe(0);
      expect(promotionWrites(waiting)).toBe(1);

      // Paused through the API, and this engine not told (as when another engine's notification is
      // lost): passes plan from the kept row, and while nothing is due they write nothing and ask
      // the runtime for nothing new (what was last applied, again).
      const desired = runtime.desiredSnapshot();
      await service.requestPromotionAction(model.id, "production", "pause");
      const paused = await stored(promotion.id);
      expect(paused.status).toBe("PAUSED");
      const afterPause = log.statements.length;
      await passesMore(10);
      expect(promotionReads(afterPause)).toBe(0);
      expect(runtime.desiredSnapshot()).toEqual(desired);

      // The stabilization is over: planned from the kept row, the previous deployment would scale
      // down; the write finds the row changed, the next pass reads it — PAUSED — and holds.
      now += 30_000;
      await waitFor(() => promotionReads(afterPause) >= 1, { timeoutMs: 5_000, intervalMs: 1, message: "the row read again" });
      await passesMore(10);
      expect(promotionReads(afterPause)).toBe(1);
      expect(promotionWrites(afterPause)).toBe(1); // the compare-and-set that found the row changed
      expect(await stored(promotion.id)).toMatchObject({ status: "PAUSED", phase: "stabilizing", version: paused.version });
      expect(runtime.desiredSnapshot()).toEqual(desired);

      // Told that the row may have changed (an API action's event): the next pass reads it.
      const told = log.statements.length;
      reconciler.rowMayHaveChanged(promotion.id);
      await passesMore(5);
      expect(promotionReads(told)).toBe(1);
      expect(failures).toEqual([]);
    } finally {
      await reconciler.close();
      autoscaler.close();
      await deployments.close();
    }
  });
});

describe("a promotion's end", () => {
  for (const strategy of ["DEACTIVATE", "SCALE_TO_ZERO"] as const) {
    it(`${strategy}: one decided transaction, one request (the environment's lock, the compare-and-set, its writes after it); the previous is left alone while it serves another environment`, async () => {
      const log = loggingStatements(store());
      const { runtime, service, reconciler, failures, close } = reconcilerOn(log.sql);
      const deploymentRow = async (id: string) =>
        (await store().query<{ active: boolean; status: string; min_replica: number }>(
          "SELECT active, status, (autoscaling_settings->>'min_replica')::int AS min_replica FROM deployments WHERE id = $1",
          [id],
        ))[0];
      try {
        const { model, v1 } = await modelOnV1InProduction(`end-${strategy.toLowerCase()}`, { service, reconciler, runtime, sql: store() });
        await service.patchEnvironment(model.id, "production", { promotion_settings: { promotion_cleanup_strategy: strategy } });
        /** Promote `deploymentId` to production and let its replicas be ready: the promotion's end, its statements. */
        const promoteToProduction = async (deploymentId: string) => {
          const promotion = await service.promote(model.id, "production", { deployment_id: deploymentId });
          await reconciler.reconcileNow(promotion.id);
          runtime.ready.set(inProduction(deploymentId), 2);
          const from = log.statements.length;
          await reconciler.reconcileNow(promotion.id);
          expect((await findPromotion(store(), promotion.id))?.status).toBe("SUCCEEDED");
          // (the pass reads the row first: reconcileNow says it may have changed)
          const begins = log.statements.findIndex((text, index) => index >= from && text.startsWith("SELECT 1 FROM environments"));
          // only the end's transaction: the controller's own writes may run between its statements
          const transactionNumber = log.transactionOf[begins];
          expect(transactionNumber).toBeDefined();
          const transaction = log.statements.filter((_, index) => index >= begins && log.transactionOf[index] === transactionNumber);
          return transaction.map((text) => text.split(" ").slice(0, text.startsWith(AT_COMMIT) ? 5 : 3).join(" "));
        };
        // v1 serves staging too: production's next promotion leaves it as it is
        await service.createEnvironment(model.id, { name: "staging" });
        await store().query("UPDATE environments SET current_deployment_id = $2 WHERE model_id = $1 AND name = 'staging'", [model.id, v1.id]);
        const v2 = await service.createDeployment(model.id, { command: ["model"] } as never);
        expect(await promoteToProduction(v2.id)).toEqual([
          "SELECT 1 FROM",
          "UPDATE promotions SET",
          `${AT_COMMIT}UPDATE environments SET`,
          `${AT_COMMIT}UPDATE deployments SET`,
          `${AT_COMMIT}INSERT INTO audit_logs`,
        ]);
        expect(await deploymentRow(v1.id)).toMatchObject({ active: true, min_replica: 2 });
        expect((await deploymentRow(v1.id))?.status).not.toBe("INACTIVE");
        // v2, previous in its turn and serving production only, is retired
        const v3 = await service.createDeployment(model.id, { command: ["model"] } as never);
        await promoteToProduction(v3.id);
        expect(await deploymentRow(v2.id)).toMatchObject(strategy === "DEACTIVATE" ? { active: false, status: "INACTIVE" } : { active: true, min_replica: 0 });
        expect(failures).toEqual([]);
      } finally {
        await close();
      }
    });
  }
});

/**
 * The reconciler and what it drives on `sql`, on `clock` (standing still unless the test moves it):
 * a pass does what the row and the runtime's ready counts say. Its log lines are collected, and
 * failed passes with the lines saying so.
 */
function reconcilerOn(sql: Sql, clock: () => number = () => Date.parse("2025-01-01T00:00:00Z")) {
  const runtime = new RecordingRuntime();
  const autoscaler = new Autoscaler({ source: { inFlightForSet: () => 0 }, clock });
  const deployments = new DeploymentController({ sql, runtime, table: new RoutingTable(), autoscaler, clock: () => new Date(clock()) });
  autoscaler.onDecision((id, replicas) => deployments.applyAutoscaling(id, replicas));
  const service = new ControlPlane({
    sql,
    now: () => new Date(clock()),
    promotionExecutor: createPromotionExecutor({
      currentReplicas: (id, environment) => deployments.desiredReplicas(replicaSetId(id, environment)),
      readyReplicas: (id, environment) => runtime.observe(replicaSetId(id, environment)).ready,
      clock,
    }),
  });
  const logged: string[] = [];
  const failures: string[] = [];
  const reconciler = new PromotionReconciler({
    sql,
    runtime,
    deployments,
    autoscaler,
    clock,
    maxIdleMs: 60_000,
    onPass: (result) => {
      if (result === "error") failures.push("pass failed");
    },
    log: (line) => {
      logged.push(line);
      if (line.includes("failed")) failures.push(line);
    },
  });
  const close = async () => {
    await reconciler.close();
    autoscaler.close();
    await deployments.close();
  };
  return { runtime, service, reconciler, logged, failures, close };
}

describeOnPostgres("promotion reconciler on PostgreSQL", (postgres) => {
  it("a promotion's end and an API action on its environment lock in one order: both finish, neither deadlocks", async () => {
    const { runtime, service, reconciler, failures, close } = reconcilerOn(postgres());
    try {
      const { model } = await modelOnV1InProduction("lock-order", { service, reconciler, runtime, sql: postgres() });
      const v2 = await service.createDeployment(model.id, { command: ["model"] } as never);
      const promotion = await service.promote(model.id, "production", { deployment_id: v2.id });
      await reconciler.reconcileNow(promotion.id);
      runtime.ready.set(inProduction(v2.id), 2);
      const { environment_id: environmentId } = (await findPromotion(postgres(), promotion.id))!;
      // the next pass ends the promotion: before it, an action (as the API runs one) holds the environment's lock
      let locked!: () => void;
      const environmentLocked = new Promise<void>((resolve) => (locked = resolve));
      let release!: () => void;
      const actionMayGoOn = new Promise<void>((resolve) => (release = resolve));
      const action = postgres().transaction(async (tx) => {
        await lockEnvironment(tx, environmentId);
        locked();
        await actionMayGoOn;
        const row = await findInProgressPromotion(tx, environmentId, true);
        // an action that changes nothing but the version is enough to write the row
        return row && compareAndSetPromotion(tx, row.id, row.version, {}, new Date().toISOString());
      });
      await environmentLocked;
      const end = reconciler.reconcileNow(promotion.id);
      // the end waits for a lock: on the environment (it locks first, as the action did), or — the
      // deadlock this guards against — on the environment after taking the promotion's row
      await waitFor(
        async () => (await postgres().query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'"))[0]!.n > 0,
        { message: "the promotion's end waits for the environment's lock" },
      );
      const before = await findPromotion(postgres(), promotion.id);
      release();
      const written = await action;
      await end;
      // the action wrote first; the end found the row changed (and plans again from it next pass)
      expect(written?.version).toBe(before!.version + 1);
      expect(failures).toEqual([]);
      await reconciler.reconcileNow(promotion.id);
      expect((await findPromotion(postgres(), promotion.id))?.status).toBe("SUCCEEDED");
      expect(failures).toEqual([]);
    } finally {
      await close();
    }
  });
});

describe("keptRowUsable", () => {
  const kept: KeptRow = { row: {} as PromotionRow, at: 1_000, leaseEpoch: undefined };
  it.each([
    { case: "nothing kept", kept: undefined, reread: false, now: 1_000, usable: false },
    { case: "kept, a timer or runtime wake", kept, reread: false, now: 1_500, usable: true },
    { case: "kept, but woken by a change of the row", kept, reread: true, now: 1_500, usable: false },
    { case: "kept for just under the trust", kept, reread: false, now: 10_999, usable: true },
    { case: "kept for the trust or longer", kept, reread: false, now: 11_000, usable: false },
  ])("$case: $usable", ({ kept: entry, reread, now, usable }) => {
    expect(keptRowUsable(entry, reread, now, 10_000)).toBe(usable);
  });
});
