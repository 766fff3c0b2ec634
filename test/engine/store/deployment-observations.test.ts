/**
 * What the runtime observes, written onto many deployment rows at once (engine/store/deployments.ts,
 * behind the controller by engine/control/observation-writes.ts): one statement writes every row
 * that still says what its decision read, audits each status change in the same statement, and
 * leaves out rows that changed or are gone — on both stores. Through the batcher, deployments due
 * in one turn are one read and one write per batch, and a row changed under its decision is read
 * and decided again.
 */
import { describe, expect, it } from "vitest";
import { KnownRows } from "../../../engine/control/known-rows.js";
import { ObservationWrites } from "../../../engine/control/observation-writes.js";
import { ControlPlane } from "../../../engine/service/control-plane.js";
import { listAuditLogs } from "../../../engine/store/audit-log.js";
import {
  findLiveObservedDeployments,
  softDeleteDeployment,
  writeDeploymentObservations,
  type ObservationWrite,
  type ObservedDeploymentRow,
} from "../../../engine/store/deployments.js";
import type { Sql } from "../../../engine/store/sql.js";
import { pgliteStoreForFile } from "../../support/pglite-store-for-file.js";
import { describeOnPostgres } from "../../support/postgres-store-for-file.js";
import { loggingStatements } from "../../support/statement-log.js";

const WRITE = "WITH observation AS";
const READ = "SELECT id, model_id, name, active, status";

function describeObservationWrites(storeName: string, store: () => Sql): void {
  describe(`deployments' observations in batches on ${storeName}`, () => {
    /** A fresh model's deployments, as their rows say now. */
    const deployments = async (modelName: string, count: number): Promise<{ modelId: string; rows: ObservedDeploymentRow[] }> => {
      const service = new ControlPlane({ sql: store() });
      const model = await service.createModel({ name: modelName });
      const ids: string[] = [];
      for (let n = 0; n < count; n++) ids.push((await service.createDeployment(model.id, { command: ["model"] } as never)).id);
      const rows = await findLiveObservedDeployments(store(), ids);
      return { modelId: model.id, rows: ids.map((id) => rows.find((row) => row.id === id)).filter((row) => row !== undefined) };
    };
    const statusChanges = async (modelId: string) =>
      (await listAuditLogs(store(), modelId))
        .filter((entry) => entry.kind === "deployment.status_changed")
        .map((entry) => ({ id: entry.id, object_id: entry.object_id, object_name: entry.object_name, details: entry.details }));

    it("writes many rows in one statement, audits the status changes in it, leaves out rows that changed or are gone", async () => {
      const { modelId, rows } = await deployments("observed-in-batches", 4);
      const [ready, scaling, stale, gone] = rows;
      if (!ready || !scaling || !stale || !gone) throw new Error("four deployments expected");
      expect(ready.status).toBe("DEPLOYING");
      await softDeleteDeployment(store(), gone.id, new Date().toISOString());
      const at = "2026-12-04T04:00:00.123Z";
      const error = 'exit 1: "weird", {braces} \\ and, commas';
      const writes: ObservationWrite[] = [
        { expected: ready, changes: { status: "ACTIVE", replicas: { desired: 2, ready: 1, starting: 1 }, errorMessage: null }, auditId: "log_ready" },
        // counts only: no audit entry
        { expected: scaling, changes: { status: "DEPLOYING", replicas: { desired: 3, ready: 0, starting: 3 }, errorMessage: null }, auditId: "log_scaling" },
        // decided from a row that no longer says DEPLOYING
        { expected: { ...stale, status: "ACTIVE" }, changes: { status: "FAILED", replicas: { desired: 1, ready: 0, starting: 0 }, errorMessage: error }, auditId: "log_stale" },
        { expected: gone, changes: { status: "ACTIVE", replicas: { desired: 1, ready: 1, starting: 0 }, errorMessage: null }, auditId: "log_gone" },
      ];
      const log = loggingStatements(store());
      const written = await writeDeploymentObservations(log.sql, writes, at);
      expect(log.statements).toHaveLength(1);
      expect(written.map((row) => row.id).sort()).toEqual([ready.id, scaling.id].sort());
      expect(written.find((row) => row.id === ready.id)).toEqual({ ...ready, status: "ACTIVE", replicas_desired: 2, replicas_ready: 1, replicas_starting: 1, error_message: null });

      const stored = await findLiveObservedDeployments(store(), rows.map((row) => row.id));
      expect(stored.map((row) => row.id).sort()).toEqual([ready.id, scaling.id, stale.id].sort());
      expect(stored.find((row) => row.id === scaling.id)).toMatchObject({ status: "DEPLOYING", replicas_desired: 3, replicas_starting: 3 });
      expect(stored.find((row) => row.id === stale.id)).toEqual(stale);
      const [updatedAt] = await store().query<{ updated_at: Date }>("SELECT updated_at FROM deployments WHERE id = $1", [ready.id]);
      expect(new Date(updatedAt?.updated_at ?? 0).toISOString()).toBe(at);
      expect(await statusChanges(modelId)).toEqual([{ id: "log_ready", object_id: ready.id, object_name: ready.name, details: { from: "DEPLOYING", to: "ACTIVE" } }]);

      // a failure's message goes into its audit entry, whatever its characters
      const failed = await writeDeploymentObservations(store(), [{ expected: stale, changes: { status: "FAILED", replicas: { desired: 1, ready: 0, starting: 0 }, errorMessage: error }, auditId: "log_failed" }], at);
      expect(failed).toEqual([{ ...stale, status: "FAILED", replicas_desired: 1, error_message: error }]);
      expect((await statusChanges(modelId))[0]).toEqual({ id: "log_failed", object_id: stale.id, object_name: stale.name, details: { from: "DEPLOYING", to: "FAILED", error_message: error } });
      expect(await writeDeploymentObservations(store(), [], at)).toEqual([]);
    });

    it("through the batcher: one read and one write per batch, a row changed under its decision decided again", async () => {
      const { modelId, rows } = await deployments("observed-through-batcher", 5);
      const log = loggingStatements(store());
      const known = new KnownRows<ObservedDeploymentRow>();
      // what the runtime observes, per deployment: two ready replicas each
      let decisions = 0;
      const writes = new ObservationWrites({
        store: { read: (ids) => findLiveObservedDeployments(log.sql, ids), write: (batch, at) => writeDeploymentObservations(log.sql, batch, at) },
        rows: known,
        decide: (row) => {
          decisions++;
          return row.status === "ACTIVE" && row.replicas_ready === 2 ? undefined : { status: "ACTIVE", replicas: { desired: 2, ready: 2, starting: 0 }, errorMessage: null };
        },
        clock: () => new Date("2026-12-04T04:10:00.000Z"),
        newAuditId: (() => {
          let n = 0;
          return () => `log_batch_${n++}`;
        })(),
        batchRows: 3,
      });
      for (const row of rows) writes.due(row.id);
      writes.due(rows[0]?.id ?? "");
      expect(writes.pending).toBe(5);
      await writes.drain();
      // 5 deployments in batches of 3: two reads, two writes
      expect(log.count(READ)).toBe(2);
      expect(log.count(WRITE)).toBe(2);
      expect(decisions).toBe(5);
      const stored = await findLiveObservedDeployments(store(), rows.map((row) => row.id));
      expect(stored.every((row) => row.status === "ACTIVE" && row.replicas_ready === 2)).toBe(true);
      expect((await statusChanges(modelId)).length).toBe(5);

      // known now: due again with nothing changed is no statement at all
      const from = log.statements.length;
      for (const row of rows) writes.due(row.id);
      await writes.drain();
      expect(log.statements.length - from).toBe(0);

      // a row changed by another writer, whose change told this engine (forgotten): read and written again
      const second = rows[1];
      if (second === undefined) throw new Error("a deployment expected");
      await store().query("UPDATE deployments SET replicas_ready = 1 WHERE id = $1", [second.id]);
      known.forget(second.id);
      writes.due(second.id);
      await writes.drain();
      expect((await findLiveObservedDeployments(store(), [second.id]))[0]?.replicas_ready).toBe(2);
      // a copy that differs from the row while deciding a change: the compare-and-set fails, the row is read, decided again and written
      await store().query("UPDATE deployments SET replicas_ready = 0 WHERE id = $1", [rows[2]?.id ?? ""]);
      const known2 = known.get(rows[2]?.id ?? "");
      if (known2 === undefined) throw new Error("rows[2] known");
      // the engine believes the row says ready 1 (so its decision writes ready 2 compare-and-set on 1)
      await known.throughMany([known2.id], async () => [{ ...known2, replicas_ready: 1 }], (row) => row);
      const fromRetry = log.statements.length;
      writes.due(known2.id);
      await writes.drain();
      expect(log.count(WRITE, fromRetry)).toBe(2);
      expect(log.count(READ, fromRetry)).toBe(1);
      expect((await findLiveObservedDeployments(store(), [known2.id]))[0]).toMatchObject({ status: "ACTIVE", replicas_ready: 2 });
    });
  });
}

describeObservationWrites("PGlite", pgliteStoreForFile());

describeOnPostgres("PostgreSQL 15", (store) => describeObservationWrites("PostgreSQL 15", store));
