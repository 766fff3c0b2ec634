/**
 * What a promote costs the store: one read outside any transaction (the environment, the
 * candidate, the promotion in progress and the settings), then one decided transaction — the
 * environment's row lock, the insert that checks what was read still holds, the candidate's new
 * settings and the audit entry after it — sent as one request. 100 promote requests arrive within
 * a second in bench/scale; each used to be ~8 round trips while its transaction held the store
 * (PGlite's one session, or a pooled connection), then 4, then 3. When what was read changed meanwhile,
 * the promote goes the locked way and decides from what it reads under the lock.
 */
import { describe, expect, it } from "vitest";
import { createPromotionExecutor } from "../../../engine/promotions/executor.js";
import { ControlPlane } from "../../../engine/service/control-plane.js";
import type { Sql } from "../../../engine/store/sql.js";
import { pgliteStoreForFile } from "../../support/pglite-store-for-file.js";
import { describeOnPostgres } from "../../support/postgres-store-for-file.js";
import { racingStore } from "../../support/racing-store.js";
import { AT_COMMIT, loggingStatements } from "../../support/statement-log.js";

function promoteSuite(store: () => Sql): void {
  it("a promote is one read and one decided transaction of two statements and two writes; what it writes and refuses is unchanged", async () => {
    const log = loggingStatements(store());
    const service = new ControlPlane({ sql: log.sql, promotionExecutor: createPromotionExecutor({ currentReplicas: () => 1, readyReplicas: () => 0 }) });
    const careful = await service.createPromotionSettings({ name: `careful-${store().kind}`, rolling_deploy: true, redeploy_on_promotion: true } as never);
    const instant = await service.createPromotionSettings({ name: `instant-${store().kind}`, rolling_deploy: false } as never);
    await service.createWorkspaceEnvironment({ name: `qa-${store().kind}`, promotion_settings_id: instant.id } as never);
    const model = await service.createModel({ name: `promote-${store().kind}` });
    await service.patchEnvironment(model.id, "production", { promotion_settings_id: careful.id, autoscaling_settings: { min_replica: 2, max_replica: 4 } } as never);
    const [d0, d1] = [
      await service.createDeployment(model.id, { command: ["model", "0"] } as never),
      await service.createDeployment(model.id, { command: ["model", "1"] } as never),
    ];
    const revisionOf = async (id: string) => (await store().query<{ revision: number }>("SELECT revision FROM deployments WHERE id = $1", [id]))[0]?.revision;
    const revisionBefore = await revisionOf(d0!.id);

    const from = log.statements.length;
    const promotion = await service.promote(model.id, "production", { deployment_id: d0!.id });
    const asked = log.statements.map((text, index) => ({ text, transaction: log.transactionOf[index] })).slice(from).filter(({ text }) => !text.startsWith("SELECT pg_notify"));
    const shapes = asked.map(({ text, transaction }) => `${transaction === undefined ? "" : "in a transaction: "}${text.split(" ").slice(0, text.startsWith(AT_COMMIT) ? 5 : 3).join(" ")}`);
    expect(shapes, asked.map(({ text }) => text).join("\n")).toEqual([
      "SELECT e.*, (SELECT",
      "in a transaction: SELECT 1 FROM",
      "in a transaction: INSERT INTO promotions",
      `in a transaction: ${AT_COMMIT}UPDATE deployments SET`,
      `in a transaction: ${AT_COMMIT}INSERT INTO audit_logs`,
    ]);
    expect(new Set(asked.map(({ transaction }) => transaction)).size, "one transaction and the reads outside any").toBe(2);

    // the settings snapshotted are production's named object's (nothing served before: it is INSTANT whatever they say);
    // the candidate took production's autoscaling and a new revision
    expect(promotion).toMatchObject({ kind: "INSTANT", deployment_id: d0!.id, deployment_name: d0!.name, status: "RELEASING" });
    const settingsOf = async (id: string) =>
      (await store().query<{ settings: { redeploy_on_promotion: boolean; rolling_deploy: boolean } }>("SELECT settings FROM promotions WHERE id = $1", [id]))[0]?.settings;
    expect(await settingsOf(promotion.id)).toMatchObject({ rolling_deploy: true, redeploy_on_promotion: true });
    expect((await service.getDeployment(model.id, d0!.id)).autoscaling_settings).toMatchObject({ min_replica: 2, max_replica: 4 });
    expect(await revisionOf(d0!.id)).toBe(revisionBefore! + 1);
    expect((await service.listAuditLogs(model.id)).find((entry) => entry.kind === "promotion.started")).toMatchObject({ object_id: promotion.id, object_name: "production" });

    // refused while that one is in progress, naming it and its deployment; nothing written
    const refusedFrom = log.statements.length;
    await expect(service.promote(model.id, "production", { deployment_id: d1!.id })).rejects.toThrow(
      `environment production already has promotion ${promotion.id} in progress (RELEASING, to deployment ${d0!.name}`,
    );
    expect(log.statements.slice(refusedFrom).filter((text) => text.startsWith(AT_COMMIT))).toEqual([]);
    expect((await service.listPromotions(model.id, "production")).map((shown) => shown.id)).toEqual([promotion.id]);

    // the 404s still say which: a deployment not there, an environment not there
    await expect(service.promote(model.id, "staging", { deployment_id: d1!.id })).rejects.toThrow(`environment staging not found in model ${model.id}`);
    await service.createEnvironment(model.id, { name: "staging" });
    await expect(service.promote(model.id, "staging", { deployment_id: "dep_missing" })).rejects.toThrow(`deployment dep_missing not found in model ${model.id}`);

    // the model's environment of a workspace environment promotes with the workspace environment's
    // settings; d1 has that environment's autoscaling already and is not redeployed: nothing to write
    // on it, and no change of it to apply
    const changedDeployments: string[] = [];
    service.onChange((event) => {
      if (event.type === "deployment.changed") changedDeployments.push(event.deploymentId);
    });
    const qaFrom = log.statements.length;
    const intoQa = await service.promote(model.id, `qa-${store().kind}`, { deployment_id: d1!.id });
    expect(await settingsOf(intoQa.id)).toMatchObject({ rolling_deploy: false, redeploy_on_promotion: false });
    expect(log.statements.slice(qaFrom).filter((text) => text.startsWith(AT_COMMIT)).map((text) => text.split(" ").slice(2, 5).join(" "))).toEqual(["INSERT INTO audit_logs"]);
    expect(changedDeployments).toEqual([]);
    // into an environment of other settings it takes them: written, and applied
    await service.patchEnvironment(model.id, "staging", { autoscaling_settings: { min_replica: 0, max_replica: 3 } } as never);
    await service.promote(model.id, "staging", { deployment_id: d1!.id });
    expect(changedDeployments).toEqual([d1!.id]);
    expect((await service.getDeployment(model.id, d1!.id)).autoscaling_settings).toMatchObject({ min_replica: 0, max_replica: 3 });
  });

  it("a promote whose reads changed before its insert goes the locked way: it takes what is there then, or refuses as it would have", async () => {
    // Between the reads and the decided transaction, another writer changes what the promote read.
    const racing = racingStore(store);
    const sql = racing.sql;
    const service = new ControlPlane({ sql, promotionExecutor: createPromotionExecutor({ currentReplicas: () => 1, readyReplicas: () => 0 }) });
    const model = await service.createModel({ name: `promote-changed-${store().kind}` });
    const [d0, d1] = [
      await service.createDeployment(model.id, { command: ["model", "0"] } as never),
      await service.createDeployment(model.id, { command: ["model", "1"] } as never),
    ];
    // production's autoscaling changed meanwhile: the candidate takes the new settings, not the ones read
    racing.meanwhile(() => store().query("UPDATE environments SET autoscaling_settings = jsonb_set(autoscaling_settings, '{max_replica}', '7') WHERE model_id = $1 AND name = 'production'", [model.id]));
    const first = await service.promote(model.id, "production", { deployment_id: d0!.id });
    expect(racing.pending()).toBe(false);
    expect((await service.getDeployment(model.id, d0!.id)).autoscaling_settings).toMatchObject({ max_replica: 7 });
    expect((await service.listAuditLogs(model.id)).filter((entry) => entry.kind === "promotion.started").map((entry) => entry.object_id)).toEqual([first.id]);
    await store().query("UPDATE promotions SET status = 'SUCCEEDED' WHERE id = $1", [first.id]);
    // a promotion started meanwhile: refused, naming it, as without the race
    racing.meanwhile(() => store().query("UPDATE promotions SET status = 'RAMPING_UP' WHERE id = $1", [first.id]));
    await expect(service.promote(model.id, "production", { deployment_id: d1!.id })).rejects.toThrow(`environment production already has promotion ${first.id} in progress`);
    expect((await service.listPromotions(model.id, "production")).map((shown) => shown.id)).toEqual([first.id]);
    // the candidate deactivated meanwhile: refused as inactive
    await store().query("UPDATE promotions SET status = 'SUCCEEDED' WHERE id = $1", [first.id]);
    racing.meanwhile(() => store().query("UPDATE deployments SET active = false WHERE id = $1", [d1!.id]));
    await expect(service.promote(model.id, "production", { deployment_id: d1!.id })).rejects.toThrow(/is inactive; activate it first/);
    expect((await service.listPromotions(model.id, "production")).map((shown) => shown.id)).toEqual([first.id]);
  });
}

describe("promote on PGlite", () => {
  promoteSuite(pgliteStoreForFile());
});

describeOnPostgres("promote on PostgreSQL", promoteSuite);
