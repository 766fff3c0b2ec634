/**
 * Replica sets per environment with two engines on one PostgreSQL (issue 14): engine A leads (it
 * writes each set's desired count), engine B follows — it runs its own replica processes at the
 * counts A stored, and answers every environment's traffic from them. Both engines run in this
 * process, so the test reads B's runtime; their replicas are test/support/replicas/env-echo-server.js,
 * which say on every answer which ENVIRONMENT and which secret (its sha256) they hold and their pid.
 *
 * - a deployment promoted through A into its first environment: B runs that environment's set at
 *   the stored count and answers predict on it from its own replica, ENVIRONMENT=production;
 * - a second environment added later and promoted through A: the same;
 * - an environment's secret changed through A: B's replicas of that environment roll onto it, and
 *   each environment's answers through B come from replicas holding its own value;
 * - a set B cannot build (its secret fails its integrity check) does not keep B from the others;
 * - B started with a secret key of its own (how issue 14's reproduction ran: B could not decrypt
 *   the secrets A wrote, so it never built their sets) stops at start, naming both keys.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { replicaSetId } from "../../engine/runtime/runtime.js";
import { startTestEngine, waitFor, waitForPromotion, type TestEngine } from "../../testing/index.js";
import { checkedLoad, ECHO_COMMAND as ECHO, sha256, type Identity } from "../support/checked-load.js";
import { enginesOnPostgres } from "../support/engines-on-postgres.js";
import { ENGINE_OPTIONS, predict } from "./promotion-support.js";

/** B's periodic resync is left at a minute: what B does within the deadlines below, it does on A's notifications. */
const FOLLOWER_RESYNC_MS = 60_000;
/** How long B may take to serve an environment A promoted a deployment into: a replica start (~1 s) and margin. */
const FOLLOW_DEADLINE_MS = 10_000;

const bed = enginesOnPostgres("sets-multi");

async function startEngineOn(databaseUrl: string, name: string, storeResyncMs?: number, log?: string[]): Promise<TestEngine> {
  return bed.startEngine(databaseUrl, name, { ...ENGINE_OPTIONS, ...(log ? { log: (line: string) => log.push(line) } : {}), promotionLeaseTtlMs: 3_000, ...(storeResyncMs !== undefined ? { storeResyncMs } : {}) });
}

/** A predict answer's identity (undefined unless 200). */
async function identityAt(url: string, apiKey: string): Promise<Identity | undefined> {
  const answer = await predict(url, {}, apiKey);
  return answer.status === 200 ? (answer.body as unknown as Identity) : undefined;
}

/**
 * The process group of an answering replica's process (Linux): the process runtime starts each
 * replica in a group of its own (behind its orphan guard), and reports that group's id as the pid.
 */
function processGroupOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // pid (comm) state ppid pgrp …: comm may hold spaces, so count from its closing parenthesis
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
}

/** The process groups of a set's ready replicas in an engine's runtime. */
function readyPids(engine: TestEngine, deploymentId: string, environment: string): number[] {
  return engine.engine.dataPlane.runtime
    .observe(replicaSetId(deploymentId, environment))
    .replicas.filter((replica) => replica.state === "ready")
    .map((replica) => replica.pid ?? -1);
}

async function storedDesired(engine: TestEngine, deploymentId: string, environment: string): Promise<number | undefined> {
  const [row] = await engine.engine.store.query<{ desired: number }>("SELECT desired FROM replica_sets WHERE id = $1", [replicaSetId(deploymentId, environment)]);
  return row?.desired;
}

async function promoteThrough(engine: TestEngine, modelId: string, environment: string, deploymentId: string): Promise<void> {
  const promotion = await engine.client.call("promote", { params: { model_id: modelId, env_name: environment }, body: { deployment_id: deploymentId } });
  const final = await waitForPromotion(engine.client, { modelId, environment, promotionId: promotion.id }, { deadline: Date.now() + 60_000 });
  expect(final.status).toBe("SUCCEEDED");
}

/**
 * Until B answers `environment` from a replica of its own set for it with `secret`: how long that took.
 * B's replicas are told from A's by pid (each engine starts its own processes).
 */
async function followerServes(b: TestEngine, modelId: string, deploymentId: string, environment: string, secret: string, from: number): Promise<number> {
  const url = `${b.url}/models/${modelId}/environments/${environment}/predict`;
  let last = "no answer";
  await waitFor(async () => {
    const answer = await predict(url, {}, b.apiKey);
    const identity = answer.status === 200 ? (answer.body as unknown as Identity) : undefined;
    last = `${answer.status} ${JSON.stringify(answer.body)}; B's ready process groups ${JSON.stringify(readyPids(b, deploymentId, environment))}`;
    return identity !== undefined && identity.environment === environment && identity.secret_sha256 === sha256(secret) && readyPids(b, deploymentId, environment).includes(processGroupOf(identity.pid));
  }, { timeoutMs: FOLLOW_DEADLINE_MS, intervalMs: 20 }).catch((error: unknown) => {
    throw new Error(`B did not answer ${environment} from its own replica holding its secret within ${FOLLOW_DEADLINE_MS} ms (last answer: ${last})`, { cause: error });
  });
  return Date.now() - from;
}

describe.skipIf(bed.skipReason !== undefined)("replica sets per environment, two engines on one PostgreSQL", () => {
  it("B runs each environment's set at A's stored count and serves it from its own replicas: first environment, one added later, a secret change", { timeout: 240_000 }, async () => {
    const databaseUrl = await bed.database("sets_multi");
    const a = await startEngineOn(databaseUrl, "a");
    const b = await startEngineOn(databaseUrl, "b", FOLLOWER_RESYNC_MS);
    expect(a.engine.dataPlane.leadership.isLeader()).toBe(true);
    expect(b.engine.dataPlane.leadership.isLeader()).toBe(false);
    const figures: string[] = [];

    // 1. The model's first environment: production, promoted into through A.
    const model = await a.client.call("createModel", { body: { name: "follower-sets" } });
    const secrets: Record<string, string> = { production: `s-prod-${Math.random()}`, staging: `s-staging-${Math.random()}` };
    const production = { model_id: model.id, env_name: "production" };
    // Two production replicas rolled one at a time (surge 50 %, none unavailable): B's roll is a rolling one.
    await a.client.call("patchEnvironment", {
      params: production,
      body: {
        autoscaling_settings: { min_replica: 2, max_replica: 2 },
        promotion_settings: { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 50, max_unavailable_percent: 0, stabilization_time_seconds: 1 } },
      },
    });
    await a.client.call("putVariable", { params: { ...production, name: "API_TOKEN" }, body: { value: secrets.production!, secret: true } });
    const v1 = await a.client.call("createDeployment", { params: { model_id: model.id }, body: { command: ECHO, env: { ECHO_VERSION: "v1" } } });
    await promoteThrough(a, model.id, "production", v1.id);
    const promotedAt = Date.now();
    const stored = await storedDesired(a, v1.id, "production");
    expect(stored).toBe(2);
    const productionMs = await followerServes(b, model.id, v1.id, "production", secrets.production!, promotedAt);
    expect(b.engine.dataPlane.controller.setsOf(v1.id)).toContain(replicaSetId(v1.id, "production"));
    await waitFor(() => {
      const observed = b.engine.dataPlane.runtime.observe(replicaSetId(v1.id, "production"));
      return observed.desired === stored && observed.ready === stored;
    }, { timeoutMs: FOLLOW_DEADLINE_MS, intervalMs: 20, message: `B running production's set at the stored ${stored} replicas, all ready` });
    figures.push(`B served production ${productionMs} ms after A's promotion succeeded and ran its ${stored} stored replicas, ready, ${Date.now() - promotedAt} ms after`);

    // 2. A second environment, added later and promoted into through A.
    await a.client.call("createEnvironment", { params: { model_id: model.id }, body: { name: "staging" } });
    const staging = { model_id: model.id, env_name: "staging" };
    await a.client.call("putVariable", { params: { ...staging, name: "API_TOKEN" }, body: { value: secrets.staging!, secret: true } });
    await promoteThrough(a, model.id, "staging", v1.id);
    const stagingPromotedAt = Date.now();
    const stagingMs = await followerServes(b, model.id, v1.id, "staging", secrets.staging!, stagingPromotedAt);
    expect(b.engine.dataPlane.runtime.observe(replicaSetId(v1.id, "staging")).desired).toBe(await storedDesired(a, v1.id, "staging"));
    figures.push(`B served staging ${stagingMs} ms after A's promotion succeeded`);

    // 3. Production's secret changed through A, under load through B on both environments: every
    // production answer comes from a production replica holding the old or the new value (none with
    // the old once B's own rollout says SUCCEEDED), none fails; staging's answers all hold staging's.
    const stagingPids = readyPids(b, v1.id, "staging");
    const oldSecret = sha256(secrets.production!);
    secrets.production = `s-prod-2-${Math.random()}`;
    const newSecret = sha256(secrets.production);
    let changedAt = Number.POSITIVE_INFINITY;
    let firstNewAt: number | undefined;
    let rolledAt = Number.POSITIVE_INFINITY;
    const stale: number[] = [];
    const urlOf = (environment: string) => `${b.url}/models/${model.id}/environments/${environment}/predict`;
    const loads = {
      production: checkedLoad(urlOf("production"), b.apiKey, {
        environment: "production",
        secretSha256: (hash) => {
          if (hash === newSecret) {
            firstNewAt ??= Date.now();
            return true;
          }
          if (hash !== oldSecret) return false;
          if (Date.now() > rolledAt) stale.push(Date.now() - rolledAt);
          return true;
        },
      }),
      staging: checkedLoad(urlOf("staging"), b.apiKey, { environment: "staging", secretSha256: sha256(secrets.staging!) }),
    };
    await waitFor(() => loads.production.report.checked > 50 && loads.staging.report.checked > 50, { timeoutMs: 30_000, message: "load through B before the change" });
    changedAt = Date.now();
    await a.client.call("putVariable", { params: { ...production, name: "API_TOKEN" }, body: { value: secrets.production, secret: true } });
    // B's own rollout: its replicas against the configuration the store now asks for.
    const progress: string[] = [];
    await waitFor(async () => {
      const rollout = await b.client.call("getVariablesRollout", { params: production });
      const line = `${rollout.status} ${rollout.replicas.updated_ready}/${rollout.replicas.desired}`;
      if (progress.at(-1) !== line) progress.push(line);
      return rollout.status === "SUCCEEDED" && rollout.replicas.updated_ready >= 2;
    }, { timeoutMs: FOLLOW_DEADLINE_MS, intervalMs: 20, message: `B's production rollout to finish within ${FOLLOW_DEADLINE_MS} ms` });
    rolledAt = Date.now();
    const afterRoll = loads.production.report.checked;
    await waitFor(() => loads.production.report.checked > afterRoll + 100, { timeoutMs: 30_000, message: "load through B after the rollout" });
    const report = { production: await loads.production.stop(), staging: await loads.staging.stop() };
    expect([...report.production.samples, ...report.staging.samples]).toEqual([]);
    expect({ failed: report.production.failed + report.staging.failed, wrong: report.production.wrong + report.staging.wrong, staleAfterSucceeded: stale.length }).toEqual({ failed: 0, wrong: 0, staleAfterSucceeded: 0 });
    expect(firstNewAt).toBeDefined();
    figures.push(
      `after production's secret changed through A, B answered with the new value ${firstNewAt! - changedAt} ms later and its rollout said SUCCEEDED ${rolledAt - changedAt} ms later ` +
        `(${progress.join(" → ")}); under load through B ${report.production.checked} production and ${report.staging.checked} staging answers checked, 0 failed, 0 wrong`,
    );
    // Every answer through B now comes from its own replicas of that environment with that environment's value.
    for (const environment of ["production", "staging"] as const) {
      for (let i = 0; i < 20; i++) {
        const identity = await identityAt(`${b.url}/models/${model.id}/environments/${environment}/predict`, b.apiKey);
        expect(identity).toMatchObject({ environment, secret_sha256: sha256(secrets[environment]!) });
        expect(readyPids(b, v1.id, environment)).toContain(processGroupOf(identity!.pid));
      }
    }
    expect(readyPids(b, v1.id, "staging")).toEqual(stagingPids);
    console.log(`replica sets, two engines: ${figures.join("; ")}`);
  });

  it("an engine that cannot build one environment's set (its secret fails its integrity check) still runs every other set, and says which it cannot run", { timeout: 120_000 }, async () => {
    const databaseUrl = await bed.database("sets_unbuildable");
    const a = await startEngineOn(databaseUrl, "a2");
    const locked = await a.client.call("createModel", { body: { name: "locked" } });
    await a.client.call("putVariable", { params: { model_id: locked.id, env_name: "production", name: "API_TOKEN" }, body: { value: "locked-token", secret: true } });
    const lockedV1 = await a.client.call("createDeployment", { params: { model_id: locked.id }, body: { command: ECHO, env: { ECHO_VERSION: "v1" } } });
    await promoteThrough(a, locked.id, "production", lockedV1.id);
    const open = await a.client.call("createModel", { body: { name: "open" } });
    await a.client.call("putVariable", { params: { model_id: open.id, env_name: "production", name: "API_TOKEN" }, body: { value: "open-token", secret: true } });
    const openV1 = await a.client.call("createDeployment", { params: { model_id: open.id }, body: { command: ECHO, env: { ECHO_VERSION: "v1" } } });
    await promoteThrough(a, open.id, "production", openV1.id);
    // The locked model's secret altered in the database (the open one's value moved into its row):
    // it fails its integrity check on every engine. A keeps the replicas it started with it.
    await a.engine.store.query(
      `UPDATE variables SET value = (SELECT value FROM variables WHERE environment_id = (SELECT id FROM environments WHERE model_id = $2 AND name = 'production') AND name = 'API_TOKEN')
       WHERE environment_id = (SELECT id FROM environments WHERE model_id = $1 AND name = 'production') AND name = 'API_TOKEN'`,
      [locked.id, open.id],
    );

    // B starts on that store: its first sync meets the locked deployment (created first) before the open one.
    const logB: string[] = [];
    const startedAt = Date.now();
    const b = await startEngineOn(databaseUrl, "b2", FOLLOWER_RESYNC_MS, logB);
    const servedMs = await followerServes(b, open.id, openV1.id, "production", "open-token", startedAt);
    expect(b.engine.dataPlane.controller.setsOf(lockedV1.id)).not.toContain(replicaSetId(lockedV1.id, "production"));
    expect(logB.join("\n")).toContain(`cannot run replica set ${replicaSetId(lockedV1.id, "production")}: the secret API_TOKEN`);
    console.log(`replica sets, two engines, one set unbuildable on B: B served the other model's production ${servedMs} ms after it began to start`);
  });

  it("an engine started with a key of its own on that database stops at start, naming both keys (it could not have built the sets of environments with secrets)", { timeout: 60_000 }, async () => {
    const databaseUrl = await bed.database("sets_other_key");
    await startEngineOn(databaseUrl, "a3");
    // No secretKey: a key generated in its own data dir, as each engine of issue 14's reproduction had.
    const refused = await startTestEngine({ ...ENGINE_OPTIONS, databaseUrl, dataDir: bed.dataDir("b3") }).then(
      async (engine) => {
        await engine.close();
        return undefined;
      },
      (error: unknown) => error,
    );
    expect(String(refused)).toMatch(/SecretKeyError: the engines sharing this database encrypt secrets with key k[0-9a-f]{12}, which is not among this engine's keys \(k[0-9a-f]{12} from .*b3\/secret-key\)/);
  });
});
