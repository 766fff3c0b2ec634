/**
 * A change event's sync of one deployment reads what it needs in one statement (issue 14: read one
 * by one, ~10 statements a sync queued behind every other on PGlite's one session, and 100
 * promotions starting together held every API write ~2 s). Its slice of the store
 * (readDeploymentSlice) must answer as the resync's bulk snapshot does for the same state — same
 * rows (timestamps as Dates), orders, decryption and merge of variables — so a set's spec and
 * revision are the same whichever path built it: variables, a secret, a workspace environment whose
 * variable the model's own overrides and whose named settings it inherits, a named promotion
 * settings object, a candidate set during an in-progress promotion, a kept set.
 */
import { describe, expect, it } from "vitest";
import type { Leadership } from "../../../engine/control/control-lease.js";
import { loadStoreSnapshot, StoreSnapshot } from "../../../engine/control/store-snapshot.js";
import { createPromotionExecutor } from "../../../engine/promotions/executor.js";
import { replicaSetId } from "../../../engine/runtime/runtime.js";
import { ControlPlane } from "../../../engine/service/control-plane.js";
import { readDeploymentSlice } from "../../../engine/store/control-snapshot.js";
import type { Sql } from "../../../engine/store/sql.js";
import { controlEngineOn } from "../../support/control-engine.js";
import { pgliteStoreForFile } from "../../support/pglite-store-for-file.js";
import { describeOnPostgres } from "../../support/postgres-store-for-file.js";
import { loggingStatements } from "../../support/statement-log.js";

const FOLLOWING: Leadership = { isLeader: () => false, fence: () => undefined };
const ENVIRONMENTS = ["production", "staging", "qa"];

const pglite = pgliteStoreForFile();

type Layout = { modelId: string; otherModelId: string; deployments: Record<string, string> };

/**
 * A workspace environment qa (variables, a secret, a named settings object its environments
 * inherit); model m: production (a secret, a variable, a named settings object) served by serving,
 * staging by staging, qa (REGION overridden by the model's own) by qa, an in-progress promotion of
 * candidate into production, kept's staging set kept warm, a deleted deployment, a development
 * deployment; another model beside it.
 */
async function populate(sql: Sql): Promise<Layout> {
  const service = new ControlPlane({ sql, promotionExecutor: createPromotionExecutor({ currentReplicas: () => 1, readyReplicas: () => 0 }) });
  const careful = await service.createPromotionSettings({ name: "careful", rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 25 } } as never);
  const workspaceSettings = await service.createPromotionSettings({ name: "qa-settings", rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 40 } } as never);
  await service.createWorkspaceEnvironment({ name: "qa", variables: { QA_LEVEL: "3", REGION: "eu" }, secrets: { QA_TOKEN: "qa-secret" }, promotion_settings_id: workspaceSettings.id });
  const model = await service.createModel({ name: "m" });
  await service.createEnvironment(model.id, { name: "staging" });
  await service.putVariable(model.id, "production", "API_TOKEN", { value: "prod-token", secret: true });
  await service.putVariable(model.id, "production", "LOG_LEVEL", { value: "info", secret: false });
  await service.putVariable(model.id, "staging", "API_TOKEN", { value: "staging-token", secret: true });
  await service.putVariable(model.id, "qa", "REGION", { value: "us", secret: false });
  await service.patchEnvironment(model.id, "production", { promotion_settings_id: careful.id } as never);
  const deployments: Record<string, string> = {};
  for (const name of ["serving", "staging", "qa", "candidate", "kept", "deleted"]) {
    deployments[name] = (await service.createDeployment(model.id, { name, command: ["model", name], env: { WHO: name } } as never)).id;
  }
  for (const [environment, deployment] of [["production", "serving"], ["staging", "staging"], ["qa", "qa"]] as const) {
    await sql.query("UPDATE environments SET current_deployment_id = $3 WHERE model_id = $1 AND name = $2", [model.id, environment, deployments[deployment]!]);
  }
  await service.promote(model.id, "production", { deployment_id: deployments.candidate! });
  await sql.query("INSERT INTO replica_sets (id, deployment_id, environment, role, desired, updated_at) VALUES ($1, $2, 'staging', 'kept', 2, now())", [
    replicaSetId(deployments.kept!, "staging"),
    deployments.kept!,
  ]);
  await service.deleteDeployment(model.id, deployments.deleted!);
  deployments.development = (await service.putDevelopmentDeployment(model.id, { command: ["model", "dev"] } as never)).deployment.id;
  const other = await service.createModel({ name: "other" });
  deployments.other = (await service.createDeployment(other.id, { command: ["other"] } as never)).id;
  await sql.query("UPDATE environments SET current_deployment_id = $2 WHERE model_id = $1 AND name = 'production'", [other.id, deployments.other]);
  await service.putVariable(other.id, "production", "LOG_LEVEL", { value: "debug", secret: false });
  return { modelId: model.id, otherModelId: other.id, deployments };
}

/** Everything a sync of `deploymentId` asks, as `reads` answers it. */
async function answers(reads: StoreSnapshot, deploymentId: string, modelIds: string[]) {
  const environments: Record<string, unknown> = {};
  for (const modelId of modelIds) {
    for (const name of ENVIRONMENTS) {
      const environment = await reads.environment(modelId, name);
      environments[`${modelId}/${name}`] = environment && {
        row: environment,
        variables: await reads.variablesOf(environment),
        settings: await reads.promotionSettingsOf(environment),
      };
    }
  }
  return {
    deployment: await reads.deployment(deploymentId),
    modelNames: await Promise.all(modelIds.map((id) => reads.modelName(id))),
    serving: await reads.environmentsServing(deploymentId),
    promotedInto: await reads.environmentsPromotedInto(deploymentId),
    replicaSets: await reads.replicaSetsOf(deploymentId),
    environments,
  };
}

/** A copy without the rows' versions (the bulk snapshot's rows carry them, a slice's do not: see Versioned). */
function withoutRowVersions<T>(value: T): T {
  const copy = structuredClone(value);
  const strip = (node: unknown): void => {
    if (node === null || typeof node !== "object" || node instanceof Date) return;
    if (!Array.isArray(node)) delete (node as { row_version?: string }).row_version;
    for (const child of Object.values(node)) strip(child);
  };
  strip(copy);
  return copy;
}

/** The same on both stores: inside JSON the drivers give what a top-level column would not (timestamps as text). */
function describeSlice(storeName: string, store: () => Sql): void {
  let layout: Promise<Layout> | undefined;
  const populated = () => (layout ??= populate(store()));
  describe(`deployment controller: a deployment's slice of the store (${storeName})`, () => {
    it("answers every read of a sync as the resync's bulk snapshot does", async () => {
      const { modelId, otherModelId, deployments } = await populated();
      const bulk = await loadStoreSnapshot(store());
      for (const [name, deploymentId] of Object.entries(deployments)) {
        // (not live: its sync asks nothing more, see below)
        if (name === "deleted") continue;
        const slice = new StoreSnapshot(await readDeploymentSlice(store(), [deploymentId]), store());
        const ofModel = name === "other" ? [otherModelId] : [modelId];
        expect(await answers(slice, deploymentId, ofModel), name).toEqual(withoutRowVersions(await answers(bulk, deploymentId, ofModel)));
      }
      // several deployments' slice (of two models: what a sync of a few reads) answers for each as the bulk does
      const together = new StoreSnapshot(await readDeploymentSlice(store(), Object.values(deployments)), store());
      for (const [name, deploymentId] of Object.entries(deployments)) {
        if (name === "deleted") continue;
        const ofModel = name === "other" ? [otherModelId] : [modelId];
        expect(await answers(together, deploymentId, ofModel), `${name}, read with the others`).toEqual(withoutRowVersions(await answers(bulk, deploymentId, ofModel)));
      }
      // what the comparison covered: timestamps as Dates, the candidate, the kept row, the merged variables and inherited settings
      const slice = new StoreSnapshot(await readDeploymentSlice(store(), [deployments.qa!]), store());
      const qa = (await slice.environment(modelId, "qa"))!;
      expect(qa.created_at).toBeInstanceOf(Date);
      expect((await slice.deployment(deployments.qa!))!.updated_at).toBeInstanceOf(Date);
      expect(await slice.variablesOf(qa)).toEqual([
        { name: "QA_LEVEL", value: "3", secret: false, source: "workspace" },
        { name: "QA_TOKEN", value: "qa-secret", secret: true, source: "workspace" },
        { name: "REGION", value: "us", secret: false, source: "model" },
      ]);
      expect((await slice.promotionSettingsOf(qa)).rolling_deploy_config.max_surge_percent).toBe(40);
      const candidate = new StoreSnapshot(await readDeploymentSlice(store(), [deployments.candidate!]), store());
      expect((await candidate.environmentsPromotedInto(deployments.candidate!)).map((environment) => environment.name)).toEqual(["production"]);
      const kept = new StoreSnapshot(await readDeploymentSlice(store(), [deployments.kept!]), store());
      expect(await kept.replicaSetsOf(deployments.kept!)).toMatchObject([{ environment: "staging", role: "kept", desired: 2 }]);
      // a deployment that is not live: nothing (its sync forgets it)
      expect(await readDeploymentSlice(store(), [deployments.deleted!])).toMatchObject({ deployments: [], models: [], replicaSets: [] });
    });

    it("a deployment's sync is one statement, and declares the same specs and revisions as a resync from the bulk snapshot", async () => {
      const { deployments } = await populated();
      const log = loggingStatements(store());
      const oneByOne = controlEngineOn(log.sql, { leadership: FOLLOWING });
      const resynced = controlEngineOn(store(), { leadership: FOLLOWING });
      try {
        for (const [name, deploymentId] of Object.entries(deployments)) {
          const from = log.statements.length;
          await oneByOne.controller.syncDeployment(deploymentId);
          expect(log.statements.slice(from), name).toHaveLength(1);
        }
        await resynced.controller.resync();
        expect(Object.fromEntries(oneByOne.runtime.specs)).toEqual(Object.fromEntries(resynced.runtime.specs));
        // synced together (a promotion's end syncs both its deployments): one statement, the same sets
        const together = controlEngineOn(log.sql, { leadership: FOLLOWING });
        try {
          const from = log.statements.length;
          await together.controller.syncDeployments(Object.values(deployments));
          expect(log.statements.slice(from)).toHaveLength(1);
          expect(Object.fromEntries(together.runtime.specs)).toEqual(Object.fromEntries(resynced.runtime.specs));
          expect(together.runtime.desiredSnapshot()).toEqual(resynced.runtime.desiredSnapshot());
          expect(together.log).toEqual([]);
        } finally {
          await together.close();
        }
        expect(oneByOne.runtime.desiredSnapshot()).toEqual(resynced.runtime.desiredSnapshot());
        expect(oneByOne.log).toEqual([]);
        expect(resynced.log).toEqual([]);

        // every kind of set was compared
        const spec = (deployment: string, environment: string | null) => oneByOne.runtime.specs.get(replicaSetId(deployments[deployment]!, environment));
        expect(spec("serving", "production")).toMatchObject({ env: { LOG_LEVEL: "info", ENVIRONMENT: "production" }, secrets: { API_TOKEN: "prod-token" }, maxSurgePercent: 25 });
        expect(spec("candidate", "production")).toMatchObject({ secrets: { API_TOKEN: "prod-token" }, maxSurgePercent: 25 });
        expect(spec("candidate", "production")!.revision.split(".")[1]).toBe(spec("serving", "production")!.revision.split(".")[1]);
        expect(spec("qa", "qa")).toMatchObject({ env: { QA_LEVEL: "3", REGION: "us", ENVIRONMENT: "qa" }, secrets: { QA_TOKEN: "qa-secret" }, maxSurgePercent: 40 });
        expect(spec("kept", "staging")).toMatchObject({ env: { ENVIRONMENT: "staging" }, secrets: { API_TOKEN: "staging-token" } });
        expect(spec("deleted", null)).toBeUndefined();
      } finally {
        await oneByOne.close();
        await resynced.close();
      }
    });

    it("as the leader, a sync reads one statement; what it then writes (counts, observation) it decides without reading", async () => {
      const { deployments } = await populated();
      const log = loggingStatements(store());
      const leader = controlEngineOn(log.sql);
      try {
        for (const name of ["serving", "candidate", "kept", "qa"]) await leader.controller.syncDeployment(deployments[name]!);
        await leader.controller.close();
        // (the observation writes start with a WITH too: writes)
        expect(log.statements.filter((text) => /^(WITH|SELECT)\b/.test(text) && !text.startsWith("WITH observation AS"))).toHaveLength(4);
        expect(log.count(/^INSERT INTO replica_sets/)).toBeGreaterThan(0);
      } finally {
        await leader.close();
      }
    });
  });
}

describeSlice("PGlite", pglite);

describeOnPostgres("PostgreSQL 15", (store) => describeSlice("PostgreSQL 15", store));
