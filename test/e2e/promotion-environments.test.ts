/**
 * Environments, the development deployment and the promotion rules end to end with real replicas:
 * promoting the development deployment publishes a copy, live reload, redeploy_on_promotion and
 * ENVIRONMENT, deploying straight into an environment, variables and secrets reaching replicas
 * (and never appearing in an API answer, the audit log or the engine log), and the 409s.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { replicaSetId } from "../../engine/runtime/runtime.js";
import { ConflictError } from "../../sdk/client-errors.js";
import { startTestEngine, waitFor, type TestEngine } from "../../testing/index.js";
import { ENGINE_OPTIONS, followPromotion, modelOnV1, predict, V1_COMMAND, V2_COMMAND } from "./promotion-support.js";

let engine: TestEngine;
const engineLog: string[] = [];

beforeAll(async () => {
  engine = await startTestEngine({ ...ENGINE_OPTIONS, log: (line) => engineLog.push(line) });
});
afterAll(async () => engine?.close());

/** Raw text of a management API GET, to search for values that must never be there. */
async function apiText(path: string): Promise<string> {
  const response = await fetch(`${engine.url}${path}`, { headers: { authorization: `Api-Key ${engine.apiKey}` } });
  expect(response.status, path).toBe(200);
  return response.text();
}

interface VariableSeen {
  set: boolean;
  sha256: string | null;
}

/** What a replica sees for variable `name` (asked directly on its port). */
async function variableOn(replica: { url: string }, name: string): Promise<VariableSeen> {
  const response = await fetch(`${replica.url}/env/${name}`);
  if (!response.ok) throw new Error(`${replica.url}/env/${name}: ${response.status}`);
  return (await response.json()) as VariableSeen;
}

const productionReplicas = (deploymentId: string) => engine.engine.dataPlane.runtime.readyReplicas(replicaSetId(deploymentId, "production"));

/** What a ready replica of the deployment's production set sees for variable `name`. */
async function replicaSees(deploymentId: string, name: string): Promise<VariableSeen> {
  const [replica] = productionReplicas(deploymentId);
  if (!replica) throw new Error(`no ready replica of ${deploymentId}`);
  return variableOn(replica, name);
}

/** Whether every ready replica of the deployment's production set has `name` set (false while there is none). */
async function everyReplicaSees(deploymentId: string, name: string): Promise<boolean> {
  const seen = await Promise.all(productionReplicas(deploymentId).map((replica) => variableOn(replica, name).then((variable) => variable.set, () => false)));
  return seen.length > 0 && seen.every(Boolean);
}

const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");

describe("the development deployment", () => {
  it("promoting it publishes a copy with a new id; the development deployment keeps its id and keeps serving", async () => {
    const model = await engine.client.call("createModel", { body: { name: "dev-promote" } });
    const development = await engine.client.call("putDevelopmentDeployment", { params: { model_id: model.id }, body: { command: V1_COMMAND } });
    expect(development.is_development).toBe(true);
    const params = { model_id: model.id, env_name: "production" };
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: development.id } });
    expect(promotion.deployment_id).not.toBe(development.id);
    expect((await followPromotion(engine, model.id, promotion.id)).final.status).toBe("SUCCEEDED");
    const published = await engine.client.call("getDeployment", { params: { model_id: model.id, deployment_id: promotion.deployment_id } });
    expect(published.is_development).toBe(false);
    expect(published.name).toMatch(/^deployment-\d+$/);
    const environment = await engine.client.call("getEnvironment", { params });
    expect(environment.current_deployment?.id).toBe(published.id);
    const afterwards = await engine.client.call("getDeployment", { params: { model_id: model.id, deployment_id: development.id } });
    expect({ id: afterwards.id, name: afterwards.name, is_development: afterwards.is_development, active: afterwards.active }).toEqual({
      id: development.id,
      name: "development",
      is_development: true,
      active: true,
    });
    const production = await predict(`${engine.url}/models/${model.id}/production/predict`);
    expect(production.deploymentId).toBe(published.id);
    expect(production.body.environment).toBe("production");
    const dev = await predict(`${engine.url}/models/${model.id}/development/predict`);
    expect(dev.status).toBe(200);
    expect(dev.deploymentId).toBe(development.id);
  });

  it("live reload: PUT again keeps the id, bumps the revision and replaces the replica", async () => {
    const model = await engine.client.call("createModel", { body: { name: "live-reload" } });
    const url = `${engine.url}/models/${model.id}/development/predict`;
    const first = await engine.client.call("putDevelopmentDeployment", { params: { model_id: model.id }, body: { command: V1_COMMAND } });
    const before = await predict(url);
    expect(before.body.version).toBe("v1");
    const patched = await engine.client.call("putDevelopmentDeployment", { params: { model_id: model.id }, body: { command: V2_COMMAND } });
    expect(patched.id).toBe(first.id);
    expect(patched.revision).toBe(first.revision + 1);
    const after = await waitFor(async () => {
      const answer = await predict(url);
      return answer.status === 200 && answer.body.version === "v2" ? answer : undefined;
    }, { timeoutMs: 30_000, message: "the reloaded replica to answer" });
    expect(after.deploymentId).toBe(first.id);
    expect(after.body.pid).not.toBe(before.body.pid);
    // the old replica is gone, not just out of rotation
    await waitFor(() => engine.engine.dataPlane.runtime.observe(first.id).replicas.filter((r) => r.state !== "stopped").length === 1, { timeoutMs: 20_000, message: "one replica left" });
  });
});

describe("environments", () => {
  it("creating a deployment with environment: staging deploys straight into it", async () => {
    const model = await engine.client.call("createModel", { body: { name: "push-env" } });
    await engine.client.call("createEnvironment", { params: { model_id: model.id }, body: { name: "staging" } });
    const deployment = await engine.client.call("createDeployment", { params: { model_id: model.id }, body: { command: V1_COMMAND, environment: "staging" } });
    const params = { model_id: model.id, env_name: "staging" };
    const inProgress = (await engine.client.call("listPromotions", { params })).promotions;
    expect(inProgress.map((p) => p.deployment_id)).toEqual([deployment.id]);
    expect((await followPromotion(engine, model.id, inProgress[0]!.id, "staging")).final.status).toBe("SUCCEEDED");
    expect((await engine.client.call("getEnvironment", { params })).current_deployment?.id).toBe(deployment.id);
    const answer = await predict(`${engine.url}/models/${model.id}/environments/staging/predict`);
    expect(answer.deploymentId).toBe(deployment.id);
    expect(answer.body.environment).toBe("staging");
    // production was not touched
    expect((await engine.client.call("getEnvironment", { params: { model_id: model.id, env_name: "production" } })).current_deployment).toBeNull();
    // the controller's status writes are history: audited, oldest first here
    const { audit_logs } = await engine.client.call("listAuditLogs", { params: { model_id: model.id } });
    const changes = audit_logs.filter((entry) => entry.kind === "deployment.status_changed" && entry.object_id === deployment.id).reverse();
    expect(changes.length, JSON.stringify(audit_logs)).toBeGreaterThan(0);
    expect(changes.at(-1)?.details).toMatchObject({ to: "ACTIVE" });
    for (const [i, change] of changes.entries()) {
      expect(change.details.from).not.toBe(change.details.to);
      if (i > 0) expect(change.details.from).toBe(changes[i - 1]!.details.to);
    }
  });

  it("redeploy_on_promotion: replicas are replaced and see the new ENVIRONMENT", async () => {
    const model = await engine.client.call("createModel", { body: { name: "redeploy" } });
    await engine.client.call("createEnvironment", { params: { model_id: model.id }, body: { name: "staging", promotion_settings: { redeploy_on_promotion: true } } });
    const deployment = await engine.client.call("createDeployment", { params: { model_id: model.id }, body: { command: V1_COMMAND } });
    // before the promotion the deployment serves no environment: its replica has no ENVIRONMENT
    const before = await waitFor(async () => {
      const answer = await predict(`${engine.url}/models/${model.id}/deployment/${deployment.id}/predict`);
      return answer.status === 200 ? answer : undefined;
    }, { timeoutMs: 30_000 });
    expect(before.body.environment).toBeNull();
    const params = { model_id: model.id, env_name: "staging" };
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: deployment.id } });
    expect((await followPromotion(engine, model.id, promotion.id, "staging")).final.status).toBe("SUCCEEDED");
    expect((await engine.client.call("getDeployment", { params: { model_id: model.id, deployment_id: deployment.id } })).revision).toBe(deployment.revision + 1);
    const url = `${engine.url}/models/${model.id}/environments/staging/predict`;
    await waitFor(async () => (await predict(url)).body.environment === "staging", { timeoutMs: 30_000, message: "a replica with ENVIRONMENT=staging" });
    for (let i = 0; i < 10; i++) {
      const answer = await predict(url);
      expect(answer.body.environment).toBe("staging");
      expect(answer.body.pid).not.toBe(before.body.pid);
    }
  });

  it("variables and secrets reach the replicas; a secret value is never in an API answer, the audit log or the engine log", async () => {
    const secretValue = `s3cr3t-${Math.random().toString(36).slice(2)}-token`;
    const { model, params, v1 } = await modelOnV1(engine, "secrets", 1);
    await engine.client.call("putVariable", { params: { ...params, name: "API_TOKEN" }, body: { value: secretValue, secret: true } });
    await engine.client.call("putVariable", { params: { ...params, name: "LOG_LEVEL" }, body: { value: "debug", secret: false } });
    // a variable change replaces the replicas (new ones first) so the model sees it: each of the two
    // changes rolls them, so until the second rollout is done a ready replica may have only the first
    await waitFor(async () => (await everyReplicaSees(v1.id, "LOG_LEVEL")) && (await everyReplicaSees(v1.id, "API_TOKEN")), {
      timeoutMs: 30_000,
      message: "every replica with API_TOKEN and LOG_LEVEL",
    });
    expect(await replicaSees(v1.id, "API_TOKEN")).toMatchObject({ set: true, sha256: sha256(secretValue) });
    expect(await replicaSees(v1.id, "LOG_LEVEL")).toMatchObject({ set: true, sha256: sha256("debug") });
    expect(await replicaSees(v1.id, "ENVIRONMENT")).toMatchObject({ set: true, sha256: sha256("production") });

    // a promotion carries them to the candidate too
    const v2 = await engine.client.call("createDeployment", { params: { model_id: model.id }, body: { command: V2_COMMAND } });
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: v2.id } });
    expect((await followPromotion(engine, model.id, promotion.id)).final.status).toBe("SUCCEEDED");
    await waitFor(async () => (await replicaSees(v2.id, "API_TOKEN").catch(() => ({ set: false, sha256: null }))).set, { timeoutMs: 30_000, message: "candidate replica with API_TOKEN" });
    expect(await replicaSees(v2.id, "API_TOKEN")).toMatchObject({ sha256: sha256(secretValue) });

    const texts = await Promise.all([
      apiText(`/v1/models/${model.id}`),
      apiText(`/v1/models/${model.id}/environments`),
      apiText(`/v1/models/${model.id}/environments/production`),
      apiText(`/v1/models/${model.id}/deployments`),
      apiText(`/v1/models/${model.id}/deployments/${v2.id}`),
      apiText(`/v1/models/${model.id}/environments/production/promotions`),
      apiText(`/v1/models/${model.id}/audit_logs`),
    ]);
    for (const text of texts) expect(text).not.toContain(secretValue);
    expect(texts[2]).toContain("API_TOKEN");
    expect(engineLog.join("\n")).not.toContain(secretValue);
  });
});

describe("409 conflicts", () => {
  it("an action that does not apply names the status; a second promotion is refused; an inactive deployment must be activated first", async () => {
    const { model, params, v2 } = await modelOnV1(engine, "conflicts", 1, {
      rolling_deploy: true,
      rolling_deploy_config: { max_surge_percent: 50, max_unavailable_percent: 0, stabilization_time_seconds: 600 },
    });
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: v2.id } });
    const resumeWhileRunning = await engine.client.call("resumePromotion", { params }).catch((error: unknown) => error);
    expect(resumeWhileRunning).toBeInstanceOf(ConflictError);
    expect((resumeWhileRunning as Error).message).toMatch(/cannot resume promotion .*: it is (RELEASING|RAMPING_UP)/);
    expect((await engine.client.call("pausePromotion", { params })).status).toBe("PAUSED");
    await expect(engine.client.call("pausePromotion", { params })).rejects.toThrow(/cannot pause promotion .*: it is PAUSED; actions allowed now: resume, cancel/);

    const v3 = await engine.client.call("createDeployment", { params: { model_id: model.id }, body: { command: V2_COMMAND } });
    const second = await engine.client.call("promote", { params, body: { deployment_id: v3.id } }).catch((error: unknown) => error);
    expect(second).toBeInstanceOf(ConflictError);
    expect((second as Error).message).toMatch(new RegExp(`already has promotion ${promotion.id} in progress \\(PAUSED`));

    await engine.client.call("forceCancelPromotion", { params });
    await engine.client.call("deactivateDeployment", { params: { model_id: model.id, deployment_id: v3.id } });
    const inactive = await engine.client.call("promote", { params, body: { deployment_id: v3.id } }).catch((error: unknown) => error);
    expect(inactive).toBeInstanceOf(ConflictError);
    expect((inactive as Error).message).toMatch(new RegExp(`deployment ${v3.name} \\(${v3.id}\\) is inactive; activate it first`));
    // after activating it, the same promotion is accepted
    await engine.client.call("activateDeployment", { params: { model_id: model.id, deployment_id: v3.id } });
    const accepted = await engine.client.call("promote", { params, body: { deployment_id: v3.id } });
    expect(accepted.deployment_id).toBe(v3.id);
    await engine.client.call("forceCancelPromotion", { params });
  });
});
