/**
 * A steady resync passes by the deployments whose rows did not change since it last converged them
 * (StoreSnapshot.inputsVersion; at 10,000 deployments converging every one was most of a resync's
 * CPU and garbage, and PostgreSQL's API tail, bench/scale), yet still converges every change made
 * behind the controller's back — another engine's write, a lost notification: here no event at
 * all. Each kind of row a sync reads, changed alone, has the next resync declare again the
 * deployments it concerns, and only those — reading only those deployments' rows. Real store
 * (PGlite), a leader's and a follower's controller on recording runtimes.
 */
import { describe, expect, it } from "vitest";
import type { Leadership } from "../../../engine/control/control-lease.js";
import { replicaSetId } from "../../../engine/runtime/runtime.js";
import { ControlPlane } from "../../../engine/service/control-plane.js";
import { waitFor } from "../../../testing/index.js";
import { controlEngineOn, type ControlEngine } from "../../support/control-engine.js";
import { pgliteStoreForFile } from "../../support/pglite-store-for-file.js";
import { loggingStatements } from "../../support/statement-log.js";

/** a snapshot's read of deployments' whole rows: every live one, or those asked for (engine/store/control-snapshot.ts) */
const ALL_ROWS = "SELECT *, xmin::text AS row_version FROM deployments WHERE deleted_at IS NULL";
const SOME_ROWS = "SELECT *, xmin::text AS row_version FROM deployments WHERE id = ANY";

const FOLLOWING: Leadership = { isLeader: () => false, fence: () => undefined };

const store = pgliteStoreForFile();

/** One resync; the deployments it declared a set of to the runtime (a set's id starts with its deployment's). */
async function resyncDeclaring(engine: ControlEngine, deploymentIds: Record<string, string>): Promise<string[]> {
  const before = engine.runtime.calls.length;
  await engine.controller.resync();
  const declared = new Set(engine.runtime.calls.slice(before).map((call) => call.replicaSetId));
  return Object.entries(deploymentIds)
    .filter(([, id]) => [...declared].some((setId) => setId === id || setId.startsWith(`${id}.`)))
    .map(([name]) => name)
    .sort();
}

describe("deployment controller: a resync passes by what did not change", () => {
  it("declares nothing again while the rows stay the same, and again exactly the deployments a changed row concerns", async () => {
    const service = new ControlPlane({ sql: store() });
    const careful = await service.createPromotionSettings({ name: "careful", rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 25 } } as never);
    await service.createWorkspaceEnvironment({ name: "qa", variables: { QA_LEVEL: "3" } });
    const model = await service.createModel({ name: "m" });
    await service.createEnvironment(model.id, { name: "staging" });
    await service.putVariable(model.id, "production", "API_TOKEN", { value: "prod-token", secret: true });
    await service.patchEnvironment(model.id, "production", { promotion_settings_id: careful.id } as never);
    const other = await service.createModel({ name: "other" });
    const ids: Record<string, string> = {};
    for (const name of ["serving", "staging", "qa", "idle"]) ids[name] = (await service.createDeployment(model.id, { name, command: ["model", name] } as never)).id;
    ids.other = (await service.createDeployment(other.id, { command: ["other"] } as never)).id;
    for (const [environment, deployment] of [["production", "serving"], ["staging", "staging"], ["qa", "qa"]] as const) {
      await store().query("UPDATE environments SET current_deployment_id = $3 WHERE model_id = $1 AND name = $2", [model.id, environment, ids[deployment]!]);
    }
    const production = replicaSetId(ids.serving!, "production");

    const leader = controlEngineOn(store());
    const followerStore = loggingStatements(store());
    const follower = controlEngineOn(followerStore.sql, { leadership: FOLLOWING });
    /** the statements reading deployments' whole rows since `from`: all of them, or those asked for */
    const rowReads = (from: number) => ({ all: followerStore.count(ALL_ROWS, from), some: followerStore.count(SOME_ROWS, from) });
    try {
      await leader.controller.resync({ restore: true });
      // The leader's start writes every set's count and every deployment's observation (new row
      // versions): the resync after converges those again; then one passes by everything.
      await waitFor(async () => (await resyncDeclaring(leader, ids)).length === 0, { timeoutMs: 10_000, intervalMs: 10, message: "a leader's resync that declares nothing" });
      expect(await resyncDeclaring(follower, ids)).toEqual(["idle", "other", "qa", "serving", "staging"]);
      expect(rowReads(0)).toEqual({ all: 1, some: 0 });
      let from = followerStore.statements.length;
      expect(await resyncDeclaring(follower, ids)).toEqual([]);
      // nothing changed: no deployment's row is read, only the versions
      expect(rowReads(from)).toEqual({ all: 0, some: 0 });
      const revision = follower.controller.specOf(production)!.revision;

      // Each change made behind the controllers' backs, then a resync: what it concerns, and then nothing.
      const changes: Array<[string, () => Promise<unknown>, string[]]> = [
        ["a variable of production", () => service.putVariable(model.id, "production", "LOG_LEVEL", { value: "debug", secret: false }), ["serving"]],
        ["a workspace environment's variable", () => service.patchWorkspaceEnvironment("qa", { variables: { QA_LEVEL: "4" } }), ["qa"]],
        ["named promotion settings", () => service.patchPromotionSettings(careful.id, { rolling_deploy_config: { max_surge_percent: 50 } } as never), ["serving"]],
        ["a set's stored count", () => store().query("UPDATE replica_sets SET desired = 3 WHERE id = $1", [production]), ["serving"]],
        ["the model's name", () => store().query("UPDATE models SET name = 'm2' WHERE id = $1", [model.id]), ["idle", "qa", "serving", "staging"]],
        ["a deployment's name", () => service.patchDeployment(model.id, ids.idle!, { name: "idle-renamed" }), ["idle"]],
      ];
      for (const [what, change, concerned] of changes) {
        await change();
        from = followerStore.statements.length;
        expect(await resyncDeclaring(follower, ids), what).toEqual(concerned);
        expect(rowReads(from), what).toEqual({ all: 0, some: 1 });
        from = followerStore.statements.length;
        expect(await resyncDeclaring(follower, ids), `${what}, again`).toEqual([]);
        expect(rowReads(from), `${what}, again`).toEqual({ all: 0, some: 0 });
      }
      // a column of the model's row that no sync reads (the next deployment's number): nothing to converge
      await store().query("UPDATE models SET next_deployment_number = next_deployment_number + 1 WHERE id = $1", [model.id]);
      from = followerStore.statements.length;
      expect(await resyncDeclaring(follower, ids)).toEqual([]);
      expect(rowReads(from)).toEqual({ all: 0, some: 0 });
      // what those resyncs declared: the new configuration, the new surge, the leader's new count, the new names
      const spec = follower.controller.specOf(production)!;
      expect(spec.revision).not.toBe(revision);
      expect(spec.env.LOG_LEVEL).toBe("debug");
      expect(spec.maxSurgePercent).toBe(50);
      expect(spec.owner.modelName).toBe("m2");
      expect(follower.runtime.desiredSnapshot()[production]).toBe(3);
      expect(follower.controller.specOf(replicaSetId(ids.qa!, "qa"))!.env.QA_LEVEL).toBe("4");
      expect(follower.controller.specOf(ids.idle!)!.owner.deploymentName).toBe("idle-renamed");

      // The leader too, once it converged all of the above: a change it did not hear of is converged by its next resync.
      await waitFor(async () => (await resyncDeclaring(leader, ids)).length === 0, { timeoutMs: 10_000, intervalMs: 10, message: "the leader converged" });
      await service.putVariable(model.id, "staging", "LOG_LEVEL", { value: "warn", secret: false });
      expect(await resyncDeclaring(leader, ids)).toEqual(["staging"]);
      expect(leader.controller.specOf(replicaSetId(ids.staging!, "staging"))!.env.LOG_LEVEL).toBe("warn");
      // A change of leadership converges everything again (a leader decides what a follower reads).
      await follower.controller.leadershipChanged(false);
      expect(await resyncDeclaring(follower, ids)).toEqual(["idle", "other", "qa", "serving", "staging"]);
    } finally {
      await leader.close();
      await follower.close();
    }
  });
});
