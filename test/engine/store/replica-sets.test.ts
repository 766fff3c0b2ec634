/**
 * The leader's replica_sets rows in batches (engine/store/replica-sets.ts, written behind the
 * controller's decisions by engine/control/replica-set-writes.ts): many sets' rows are one statement,
 * inserted or updated (role, count, time; never the deployment), removed in one statement, and
 * nothing is written or removed under a fence whose lease another holder (or epoch) has — on both
 * stores. Through the batcher, 1,200 rows handed over in one turn are 12 statements (one a row before).
 */
import { describe, expect, it } from "vitest";
import { BATCH_ROWS, ReplicaSetWrites, replicaSetRowStore } from "../../../engine/control/replica-set-writes.js";
import { ControlPlane } from "../../../engine/service/control-plane.js";
import { tryAcquireLease } from "../../../engine/store/leases.js";
import { deleteReplicaSets, writeReplicaSets, type ReplicaSetRow, type ReplicaSetWrite, type WriteFence } from "../../../engine/store/replica-sets.js";
import type { Sql } from "../../../engine/store/sql.js";
import { pgliteStoreForFile } from "../../support/pglite-store-for-file.js";
import { describeOnPostgres } from "../../support/postgres-store-for-file.js";
import { loggingStatements } from "../../support/statement-log.js";

const UPSERT = "INSERT INTO replica_sets";
const DELETE = "DELETE FROM replica_sets";

function describeReplicaSetRows(storeName: string, store: () => Sql): void {
  describe(`replica_sets rows in batches on ${storeName}`, () => {
    /** Two deployments of a fresh model: rows need their deployments. */
    const twoDeployments = async (name: string): Promise<[string, string]> => {
      const service = new ControlPlane({ sql: store() });
      const model = await service.createModel({ name });
      const first = await service.createDeployment(model.id, { command: ["model"] } as never);
      const second = await service.createDeployment(model.id, { command: ["model"] } as never);
      return [first.id, second.id];
    };
    const rowsOf = async (deploymentIds: readonly string[]): Promise<Map<string, ReplicaSetRow & { updated_at: string }>> => {
      const rows = await store().query<ReplicaSetRow & { updated_at: Date }>("SELECT * FROM replica_sets WHERE deployment_id IN ($1, $2) ORDER BY id", [deploymentIds[0] ?? "", deploymentIds[1] ?? ""]);
      return new Map(rows.map((row) => [row.id, { ...row, updated_at: new Date(row.updated_at).toISOString() }]));
    };
    /** A lease held by `holder`, for fences of its own (not the engine's 'control'). */
    const lease = async (name: string, holder: string): Promise<WriteFence> => {
      const epoch = await tryAcquireLease(store(), { name, holder, ttlMs: 60_000, now: new Date() });
      if (epoch === undefined) throw new Error(`lease ${name} not taken`);
      return { name, holder, epoch };
    };

    it("writes and updates many sets' rows in one statement each, and removes many in one", async () => {
      const log = loggingStatements(store());
      const [d1, d2] = await twoDeployments("batched-rows");
      const at = new Date("2026-12-03T22:00:00.123Z");
      // 300 sets: own sets (no environment) and environment sets of both deployments; one environment
      // name with every character an array literal treats specially
      const sets: ReplicaSetWrite[] = [];
      for (let n = 0; n < 150; n++) {
        sets.push({ id: `${d1}.env-${n}`, deploymentId: d1, environment: `env-${n}`, role: n % 2 === 0 ? "serving" : "candidate", desired: n, at });
        sets.push({ id: `${d2}.env-${n}`, deploymentId: d2, environment: n === 7 ? 'we"ird, {x} \\ NULL' : `env-${n}`, role: "serving", desired: 1, at });
      }
      sets[0] = { id: d1, deploymentId: d1, environment: null, role: "own", desired: 2, at };
      const from = log.statements.length;
      expect((await writeReplicaSets(log.sql, sets)).sort()).toEqual(sets.map((set) => set.id).sort());
      expect(log.statements.length - from).toBe(1);
      expect(log.count(UPSERT, from)).toBe(1);
      const stored = await rowsOf([d1, d2]);
      expect(stored.size).toBe(300);
      for (const set of sets) {
        expect(stored.get(set.id)).toEqual({ id: set.id, deployment_id: set.deploymentId, environment: set.environment, role: set.role, desired: set.desired, updated_at: at.toISOString() });
      }

      // half of them again, with new counts and roles: one statement; the others unchanged
      const later = new Date("2026-12-03T22:00:05.456Z");
      const changed = sets.filter((_, index) => index % 2 === 0).map((set) => ({ ...set, role: set.role === "own" ? ("own" as const) : ("kept" as const), desired: set.desired + 10, at: later }));
      const fromUpdate = log.statements.length;
      expect(await writeReplicaSets(log.sql, changed)).toHaveLength(150);
      expect(log.statements.length - fromUpdate).toBe(1);
      const updated = await rowsOf([d1, d2]);
      for (const set of changed) expect(updated.get(set.id)).toMatchObject({ role: set.role, desired: set.desired, updated_at: later.toISOString(), deployment_id: set.deploymentId });
      for (const set of sets.filter((_, index) => index % 2 === 1)) expect(updated.get(set.id)).toEqual(stored.get(set.id));

      // 200 removed in one statement; an id with no row is not among those returned
      const removed = sets.slice(0, 200).map((set) => set.id);
      const fromDelete = log.statements.length;
      expect((await deleteReplicaSets(log.sql, [...removed, `${d1}.never-stored`])).sort()).toEqual([...removed].sort());
      expect(log.statements.length - fromDelete).toBe(1);
      expect(log.count(DELETE, fromDelete)).toBe(1);
      expect([...(await rowsOf([d1, d2])).keys()].sort()).toEqual(sets.slice(200).map((set) => set.id).sort());
      // nothing to write: no statement
      expect(await writeReplicaSets(log.sql, [])).toEqual([]);
      expect(await deleteReplicaSets(log.sql, [])).toEqual([]);
      expect(log.statements.length - fromDelete).toBe(1);
    });

    it("writes and removes nothing under a fence whose lease another holder or epoch has", async () => {
      const [d1, d2] = await twoDeployments("fenced-rows");
      const at = new Date("2026-12-03T22:00:00.000Z");
      const name = `replica-rows-${storeName}`;
      const held = await lease(name, "engine-a");
      const sets: ReplicaSetWrite[] = [
        { id: d1, deploymentId: d1, environment: null, role: "own", desired: 1, at },
        { id: `${d2}.production`, deploymentId: d2, environment: "production", role: "serving", desired: 2, at },
      ];
      expect((await writeReplicaSets(store(), sets, held)).sort()).toEqual(sets.map((set) => set.id).sort());
      const before = await rowsOf([d1, d2]);

      const raised = sets.map((set) => ({ ...set, desired: 9, at: new Date("2026-12-03T22:01:00.000Z") }));
      for (const fence of [
        { ...held, holder: "engine-b" },
        { ...held, epoch: held.epoch - 1 },
        { ...held, name: `${name}-other` },
      ]) {
        expect(await writeReplicaSets(store(), raised, fence)).toEqual([]);
        expect(await deleteReplicaSets(store(), [d1], fence)).toEqual([]);
      }
      expect(await rowsOf([d1, d2])).toEqual(before);

      // engine-b takes the lease over (expired): engine-a's fence writes nothing any more, engine-b's does
      await store().query("UPDATE leases SET expires_at = now() - interval '1 minute' WHERE name = $1", [name]);
      const successor = await lease(name, "engine-b");
      expect(successor.epoch).toBe(held.epoch + 1);
      expect(await writeReplicaSets(store(), raised, held)).toEqual([]);
      expect((await writeReplicaSets(store(), raised, successor)).sort()).toEqual(sets.map((set) => set.id).sort());
      expect(await deleteReplicaSets(store(), [d1], held)).toEqual([]);
      expect(await deleteReplicaSets(store(), [d1], successor)).toEqual([d1]);
      expect([...(await rowsOf([d1, d2])).values()].map((row) => [row.id, row.desired])).toEqual([[`${d2}.production`, 9]]);
    });

    it(`through the controller's batcher: 1,200 rows handed over in one turn are ${Math.ceil(1_200 / BATCH_ROWS)} statements, fenced-out ones reported`, async () => {
      const log = loggingStatements(store());
      const [d1, d2] = await twoDeployments("batcher-rows");
      const name = `replica-batcher-${storeName}`;
      const held = await lease(name, "engine-a");
      const told = new Set<string>();
      const writes = new ReplicaSetWrites({ store: replicaSetRowStore(log.sql), written: (deployments) => deployments.forEach((id) => told.add(id)) });
      const at = new Date();
      const from = log.statements.length;
      for (let n = 0; n < 600; n++) {
        for (const deploymentId of [d1, d2]) writes.upsert({ id: `${deploymentId}.env-${n}`, deploymentId, environment: `env-${n}`, role: "serving", desired: 1, at }, held);
      }
      // a later count of some of them replaces the first
      for (let n = 0; n < 10; n++) writes.upsert({ id: `${d1}.env-${n}`, deploymentId: d1, environment: `env-${n}`, role: "serving", desired: 5, at }, held);
      await writes.drain();
      expect(log.count(UPSERT, from)).toBe(Math.ceil(1_200 / BATCH_ROWS));
      expect(log.statements.length - from).toBe(Math.ceil(1_200 / BATCH_ROWS));
      expect(told).toEqual(new Set([d1, d2]));
      const stored = await rowsOf([d1, d2]);
      expect(stored.size).toBe(1_200);
      expect(stored.get(`${d1}.env-3`)?.desired).toBe(5);
      expect(stored.get(`${d1}.env-30`)?.desired).toBe(1);

      // another holder took the lease: the counts and removals under the old fence write nothing and are reported
      await store().query("UPDATE leases SET expires_at = now() - interval '1 minute' WHERE name = $1", [name]);
      await lease(name, "engine-b");
      const notWritten: string[] = [];
      told.clear();
      const fromFenced = log.statements.length;
      writes.upsert({ id: `${d1}.env-0`, deploymentId: d1, environment: "env-0", role: "serving", desired: 7, at }, held, () => notWritten.push(`${d1}.env-0`));
      writes.remove(`${d2}.env-0`, d2, held, () => notWritten.push(`${d2}.env-0`));
      await writes.drain();
      expect(log.statements.length - fromFenced).toBe(2);
      expect(notWritten.sort()).toEqual([`${d1}.env-0`, `${d2}.env-0`].sort());
      expect(told.size).toBe(0);
      const after = await rowsOf([d1, d2]);
      expect(after.get(`${d1}.env-0`)?.desired).toBe(5);
      expect(after.has(`${d2}.env-0`)).toBe(true);
    });
  });
}

describeReplicaSetRows("PGlite", pgliteStoreForFile());

describeOnPostgres("PostgreSQL 15", (store) => describeReplicaSetRows("PostgreSQL 15", store));
