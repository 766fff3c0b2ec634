/**
 * What a deployment's creation and an autoscaling patch cost the store: one read outside any
 * transaction, then one decided transaction — the statement that locks and writes only if what was
 * read still holds, and the audit entry after it — sent as one request. They are bench/scale's
 * writes (10 % of its API requests) and each used to be a transaction of 4–6 round trips holding
 * the store (PGlite's one session) between the event loop's turns. When what was read changed
 * meanwhile, they go the locked way and decide from what they read under the lock.
 */
import { describe, expect, it } from "vitest";
import { ControlPlane } from "../../../engine/service/control-plane.js";
import type { Sql } from "../../../engine/store/sql.js";
import { pgliteStoreForFile } from "../../support/pglite-store-for-file.js";
import { describeOnPostgres } from "../../support/postgres-store-for-file.js";
import { racingStore } from "../../support/racing-store.js";
import { AT_COMMIT, loggingStatements, type StatementLog } from "../../support/statement-log.js";

/** The statements asked since `from` (NOTIFYs aside), each as its first words, those of a transaction marked. */
function shapesSince(log: StatementLog, from: number): { shapes: string[]; transactions: number; texts: string } {
  const asked = log.statements
    .map((text, index) => ({ text, transaction: log.transactionOf[index] }))
    .slice(from)
    .filter(({ text }) => !text.startsWith("SELECT pg_notify"));
  return {
    shapes: asked.map(({ text, transaction }) => `${transaction === undefined ? "" : "in a transaction: "}${text.split(" ").slice(0, text.startsWith(AT_COMMIT) ? 5 : 3).join(" ")}`),
    transactions: new Set(asked.map(({ transaction }) => transaction).filter((transaction) => transaction !== undefined)).size,
    texts: asked.map(({ text }) => text).join("\n"),
  };
}

function writeSuite(store: () => Sql): void {
  it("a create is one read and one decided transaction; names, audit entries, events and conflicts are unchanged", async () => {
    const log = loggingStatements(store());
    const service = new ControlPlane({ sql: log.sql });
    const model = await service.createModel({ name: `create-${store().kind}` });
    const changed: string[] = [];
    service.onChange((event) => {
      if (event.type === "deployment.changed") changed.push(event.deploymentId);
    });

    const from = log.statements.length;
    const first = await service.createDeployment(model.id, { command: ["model", "1"] } as never);
    const { shapes, transactions, texts } = shapesSince(log, from);
    expect(shapes, texts).toEqual(["SELECT * FROM", "in a transaction: WITH model AS", `in a transaction: ${AT_COMMIT}INSERT INTO audit_logs`]);
    expect(transactions).toBe(1);
    expect(first).toMatchObject({ name: "deployment-1", environment: null, status: "DEPLOYING", active: true, command: ["model", "1"] });
    expect(changed).toEqual([first.id]);

    // named: the same statements; the model's numbers are left alone
    const named = await service.createDeployment(model.id, { name: "blue", command: ["model", "blue"] } as never);
    expect(named.name).toBe("blue");
    expect((await service.createDeployment(model.id, { command: ["model", "2"] } as never)).name).toBe("deployment-2");
    const audit = (await service.listAuditLogs(model.id)).filter((entry) => entry.kind === "deployment.created");
    expect(audit.map((entry) => entry.object_name).sort()).toEqual(["blue", "deployment-1", "deployment-2"]);
    expect(audit.find((entry) => entry.object_name === "deployment-1")).toMatchObject({ object_id: first.id });

    // a name taken: 409 naming it, nothing written
    await expect(service.createDeployment(model.id, { name: "blue", command: ["x"] } as never)).rejects.toThrow(
      `a deployment named 'blue' already exists in model ${model.id}; choose another name`,
    );
    expect((await service.listDeployments(model.id)).map((deployment) => deployment.name).sort()).toEqual(["blue", "deployment-1", "deployment-2"]);
    expect((await service.listAuditLogs(model.id)).filter((entry) => entry.kind === "deployment.created")).toHaveLength(3);

    // the next number's name taken by a user: the locked way takes the number after it
    await service.createDeployment(model.id, { name: "deployment-3", command: ["x"] } as never);
    expect((await service.createDeployment(model.id, { command: ["x"] } as never)).name).toBe("deployment-4");

    // no model: the 404 says so
    await expect(service.createDeployment("mdl_missing", { command: ["x"] } as never)).rejects.toThrow("model mdl_missing not found");
  });

  it("a create whose model changed before its insert goes the locked way", async () => {
    const racing = racingStore(store);
    const service = new ControlPlane({ sql: racing.sql });
    const model = await service.createModel({ name: `create-race-${store().kind}` });
    // another create took the number read: this one takes the next
    racing.meanwhile(() => store().query("UPDATE models SET next_deployment_number = next_deployment_number + 1 WHERE id = $1", [model.id]));
    const created = await service.createDeployment(model.id, { command: ["x"] } as never);
    expect(racing.pending()).toBe(false);
    expect(created.name).toBe("deployment-2");
    expect((await service.listAuditLogs(model.id)).filter((entry) => entry.kind === "deployment.created").map((entry) => entry.object_name)).toEqual(["deployment-2"]);
    // the model deleted meanwhile: 404, nothing created
    racing.meanwhile(() => store().query("UPDATE models SET deleted_at = now() WHERE id = $1", [model.id]));
    await expect(service.createDeployment(model.id, { name: "late", command: ["x"] } as never)).rejects.toThrow(`model ${model.id} not found`);
    expect(await store().query("SELECT 1 FROM deployments WHERE model_id = $1 AND name = 'late'", [model.id])).toEqual([]);
  });

  it("an autoscaling patch is one read and one decided transaction; the answer shows the environment served; refusals are unchanged", async () => {
    const log = loggingStatements(store());
    const service = new ControlPlane({ sql: log.sql });
    const model = await service.createModel({ name: `autoscaling-${store().kind}` });
    const deployment = await service.createDeployment(model.id, { command: ["x"] } as never);
    await store().query("UPDATE environments SET current_deployment_id = $1 WHERE model_id = $2 AND name = 'production'", [deployment.id, model.id]);
    const changed: string[] = [];
    service.onChange((event) => {
      if (event.type === "deployment.changed") changed.push(event.deploymentId);
    });

    const from = log.statements.length;
    const patched = await service.updateDeploymentAutoscaling(model.id, deployment.id, { max_replica: 6, scale_down_delay: 700 });
    const { shapes, transactions, texts } = shapesSince(log, from);
    expect(shapes, texts).toEqual(["SELECT deployments.*, (SELECT", "in a transaction: UPDATE deployments SET", `in a transaction: ${AT_COMMIT}INSERT INTO audit_logs`]);
    expect(transactions).toBe(1);
    expect(patched).toMatchObject({ id: deployment.id, environment: "production", autoscaling_settings: { ...deployment.autoscaling_settings, max_replica: 6, scale_down_delay: 700 } });
    expect(await service.getDeployment(model.id, deployment.id)).toEqual(patched);
    expect(changed).toEqual([deployment.id]);
    expect((await service.listAuditLogs(model.id)).find((entry) => entry.kind === "deployment.autoscaling_updated")).toMatchObject({
      object_id: deployment.id,
      object_name: deployment.name,
      details: { autoscaling_settings: patched.autoscaling_settings },
    });

    // settings the patch makes invalid: 400 naming the rule, nothing written
    await expect(service.updateDeploymentAutoscaling(model.id, deployment.id, { min_replica: 9 })).rejects.toThrow(/min_replica/);
    expect((await service.getDeployment(model.id, deployment.id)).autoscaling_settings).toEqual(patched.autoscaling_settings);
    // the development deployment's rules, and the 404s
    await service.putDevelopmentDeployment(model.id, { command: ["dev"] } as never);
    await expect(service.updateDeploymentAutoscaling(model.id, "development", { max_replica: 2 })).rejects.toThrow("the development deployment has at most one replica");
    await expect(service.updateDeploymentAutoscaling(model.id, "dep_missing", { max_replica: 2 })).rejects.toThrow(`deployment dep_missing not found in model ${model.id}`);
    expect((await service.listAuditLogs(model.id)).filter((entry) => entry.kind === "deployment.autoscaling_updated")).toHaveLength(1);
  });

  it("an autoscaling patch whose deployment changed before its write goes the locked way: the patch applies to the settings there then", async () => {
    const racing = racingStore(store);
    const service = new ControlPlane({ sql: racing.sql });
    const model = await service.createModel({ name: `autoscaling-race-${store().kind}` });
    const deployment = await service.createDeployment(model.id, { command: ["x"] } as never);
    racing.meanwhile(() =>
      store().query("UPDATE deployments SET autoscaling_settings = jsonb_set(autoscaling_settings, '{max_replica}', '7') WHERE id = $1", [deployment.id]),
    );
    const patched = await service.updateDeploymentAutoscaling(model.id, deployment.id, { scale_down_delay: 800 });
    expect(racing.pending()).toBe(false);
    expect(patched.autoscaling_settings).toMatchObject({ max_replica: 7, scale_down_delay: 800 });
    // deleted meanwhile: 404
    racing.meanwhile(() => store().query("UPDATE deployments SET deleted_at = now() WHERE id = $1", [deployment.id]));
    await expect(service.updateDeploymentAutoscaling(model.id, deployment.id, { scale_down_delay: 900 })).rejects.toThrow(
      `deployment ${deployment.id} not found in model ${model.id}`,
    );
  });
}

describe("writes at once on PGlite", () => {
  writeSuite(pgliteStoreForFile());
});

describeOnPostgres("writes at once on PostgreSQL", writeSuite);
