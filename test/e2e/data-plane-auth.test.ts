/**
 * Issue 13, findings 1 and 2, black-box against a real engine (real HTTP, real replica processes
 * that echo what they receive): every predict route needs a key on both router paths — the fast
 * path (small content-length bodies) and node:http (a 70 KiB body, a chunked body) —, a caller
 * turned away wakes nothing, inference keys are held to their models and environments, the
 * credential never reaches a replica, and a public environment answers without a key.
 */
import { request as httpRequest } from "node:http";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEngine, waitFor, type TestEngine } from "../../testing/index.js";
import { assertCliBuilt, runCli } from "../cli/run-cli.js";
import { ENGINE_OPTIONS, followPromotion } from "./promotion-support.js";

const PROBE = ["node", resolve(import.meta.dirname, "../support/replicas/probe-server.js")];

let engine: TestEngine;
/** model A: production, staging, one deployment and development all served by echoing replicas */
let modelA: string;
let deploymentA: string;
/** model B: production only */
let modelB: string;

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

type BodyShape = "small" | "70KiB" | "chunked";

/** A predict request on its own connection: `small` takes the fast path (content-length ≤ 64
 * KiB), `70KiB` and `chunked` are handed to node:http. */
function post(path: string, authorization: string | undefined, shape: BodyShape = "small"): Promise<Answer> {
  const payload = JSON.stringify({ text: "a good day", pad: shape === "70KiB" ? "x".repeat(70 * 1024) : "" });
  return new Promise((resolvePost, reject) => {
    const url = new URL(path, engine.url);
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (authorization !== undefined) headers.authorization = authorization;
    if (shape !== "chunked") headers["content-length"] = String(Buffer.byteLength(payload));
    const req = httpRequest(url, { method: "POST", headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolvePost({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (shape === "chunked") {
      // no content-length: node sends transfer-encoding: chunked, in two chunks
      req.write(payload.slice(0, 10));
      req.end(payload.slice(10));
    } else {
      req.end(payload);
    }
  });
}

const admin = () => `Api-Key ${engine.apiKey}`;

function routes(modelId: string, deploymentId: string): Record<string, string> {
  return {
    environment: `/models/${modelId}/environments/staging/predict`,
    production: `/models/${modelId}/production/predict`,
    deployment: `/models/${modelId}/deployment/${deploymentId}/predict`,
    development: `/models/${modelId}/development/predict`,
  };
}

async function servedWithAdminKey(path: string): Promise<void> {
  await waitFor(async () => (await post(path, admin())).status === 200, { timeoutMs: 60_000, message: `${path} answering 200` });
}

beforeAll(async () => {
  engine = await startTestEngine(ENGINE_OPTIONS);
  const { client } = engine;
  const a = await client.call("createModel", { body: { name: "auth-a" } });
  modelA = a.id;
  const deployment = await client.call("createDeployment", { params: { model_id: modelA }, body: { command: PROBE } });
  deploymentA = deployment.id;
  const production = await client.call("promote", { params: { model_id: modelA, env_name: "production" }, body: { deployment_id: deploymentA } });
  expect((await followPromotion(engine, modelA, production.id)).final.status).toBe("SUCCEEDED");
  await client.call("createEnvironment", { params: { model_id: modelA }, body: { name: "staging" } });
  const staging = await client.call("promote", { params: { model_id: modelA, env_name: "staging" }, body: { deployment_id: deploymentA } });
  expect((await followPromotion(engine, modelA, staging.id, "staging")).final.status).toBe("SUCCEEDED");
  await client.call("putDevelopmentDeployment", { params: { model_id: modelA }, body: { command: PROBE } });

  const b = await client.call("createModel", { body: { name: "auth-b" } });
  modelB = b.id;
  const deploymentB = await client.call("createDeployment", { params: { model_id: modelB }, body: { command: PROBE } });
  const productionB = await client.call("promote", { params: { model_id: modelB, env_name: "production" }, body: { deployment_id: deploymentB.id } });
  expect((await followPromotion(engine, modelB, productionB.id)).final.status).toBe("SUCCEEDED");

  for (const path of Object.values(routes(modelA, deploymentA))) await servedWithAdminKey(path);
  await servedWithAdminKey(`/models/${modelB}/production/predict`);
}, 240_000);
afterAll(async () => engine?.close());

describe("predict needs a key (finding 1)", () => {
  it("no key, a wrong key and a revoked key get 401 on all four routes, on the fast path and on node:http (70 KiB, chunked)", async () => {
    const created = await engine.client.createApiKey({ name: "soon-revoked", scope: "inference" });
    expect(created.key).toMatch(/^mpk_/);
    // the key works before it is revoked, on every route (it is not limited)
    for (const path of Object.values(routes(modelA, deploymentA))) expect((await post(path, `Api-Key ${created.key}`)).status, path).toBe(200);
    await engine.client.revokeApiKey(created.id);

    const credentials: Record<string, string | undefined> = {
      "no key": undefined,
      "a wrong key": "Api-Key mpk_not-a-real-key-0123456789",
      "a wrong bearer": "Bearer not-a-real-key",
      "a malformed header": "Basic Zm9vOmJhcg==",
      "the revoked key": `Api-Key ${created.key}`,
      "the revoked key as bearer": `Bearer ${created.key}`,
    };
    for (const [routeName, path] of Object.entries(routes(modelA, deploymentA))) {
      for (const [credentialName, authorization] of Object.entries(credentials)) {
        for (const shape of ["small", "70KiB", "chunked"] as const) {
          const answer = await post(path, authorization, shape);
          const label = `${routeName} with ${credentialName}, ${shape} body`;
          expect(answer.status, label).toBe(401);
          expect(JSON.parse(answer.body), label).toMatchObject({ error: { code: "UNAUTHORIZED" } });
          // nothing about the deployment leaks to a caller without a key
          expect(answer.headers["x-modelplane-deployment-id"], label).toBeUndefined();
        }
      }
    }
  }, 120_000);

  it("a model that does not exist is a 401 too without a key (no probing for ids), 404 with one", async () => {
    expect((await post("/models/mdl_nope/production/predict", undefined)).status).toBe(401);
    expect((await post("/models/mdl_nope/deployment/dep_nope/predict", undefined)).status).toBe(401);
    expect((await post("/models/mdl_nope/production/predict", admin())).status).toBe(404);
  });

  it("the admin key and an inference key work as Api-Key and as Bearer, on every route and body shape", async () => {
    const inference = await engine.client.createApiKey({ name: "any-model", scope: "inference" });
    for (const authorization of [admin(), `Bearer ${engine.apiKey}`, `Api-Key ${inference.key}`, `bearer ${inference.key}`]) {
      for (const path of Object.values(routes(modelA, deploymentA))) {
        for (const shape of ["small", "70KiB", "chunked"] as const) {
          expect((await post(path, authorization, shape)).status, `${path} ${shape}`).toBe(200);
        }
      }
    }
    // an inference key is for predict only
    const management = await fetch(`${engine.url}/v1/models`, { headers: { authorization: `Api-Key ${inference.key}` } });
    expect(management.status).toBe(403);
    expect(await management.json()).toMatchObject({ error: { code: "FORBIDDEN" } });
  }, 60_000);

  it("an inference key limited to model A gets 403 on model B; one limited to staging gets 403 on production, deployment and development", async () => {
    const onlyA = await engine.client.createApiKey({ name: "only-a", scope: "inference", model_ids: [modelA] });
    for (const path of Object.values(routes(modelA, deploymentA))) expect((await post(path, `Api-Key ${onlyA.key}`)).status, path).toBe(200);
    const onB = await post(`/models/${modelB}/production/predict`, `Api-Key ${onlyA.key}`);
    expect(onB.status).toBe(403);
    expect(JSON.parse(onB.body)).toMatchObject({ error: { code: "FORBIDDEN" } });
    expect((await post(`/models/${modelB}/production/predict`, `Api-Key ${onlyA.key}`, "70KiB")).status).toBe(403);

    const onlyStaging = await engine.client.createApiKey({ name: "only-staging", scope: "inference", environment_names: ["staging"] });
    const paths = routes(modelA, deploymentA);
    expect((await post(paths.environment!, `Api-Key ${onlyStaging.key}`)).status).toBe(200);
    for (const name of ["production", "deployment", "development"]) {
      expect((await post(paths[name]!, `Api-Key ${onlyStaging.key}`)).status, name).toBe(403);
      expect((await post(paths[name]!, `Api-Key ${onlyStaging.key}`, "chunked")).status, name).toBe(403);
    }

    const metrics = await engine.client.createApiKey({ name: "metrics-only", scope: "metrics" });
    expect((await post(paths.production!, `Api-Key ${metrics.key}`)).status).toBe(403);
  }, 60_000);

  it("a caller turned away wakes nothing: a deployment scaled to zero stays at zero replicas", async () => {
    const { client } = engine;
    const asleep = await client.call("createDeployment", {
      params: { model_id: modelB },
      body: { command: PROBE, autoscaling_settings: { min_replica: 0, max_replica: 3, scale_down_delay: 0, autoscaling_window: 10 } },
    });
    const params = { model_id: modelB, deployment_id: asleep.id };
    await waitFor(async () => (await client.call("getDeployment", { params })).status === "SCALED_TO_ZERO", {
      timeoutMs: 90_000,
      message: "the new deployment scaling to zero",
    });
    const path = `/models/${modelB}/deployment/${asleep.id}/predict`;
    // 8 anonymous callers at once, every body shape, then a pause longer than the engine needs to
    // start a wake-up (it starts one synchronously on the first held request)
    const attempts = await Promise.all(
      Array.from({ length: 8 }, (_, index) => post(path, index % 2 === 0 ? undefined : "Api-Key wrong", (["small", "70KiB", "chunked"] as const)[index % 3])),
    );
    expect(attempts.map((answer) => answer.status)).toEqual(Array(8).fill(401));
    await new Promise((resolveWait) => setTimeout(resolveWait, 1_500));
    const after = await client.call("getDeployment", { params });
    expect(after.status).toBe("SCALED_TO_ZERO");
    expect(after.replicas?.desired ?? 0).toBe(0);
    // the same request with a key does wake it (so the check above can fail)
    expect((await post(path, admin())).status).toBe(200);
  }, 150_000);
});

describe("the credential never reaches a replica (finding 2)", () => {
  it("Authorization (Api-Key or Bearer, admin or inference key) is removed on both paths; other headers pass", async () => {
    const inference = await engine.client.createApiKey({ name: "echo-check", scope: "inference" });
    for (const authorization of [admin(), `Bearer ${engine.apiKey}`, `Api-Key ${inference.key}`]) {
      for (const path of Object.values(routes(modelA, deploymentA))) {
        for (const shape of ["small", "70KiB", "chunked"] as const) {
          const answer = await post(path, authorization, shape);
          expect(answer.status).toBe(200);
          const echoed = JSON.parse(answer.body) as { headers: Record<string, string> };
          expect(echoed.headers.authorization, `${path} ${shape}`).toBeUndefined();
          expect(answer.body).not.toContain(engine.apiKey);
          expect(answer.body).not.toContain(inference.key);
          expect(echoed.headers["content-type"]).toBe("application/json");
        }
      }
    }
  }, 60_000);
});

describe("public environments (opt-in)", () => {
  it("an environment made public answers without a key; its deployment id still needs one; made private again it needs a key", async () => {
    const { client } = engine;
    const before = await client.call("getEnvironment", { params: { model_id: modelB, env_name: "production" } });
    expect(before.public).toBe(false);
    const patched = await client.call("patchEnvironment", { params: { model_id: modelB, env_name: "production" }, body: { public: true } });
    expect(patched.public).toBe(true);
    const audit = await client.call("listAuditLogs", { params: { model_id: modelB } });
    expect(audit.audit_logs.find((entry) => entry.kind === "environment.updated")?.details).toMatchObject({ public: true });

    for (const shape of ["small", "70KiB", "chunked"] as const) {
      const answer = await post(`/models/${modelB}/production/predict`, undefined, shape);
      expect(answer.status, shape).toBe(200);
    }
    const answered = await post(`/models/${modelB}/environments/production/predict`, undefined);
    expect(answered.status).toBe(200);
    const deploymentId = answered.headers["x-modelplane-deployment-id"];
    expect(typeof deploymentId).toBe("string");
    // the id it hands out does not open the per-deployment endpoint
    expect((await post(`/models/${modelB}/deployment/${String(deploymentId)}/predict`, undefined)).status).toBe(401);
    // model A is not public
    expect((await post(`/models/${modelA}/production/predict`, undefined)).status).toBe(401);

    await client.call("patchEnvironment", { params: { model_id: modelB, env_name: "production" }, body: { public: false } });
    expect((await post(`/models/${modelB}/production/predict`, undefined)).status).toBe(401);
  }, 60_000);
});

describe("modelplane keys (CLI)", () => {
  it("create prints the secret once, list shows it without the secret, the key predicts within its limits, revoke ends it", async () => {
    assertCliBuilt();
    const admin = { MODELPLANE_ENDPOINT: engine.url, MODELPLANE_API_KEY: engine.apiKey };
    const created = await runCli(["keys", "create", "cli-staging", "--model", "auth-a", "--env", "staging"], admin);
    expect(created.code, created.stderr).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^mpk_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toMatch(/created API key cli-staging \(key_\w+\), scope inference, models mdl_\w+; environments staging: shown this once/);

    const listed = await runCli(["keys", "list"], admin);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/cli-staging\s+inference\s+models mdl_\w+; environments staging\s+mpk_\S{8}…/);
    expect(listed.stdout).not.toContain(key);
    const json = JSON.parse((await runCli(["keys", "list", "--json"], admin)).stdout) as { api_keys: { name: string; model_ids: string[] }[] };
    expect(json.api_keys.find((entry) => entry.name === "cli-staging")?.model_ids).toEqual([modelA]);

    expect((await post(`/models/${modelA}/environments/staging/predict`, `Api-Key ${key}`)).status).toBe(200);
    expect((await post(`/models/${modelA}/production/predict`, `Api-Key ${key}`)).status).toBe(403);
    // the CLI's own predict sends the key it is given (and the replica does not see it)
    // (by model id: an inference key cannot read the management API to resolve a name)
    const predicted = await runCli(["predict", modelA, "--env", "staging", "--data", "{}"], { MODELPLANE_ENDPOINT: engine.url, MODELPLANE_API_KEY: key });
    expect(predicted.code, predicted.stderr).toBe(0);
    expect((JSON.parse(predicted.stdout) as { headers: Record<string, string> }).headers.authorization).toBeUndefined();

    expect(predicted.stderr).toMatch(/^deployment: /);

    const revoked = await runCli(["keys", "revoke", "cli-staging"], admin);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toMatch(/^revoked API key key_\w+$/m);
    expect((await post(`/models/${modelA}/environments/staging/predict`, `Api-Key ${key}`)).status).toBe(401);
    expect((await runCli(["keys", "list"], admin)).stdout).not.toContain("cli-staging");
    const unknown = await runCli(["keys", "revoke", "cli-staging"], admin);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/no live API key with id or name 'cli-staging'/);
  }, 90_000);
});
