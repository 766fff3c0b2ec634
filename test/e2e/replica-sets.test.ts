/**
 * Replica sets per environment, end to end with real replicas (issue 14): a replica runs with the
 * configuration of the environment whose traffic it answers — its ENVIRONMENT, that environment's
 * variables and secrets — and an environment's traffic only reaches replicas of its own set. The
 * replicas (test/support/replicas/env-echo-server.js) say on every answer which ENVIRONMENT they run
 * with and the sha256 of their API_TOKEN, so every response under load is checked.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEngine, waitFor, type TestEngine } from "../../testing/index.js";
import { checkedLoad, ECHO_COMMAND as ECHO, sha256, type Identity } from "../support/checked-load.js";
import { ENGINE_OPTIONS, followPromotion } from "./promotion-support.js";

let engine: TestEngine;
const engineLog: string[] = [];

beforeAll(async () => {
  engine = await startTestEngine({ ...ENGINE_OPTIONS, log: (line) => engineLog.push(line) });
});
afterAll(async () => engine?.close());

async function predictIdentity(url: string): Promise<{ status: number; identity: Identity | undefined }> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: `Api-Key ${engine.apiKey}` }, body: "{}" });
  const text = await response.text();
  return { status: response.status, identity: response.status === 200 ? (JSON.parse(text) as Identity) : undefined };
}

async function promoteAndWait(modelId: string, environment: string, deploymentId: string) {
  const promotion = await engine.client.call("promote", { params: { model_id: modelId, env_name: environment }, body: { deployment_id: deploymentId } });
  const { final } = await followPromotion(engine, modelId, promotion.id, environment);
  expect(final.status, final.error_message ?? "").toBe("SUCCEEDED");
}

const ROLLING = { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 50, max_unavailable_percent: 0, stabilization_time_seconds: 2 } } as const;

describe("replica sets per environment", () => {
  it("staging and production on one deployment with different secrets: each endpoint's answers come from replicas holding its own value, under load, during a rolling deploy and after", async () => {
    const { client } = engine;
    const model = await client.call("createModel", { body: { name: "two-environments" } });
    await client.call("createEnvironment", { params: { model_id: model.id }, body: { name: "staging" } });
    const secrets: Record<string, string> = { staging: `s-staging-${Math.random()}`, production: `s-prod-${Math.random()}` };
    for (const environment of ["staging", "production"]) {
      const params = { model_id: model.id, env_name: environment };
      await client.call("patchEnvironment", { params, body: { autoscaling_settings: { min_replica: 2, max_replica: 2 }, promotion_settings: ROLLING } });
      await client.call("putVariable", { params: { ...params, name: "API_TOKEN" }, body: { value: secrets[environment]!, secret: true } });
    }
    const v1 = await client.call("createDeployment", { params: { model_id: model.id }, body: { command: ECHO, env: { ECHO_VERSION: "v1" } } });
    await promoteAndWait(model.id, "staging", v1.id);
    await promoteAndWait(model.id, "production", v1.id);

    const url = (environment: string) => `${engine.url}/models/${model.id}/environments/${environment}/predict`;
    const loads = {
      staging: checkedLoad(url("staging"), engine.apiKey, { environment: "staging", secretSha256: sha256(secrets.staging!) }),
      production: checkedLoad(url("production"), engine.apiKey, { environment: "production", secretSha256: sha256(secrets.production!) }),
    };
    await waitFor(() => loads.staging.report.checked + loads.production.report.checked > 200, { timeoutMs: 30_000, message: "load before the rolling deploy" });

    // a rolling deploy of production to v2 while both endpoints are under load; staging stays on v1
    const v2 = await client.call("createDeployment", { params: { model_id: model.id }, body: { command: ECHO, env: { ECHO_VERSION: "v2" } } });
    const during = { staging: loads.staging.report.checked, production: loads.production.report.checked };
    await promoteAndWait(model.id, "production", v2.id);
    const duringChecked = loads.staging.report.checked - during.staging + loads.production.report.checked - during.production;
    const after = loads.production.report.checked;
    await waitFor(() => loads.production.report.checked > after + 200, { timeoutMs: 30_000, message: "load after the rolling deploy" });
    const staging = await loads.staging.stop();
    const production = await loads.production.stop();

    console.log(`replica-sets must-show 1: staging ${JSON.stringify({ ...staging, samples: undefined })}, production ${JSON.stringify({ ...production, samples: undefined })}, checked during the rolling deploy ${duringChecked}`);
    expect(staging.samples).toEqual([]);
    expect(production.samples).toEqual([]);
    expect({ failed: staging.failed + production.failed, wrong: staging.wrong + production.wrong }).toEqual({ failed: 0, wrong: 0 });
    expect(duringChecked).toBeGreaterThan(50);
    expect(production.byVersion.v2).toBeGreaterThan(100);
    expect(Object.keys(staging.byVersion)).toEqual(["v1"]);
  });

  it("a deployment warm from creation, promoted to production: every production answer during and after the rollout says ENVIRONMENT=production", async () => {
    const { client } = engine;
    const model = await client.call("createModel", { body: { name: "warm-then-promoted" } });
    const params = { model_id: model.id, env_name: "production" };
    await client.call("patchEnvironment", { params, body: { autoscaling_settings: { min_replica: 2, max_replica: 2 }, promotion_settings: ROLLING } });
    await client.call("putVariable", { params: { ...params, name: "API_TOKEN" }, body: { value: "p-token", secret: true } });
    const v0 = await client.call("createDeployment", { params: { model_id: model.id }, body: { command: ECHO, env: { ECHO_VERSION: "v0" } } });
    await promoteAndWait(model.id, "production", v0.id);

    // v1 is created on its own: its replica is warm for its per-deployment endpoint, with no environment
    const v1 = await client.call("createDeployment", { params: { model_id: model.id }, body: { command: ECHO, env: { ECHO_VERSION: "v1" } } });
    const own = await waitFor(async () => {
      const answer = await predictIdentity(`${engine.url}/models/${model.id}/deployment/${v1.id}/predict`);
      return answer.status === 200 ? answer.identity : undefined;
    }, { timeoutMs: 30_000, message: "v1's own replica" });
    expect(own).toMatchObject({ environment: null, secret_sha256: null, version: "v1" });

    const load = checkedLoad(`${engine.url}/models/${model.id}/production/predict`, engine.apiKey, { environment: "production", secretSha256: sha256("p-token") });
    await waitFor(() => load.report.checked > 100, { timeoutMs: 30_000, message: "load before the promotion" });
    await promoteAndWait(model.id, "production", v1.id);
    const after = load.report.checked;
    await waitFor(() => load.report.checked > after + 200, { timeoutMs: 30_000, message: "load after the promotion" });
    const report = await load.stop();

    console.log(`replica-sets must-show 2: production ${JSON.stringify({ ...report, samples: undefined })}`);
    expect(report.samples).toEqual([]);
    expect({ failed: report.failed, wrong: report.wrong }).toEqual({ failed: 0, wrong: 0 });
    expect(report.byVersion.v1).toBeGreaterThan(200);
  });

  it("a secret change on production rolls its replicas with zero failed requests under load; the API answers with the rollout it started", async () => {
    const { client } = engine;
    const model = await client.call("createModel", { body: { name: "secret-roll" } });
    const params = { model_id: model.id, env_name: "production" };
    await client.call("patchEnvironment", { params, body: { autoscaling_settings: { min_replica: 3, max_replica: 3 }, promotion_settings: ROLLING } });
    await client.call("putVariable", { params: { ...params, name: "API_TOKEN" }, body: { value: "token-1", secret: true } });
    const v1 = await client.call("createDeployment", { params: { model_id: model.id }, body: { command: ECHO, env: { ECHO_VERSION: "v1" } } });
    await promoteAndWait(model.id, "production", v1.id);
    const before = await client.call("getVariablesRollout", { params });
    expect(before).toMatchObject({ status: "SUCCEEDED", deployment_ids: [v1.id], replicas: { desired: 3, updated_ready: 3, outdated: 0 } });

    // every answer comes from a production replica holding the old or the new token — and none fails
    let rolledAt = Number.POSITIVE_INFINITY;
    const stale: number[] = [];
    const load = checkedLoad(`${engine.url}/models/${model.id}/production/predict`, engine.apiKey, {
      environment: "production",
      secretSha256: (hash) => {
        if (hash === sha256("token-2")) return true;
        if (hash === sha256("token-1")) {
          if (Date.now() > rolledAt) stale.push(Date.now() - rolledAt);
          return true;
        }
        return false;
      },
    });
    await waitFor(() => load.report.checked > 100, { timeoutMs: 30_000, message: "load before the change" });
    const change = await client.call("putVariable", { params: { ...params, name: "API_TOKEN" }, body: { value: "token-2", secret: true } });
    expect(change).toMatchObject({ name: "API_TOKEN", secret: true, rollout: { environment: "production", status: "IN_PROGRESS", deployment_ids: [v1.id] } });
    expect(JSON.stringify(change)).not.toContain("token-2");
    const progress: string[] = [];
    await waitFor(async () => {
      const rollout = await client.call("getVariablesRollout", { params });
      const line = `${rollout.status} ${rollout.replicas.updated_ready}/${rollout.replicas.desired} updated, ${rollout.replicas.outdated} outdated`;
      if (progress.at(-1) !== line) progress.push(line);
      return rollout.status === "SUCCEEDED";
    }, { timeoutMs: 90_000, intervalMs: 100, message: "the variables rollout to finish" });
    rolledAt = Date.now();
    const after = load.report.checked;
    await waitFor(() => load.report.checked > after + 200, { timeoutMs: 30_000, message: "load after the rollout" });
    const report = await load.stop();

    console.log(`replica-sets must-show 3: production ${JSON.stringify({ ...report, samples: undefined })}, old-token answers after SUCCEEDED ${stale.length}, rollout ${progress.join(" → ")}`);
    expect(report.samples).toEqual([]);
    expect({ failed: report.failed, wrong: report.wrong, staleAfterSucceeded: stale.length }).toEqual({ failed: 0, wrong: 0, staleAfterSucceeded: 0 });
    expect(progress.length).toBeGreaterThan(1);
    expect(engineLog.join("\n")).not.toContain("token-2");
    // the deployment stayed the same: a configuration roll is not a promotion
    expect((await client.call("getEnvironment", { params })).current_deployment?.id).toBe(v1.id);
  });
});
