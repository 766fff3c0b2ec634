import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultPromotionSettings, AUTOSCALING_DEFAULTS } from "../../../sdk/index.js";
import {
  compareAndSetPromotion,
  databaseErrorFields,
  DataDirLockedError,
  holdsLease,
  insertDeployment,
  insertEnvironment,
  insertModel,
  insertPromotion,
  MIGRATIONS,
  openStore,
  softDeleteDeployment,
  softDeleteEnvironment,
  softDeleteModelCascade,
  tryAcquireLease,
  type Sql,
} from "../../../engine/store/index.js";
import { createPgliteTemplate, type PgliteTemplate } from "../../support/pglite-template.js";

let template: PgliteTemplate;
beforeAll(async () => {
  template = await createPgliteTemplate();
});
afterAll(async () => {
  await template.cleanup();
});

const at = "2026-01-01T00:00:00.000Z";
const spec = { command: ["node", "x.js"], readiness_path: "/health", predict_path: "/predict", env: {} };

async function withStore<T>(fn: (sql: Sql, dataDir: string) => Promise<T>): Promise<T> {
  const dataDir = await template.freshDataDir();
  const sql = await openStore({ dataDir });
  try {
    return await fn(sql, dataDir);
  } finally {
    await sql.close();
  }
}

async function expectConstraint(promise: Promise<unknown>, constraint: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(databaseErrorFields(error)?.constraint, String(error)).toBe(constraint);
}

async function seedModel(sql: Sql, id = "mdl_a") {
  await insertModel(sql, { id, name: `model ${id}`, at });
  const production = await insertEnvironment(sql, {
    id: `env_${id}`,
    modelId: id,
    name: "production",
    autoscalingSettings: { ...AUTOSCALING_DEFAULTS },
    inlinePromotionSettings: defaultPromotionSettings(),
    promotionSettingsId: null,
    at,
  });
  const deployment = await insertDeployment(sql, {
    id: `dep_${id}`,
    modelId: id,
    name: "deployment-1",
    isDevelopment: false,
    spec,
    autoscalingSettings: { ...AUTOSCALING_DEFAULTS },
    status: "DEPLOYING",
    at,
  });
  return { production, deployment };
}

describe("store", () => {
  it("refuses a second engine on the same data dir and takes over a dead one's lock", async () => {
    await withStore(async (_sql, dataDir) => {
      await expect(openStore({ dataDir })).rejects.toBeInstanceOf(DataDirLockedError);
    });
    const dataDir = await template.freshDataDir();
    // pid 2^22+1 is above Linux's default pid_max: never alive
    writeFileSync(join(dataDir, "engine.lock"), "4194305\n");
    const sql = await openStore({ dataDir });
    await sql.close();
  });

  it("migrates idempotently and keeps data across reopen", async () => {
    const dataDir = await template.freshDataDir();
    const first = await openStore({ dataDir });
    await insertModel(first, { id: "mdl_keep", name: "keep", at });
    await first.close();
    const second = await openStore({ dataDir });
    const rows = await second.query<{ name: string }>("SELECT name FROM models");
    const versions = await second.query<{ version: number }>("SELECT version FROM schema_migrations");
    await second.close();
    expect(rows.map((row) => row.name)).toEqual(["keep"]);
    expect(versions).toHaveLength(MIGRATIONS.length);
  });

  it("keeps each model's live deployments and its development deployment on its row, whatever writes them", async () => {
    await withStore(async (sql) => {
      await seedModel(sql, "mdl_a");
      await seedModel(sql, "mdl_b");
      const deploy = (id: string, modelId: string, name: string) =>
        insertDeployment(sql, { id, modelId, name, isDevelopment: name === "development", spec, autoscalingSettings: { ...AUTOSCALING_DEFAULTS }, status: "DEPLOYING", at });
      await deploy("dep_a2", "mdl_a", "deployment-2");
      await deploy("dep_a_dev", "mdl_a", "development");
      const summary = async (id: string) =>
        (await sql.query<{ deployments_count: number; development_deployment_id: string | null }>(
          "SELECT deployments_count, development_deployment_id FROM models WHERE id = $1",
          [id],
        ))[0];
      expect(await summary("mdl_a")).toEqual({ deployments_count: 3, development_deployment_id: "dep_a_dev" });
      expect(await summary("mdl_b")).toEqual({ deployments_count: 1, development_deployment_id: null });
      // a soft delete counts once, however often deleted_at is written; a restored row counts again
      await softDeleteDeployment(sql, "dep_a_dev", at);
      await softDeleteDeployment(sql, "dep_a_dev", at);
      await sql.query("UPDATE deployments SET status = 'ACTIVE' WHERE id = 'dep_a2'");
      expect(await summary("mdl_a")).toEqual({ deployments_count: 2, development_deployment_id: null });
      await sql.query("UPDATE deployments SET deleted_at = NULL WHERE id = 'dep_a_dev'");
      expect(await summary("mdl_a")).toEqual({ deployments_count: 3, development_deployment_id: "dep_a_dev" });
      // the same figures the rows give, after a model's cascade too
      await softDeleteModelCascade(sql, "mdl_b", at);
      const counted = await sql.query<{ id: string; counted: number; kept: number }>(
        `SELECT models.id, models.deployments_count AS kept,
           (SELECT count(*)::int FROM deployments WHERE model_id = models.id AND deleted_at IS NULL) AS counted FROM models ORDER BY id`,
      );
      expect(counted).toEqual([
        { id: "mdl_a", kept: 3, counted: 3 },
        { id: "mdl_b", kept: 0, counted: 0 },
      ]);
    });
  });

  it("enforces names, development and production rules in the database", async () => {
    await withStore(async (sql) => {
      const { production } = await seedModel(sql);
      await expectConstraint(insertModel(sql, { id: "mdl_b", name: "model mdl_a", at }), "models_name_live");
      await expectConstraint(
        insertDeployment(sql, {
          id: "dep_2",
          modelId: "mdl_a",
          name: "deployment-1",
          isDevelopment: false,
          spec,
          autoscalingSettings: { ...AUTOSCALING_DEFAULTS },
          status: "DEPLOYING",
          at,
        }),
        "deployments_name_live",
      );
      await expectConstraint(
        insertEnvironment(sql, {
          id: "env_2",
          modelId: "mdl_a",
          name: "production",
          autoscalingSettings: { ...AUTOSCALING_DEFAULTS },
          inlinePromotionSettings: defaultPromotionSettings(),
          promotionSettingsId: null,
          at,
        }),
        "environments_name_live",
      );
      await expectConstraint(softDeleteEnvironment(sql, production.id, at), "environments_keep_production");
      // the whole model may go, production included; then its names are free again
      await softDeleteModelCascade(sql, "mdl_a", at);
      await insertModel(sql, { id: "mdl_c", name: "model mdl_a", at });
    });
  });

  it("allows one in-progress promotion per environment and compare-and-sets its state", async () => {
    await withStore(async (sql) => {
      const { production, deployment } = await seedModel(sql);
      const newPromotion = (id: string) => ({
        id,
        modelId: "mdl_a",
        environmentId: production.id,
        environmentName: "production",
        deploymentId: deployment.id,
        previousDeploymentId: null,
        kind: "INSTANT" as const,
        status: "RELEASING" as const,
        totalSteps: 1,
        phase: "starting",
        replicas: { previous: { desired: 0, ready: 0 }, candidate: { desired: 1, ready: 0 } },
        settings: defaultPromotionSettings(),
        plannerState: { step: 0 },
        timeoutSeconds: null,
        at,
      });
      const first = await insertPromotion(sql, newPromotion("pro_1"));
      await expectConstraint(insertPromotion(sql, newPromotion("pro_2")), "promotions_one_in_progress");
      const moved = await compareAndSetPromotion(sql, first.id, first.version, { status: "RAMPING_UP" }, at);
      expect(moved?.version).toBe(first.version + 1);
      expect(await compareAndSetPromotion(sql, first.id, first.version, { status: "PAUSED" }, at)).toBeUndefined();
      await compareAndSetPromotion(sql, first.id, moved!.version, { status: "SUCCEEDED", finishedAt: at }, at);
      await insertPromotion(sql, newPromotion("pro_3"));
    });
  });

  it("leases: one holder at a time, epoch bumps on takeover", async () => {
    await withStore(async (sql) => {
      const now = new Date("2026-01-01T00:00:00Z");
      const epochA = await tryAcquireLease(sql, { name: "reconciler", holder: "a", ttlMs: 1000, now });
      expect(epochA).toBe(1);
      expect(await tryAcquireLease(sql, { name: "reconciler", holder: "b", ttlMs: 1000, now })).toBeUndefined();
      expect(await tryAcquireLease(sql, { name: "reconciler", holder: "a", ttlMs: 1000, now })).toBe(1);
      const later = new Date(now.getTime() + 5000);
      expect(await tryAcquireLease(sql, { name: "reconciler", holder: "b", ttlMs: 1000, now: later })).toBe(2);
      expect(await holdsLease(sql, "reconciler", "a", 1)).toBe(false);
    });
  });
});
