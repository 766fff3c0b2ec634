/**
 * A resync reads the store in a handful of bulk statements (engine/control/store-snapshot.ts) and
 * converges exactly as syncing every deployment one by one from live reads did (issue 14: ~9
 * statements a deployment made a resync at 10,000 deployments hold the controller's queue for
 * seconds and API p99 rose to 1.3–3.0 s). One populated store is copied twice: on one copy an
 * engine resyncs, on the other it syncs each deployment and model as the old resync did; both must
 * declare the same sets, specs and counts, route the same, and store the same rows — as the leader
 * at start (restore), and as followers reading the leader's counts.
 */
import { cp } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Leadership } from "../../../engine/control/control-lease.js";
import { createPromotionExecutor } from "../../../engine/promotions/executor.js";
import { replicaSetId } from "../../../engine/runtime/runtime.js";
import { ControlPlane } from "../../../engine/service/control-plane.js";
import { openStore } from "../../../engine/store/open-store.js";
import type { Sql } from "../../../engine/store/sql.js";
import { instrumentSql } from "../../../bench/scale/counting-sql.js";
import { controlEngineOn, type ControlEngine } from "../../support/control-engine.js";
import { createPgliteTemplate, type PgliteTemplate } from "../../support/pglite-template.js";

const MODELS = 50;
const DEPLOYMENTS_PER_MODEL = 10;
/** Statements of one resync whatever the number of deployments: the snapshot's 10 (SET TRANSACTION
 * and 9 reads; the wrapper does not see BEGIN and COMMIT) and the routes' 1, with some room. */
const RESYNC_STATEMENTS_MAX = 14;

const FOLLOWING: Leadership = { isLeader: () => false, fence: () => undefined };

let template: PgliteTemplate;
let populated: string;
/** deployment ids, model ids and environment names of the populated store */
let layout: { models: string[]; deployments: string[]; environments: string[] };

beforeAll(async () => {
  template = await createPgliteTemplate();
  populated = await template.freshDataDir();
  const store = await openStore({ dataDir: populated });
  try {
    layout = await populate(store);
  } finally {
    await store.close();
  }
}, 300_000);
afterAll(async () => {
  await template?.cleanup();
});

/**
 * 50 models × 10 deployments, with every kind of set: each model's production (a secret and a
 * variable, some with named promotion settings) and staging served, a workspace environment (qa:
 * its variables and a secret, one overridden by the model's own) served, an in-progress promotion
 * into production, a set kept warm after a KEEP cleanup, an inactive deployment, a development
 * deployment, shadows and header routing on some environments.
 */
async function populate(sql: Sql): Promise<typeof layout> {
  const service = new ControlPlane({ sql, promotionExecutor: createPromotionExecutor({ currentReplicas: () => 1, readyReplicas: () => 0 }) });
  await service.createWorkspaceEnvironment({ name: "qa", variables: { QA_LEVEL: "3", REGION: "eu" }, secrets: { QA_TOKEN: "qa-secret" } } as never);
  const settings = await service.createPromotionSettings({ name: "careful", rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 25 } } as never);
  const models: string[] = [];
  const deployments: string[] = [];
  for (let m = 0; m < MODELS; m++) {
    const model = await service.createModel({ name: `model-${m}` });
    models.push(model.id);
    await service.createEnvironment(model.id, { name: "staging" });
    await service.putVariable(model.id, "production", "API_TOKEN", { value: `prod-${m}`, secret: true });
    await service.putVariable(model.id, "production", "LOG_LEVEL", { value: m % 2 === 0 ? "info" : "debug", secret: false });
    await service.putVariable(model.id, "staging", "API_TOKEN", { value: `staging-${m}`, secret: true });
    if (m % 3 === 0) await service.putVariable(model.id, "qa", "REGION", { value: "us", secret: false });
    if (m % 4 === 0) await service.patchEnvironment(model.id, "production", { promotion_settings_id: settings.id } as never);
    if (m % 5 === 0) await service.patchEnvironment(model.id, "staging", { autoscaling_settings: { min_replica: 2, max_replica: 4 } } as never);
    const ids: string[] = [];
    for (let d = 0; d < DEPLOYMENTS_PER_MODEL; d++) {
      const deployment = await service.createDeployment(model.id, { command: ["model", String(d)], env: { N: String(d) } } as never);
      ids.push(deployment.id);
    }
    deployments.push(...ids);
    // serving: production ← 0, staging ← 1, qa ← 2 (as a finished promotion leaves them)
    for (const [name, deploymentId] of [["production", ids[0]], ["staging", ids[1]], ["qa", ids[2]]] as const) {
      await sql.query("UPDATE environments SET current_deployment_id = $3 WHERE model_id = $1 AND name = $2", [model.id, name, deploymentId!]);
    }
    // an in-progress promotion of 3 into production (half the models)
    if (m % 2 === 0) await service.promote(model.id, "production", { deployment_id: ids[3]! });
    // 4's staging set kept warm by a KEEP cleanup, 2 replicas
    if (m % 3 === 1) {
      await sql.query("INSERT INTO replica_sets (id, deployment_id, environment, role, desired, updated_at) VALUES ($1, $2, 'staging', 'kept', 2, now())", [
        replicaSetId(ids[4]!, "staging"),
        ids[4]!,
      ]);
    }
    if (m % 7 === 0) await service.deactivateDeployment(model.id, ids[5]!);
    if (m % 6 === 0) {
      const development = await service.putDevelopmentDeployment(model.id, { command: ["model", "dev"] } as never);
      deployments.push(development.deployment.id);
    }
    if (m % 4 === 1) {
      await sql.query(`UPDATE environments SET shadow = $2::jsonb WHERE model_id = $1 AND name = 'production'`, [
        model.id,
        JSON.stringify({ deployment: ids[6], percent: 10, max_body_bytes: 65536, keep_bodies: false, mirror_non_idempotent: false, max_concurrency: 8, max_queue: 64, timeout_ms: 10000 }),
      ]);
    }
  }
  return { models, deployments, environments: ["production", "staging", "qa"] };
}

/** A copy of the populated store, opened. */
async function copyOfPopulated(): Promise<Sql> {
  const dir = await template.freshDataDir();
  await cp(populated, dir, { recursive: true, force: true });
  return openStore({ dataDir: dir });
}


/** The old resync: every live deployment synced from live reads, then every live model's routes. */
async function syncOneByOne(sql: Sql, engine: ControlEngine, restore: boolean): Promise<void> {
  for (const row of await sql.query<{ id: string; replicas_desired: number }>("SELECT id, replicas_desired FROM deployments WHERE deleted_at IS NULL ORDER BY created_at, id")) {
    await engine.controller.syncDeployment(row.id, restore ? { restoreReplicas: row.replicas_desired } : {});
  }
  for (const model of await sql.query<{ id: string }>("SELECT id FROM models WHERE deleted_at IS NULL")) await engine.controller.syncModel(model.id, { deploymentsSynced: true });
}

/** Everything an engine converged to: declared sets (spec and count), router table, controller's view. */
function convergedState(engine: ControlEngine) {
  const desired = engine.runtime.desiredSnapshot();
  const sets = Object.fromEntries(
    Object.keys(desired)
      .sort()
      .map((id) => [id, { replicas: desired[id], spec: engine.runtime.specs.get(id), controller: engine.controller.specOf(id), owner: engine.controller.desiredReplicas(id) }]),
  );
  const routes: Record<string, unknown> = {};
  for (const modelId of layout.models) {
    for (const name of layout.environments) {
      routes[`${modelId}/${name}`] = { route: engine.table.environment(modelId, name), shadow: engine.table.shadow(modelId, name)?.settings, header: engine.table.headerRouting(modelId, name) };
    }
  }
  const deployments: Record<string, unknown> = {};
  for (const modelId of layout.models) for (const id of layout.deployments) if (engine.table.deployment(modelId, id)) deployments[id] = engine.table.deployment(modelId, id);
  return { sets, routes, deployments, modelIds: engine.table.modelIds().sort() };
}

async function storedState(sql: Sql) {
  return {
    replicaSets: await sql.query("SELECT id, deployment_id, environment, role, desired FROM replica_sets ORDER BY id"),
    deployments: await sql.query("SELECT id, status, replicas_desired, replicas_ready, replicas_starting, error_message FROM deployments ORDER BY id"),
  };
}

describe("deployment controller: a resync from one snapshot", () => {
  it("at 500 deployments runs a bounded number of statements and converges as syncing each deployment did, as the starting leader and as followers", async () => {
    const [storeA, storeB] = [await copyOfPopulated(), await copyOfPopulated()];
    const counting = instrumentSql(storeA);
    try {
      // The leader at engine start (restore), on each copy.
      const snapshotLeader = controlEngineOn(storeA);
      const oneByOneLeader = controlEngineOn(storeB);
      await snapshotLeader.controller.resync({ restore: true });
      await syncOneByOne(storeB, oneByOneLeader, true);
      const leaderState = convergedState(snapshotLeader);
      expect(Object.keys(leaderState.sets).length).toBeGreaterThan(layout.deployments.length);
      expect(leaderState).toEqual(convergedState(oneByOneLeader));
      expect(snapshotLeader.log).toEqual(oneByOneLeader.log);
      // every kind of set is there: environments' (variables, workspace, secrets), candidates, kept, own
      const specs = Object.values(leaderState.sets).map((set) => set.spec!);
      expect(specs.some((spec) => spec.env.ENVIRONMENT === "qa" && spec.env.QA_LEVEL === "3" && spec.secrets.QA_TOKEN === "qa-secret")).toBe(true);
      expect(specs.some((spec) => spec.env.ENVIRONMENT === "qa" && spec.env.REGION === "us")).toBe(true);
      expect(specs.some((spec) => spec.maxSurgePercent === 25)).toBe(true);
      expect(Object.entries(leaderState.sets).some(([id, set]) => id.endsWith(".staging") && set.replicas === 2 && set.spec!.owner.deploymentName === "deployment-5")).toBe(true);

      // What the leaders wrote (counts, observations) once their writes are done.
      await snapshotLeader.close();
      await oneByOneLeader.close();
      const storedA = await storedState(storeA);
      expect(storedA.replicaSets.length).toBeGreaterThan(layout.deployments.length);
      expect(storedA).toEqual(await storedState(storeB));

      // A leader starting on a store that already says what it runs (rows, observations) reads the
      // snapshot and the routes and writes nothing; nor does its next resync.
      const restarted = controlEngineOn(storeA);
      counting.reset();
      await restarted.controller.resync({ restore: true });
      await restarted.controller.resync();
      await restarted.close();
      expect(counting.counts().queries, JSON.stringify([...counting.counts().byShape])).toBeLessThanOrEqual(2 * RESYNC_STATEMENTS_MAX);

      // Followers run the counts the leader stored: the same from a snapshot as one by one. A
      // follower writes nothing: its resync is the snapshot and the routes, not a statement a deployment.
      let takenOver = false;
      const snapshotFollower = controlEngineOn(storeA, { leadership: { isLeader: () => takenOver, fence: () => undefined } });
      const oneByOneFollower = controlEngineOn(storeA, { leadership: FOLLOWING });
      counting.reset();
      await snapshotFollower.controller.resync();
      const snapshotStatements = counting.counts().queries;
      counting.reset();
      await syncOneByOne(storeA, oneByOneFollower, false);
      const oneByOneStatements = counting.counts().queries;
      console.log(`resync of ${layout.deployments.length} deployments (follower, PGlite): ${snapshotStatements} statements from a snapshot, ${oneByOneStatements} one by one`);
      expect(snapshotStatements).toBeLessThanOrEqual(RESYNC_STATEMENTS_MAX);
      // (one by one: a statement a deployment, its slice — ~9 before it was read in one)
      expect(oneByOneStatements).toBeGreaterThanOrEqual(layout.deployments.length);
      const followerState = convergedState(snapshotFollower);
      expect(followerState).toEqual(convergedState(oneByOneFollower));
      expect(followerState.sets).toEqual(leaderState.sets);

      // The follower takes the lead over a store that says what it runs: it checks every set's
      // count and every deployment's observation against the snapshot and writes nothing.
      takenOver = true;
      counting.reset();
      await snapshotFollower.controller.leadershipChanged(true);
      await snapshotFollower.close();
      expect(counting.counts().queries, JSON.stringify([...counting.counts().byShape])).toBeLessThanOrEqual(RESYNC_STATEMENTS_MAX);
      await oneByOneFollower.close();
    } finally {
      await storeA.close();
      await storeB.close();
    }
  });
});
