/**
 * Workspace environments end to end with real replicas (issue 18): dev → staging → production for
 * one deployment through real promotions, production refused until staging passed and the soak
 * ran out (polled on GET …/chain with a deadline, never slept on), the skip_chain override and its
 * audit entry, and a workspace secret change that rolls the staging environment of every model
 * with zero failed requests while only staging's replicas ever hold the secret.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { replicaSetId } from "../../engine/runtime/runtime.js";
import { ConflictError } from "../../sdk/client-errors.js";
import { startLoad, startTestEngine, waitFor, type TestEngine } from "../../testing/index.js";
import { ENGINE_OPTIONS, expectNoFailures, followPromotion, predict } from "./promotion-support.js";
import { runtimeUnderTest } from "./runtime-under-test.js";

const { runnable } = runtimeUnderTest();
/** production's soak in staging: long enough that the promote right after staging is refused, short for a test */
const SOAK_SECONDS = 8;

let engine: TestEngine;
const engineLog: string[] = [];
beforeAll(async () => {
  engine = await startTestEngine({ ...ENGINE_OPTIONS, log: (line) => engineLog.push(line) });
});
afterAll(async () => engine?.close());

const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");

/** What a ready replica of a deployment's set in `environment` sees for variable `name` (asked on its port). */
async function replicaSees(deploymentId: string, environment: string, name: string): Promise<{ set: boolean; sha256: string | null }> {
  const [replica] = engine.engine.dataPlane.runtime.readyReplicas(replicaSetId(deploymentId, environment));
  if (!replica) throw new Error(`no ready replica of ${deploymentId} in ${environment}`);
  return (await (await fetch(`${replica.url}/env/${name}`)).json()) as { set: boolean; sha256: string | null };
}

/** Every running replica of every set of the engine that holds `value` as `name`, by set id. */
async function setsHolding(name: string, value: string): Promise<string[]> {
  const holding: string[] = [];
  for (const set of await engine.engine.dataPlane.runtime.list()) {
    for (const replica of engine.engine.dataPlane.runtime.readyReplicas(set.id)) {
      const seen = (await (await fetch(`${replica.url}/env/${name}`)).json()) as { sha256: string | null };
      if (seen.sha256 === sha256(value)) holding.push(set.id);
    }
  }
  return holding;
}

describe("the promotion chain with real promotions", () => {
  const firstSecret = `staging-secret-${Math.random().toString(36).slice(2)}`;
  const rotatedSecret = `staging-rotated-${Math.random().toString(36).slice(2)}`;

  it("dev → staging → production: production waits for staging and its soak; skip_chain overrides and is audited; a secret change rolls staging with no failed request", async () => {
    const { client } = engine;
    await client.call("createWorkspaceEnvironment", { body: { name: "dev", variables: { LOG_LEVEL: "debug" } } });
    await client.call("createWorkspaceEnvironment", {
      body: { name: "staging", requires: "dev", variables: { LOG_LEVEL: "info" }, secrets: { API_TOKEN: firstSecret } },
    });
    await client.call("createWorkspaceEnvironment", { body: { name: "production", requires: "staging", min_soak_seconds: SOAK_SECONDS } });
    const model = await client.call("createModel", { body: { name: "chain" } });
    const v1 = await client.call("createDeployment", { params: { model_id: model.id }, body: runnable("v1") });
    const promote = (environment: string, deploymentId: string, skipChain?: true) =>
      client.call("promote", { params: { model_id: model.id, env_name: environment }, body: { deployment_id: deploymentId, ...(skipChain ? { skip_chain: true } : {}) } });
    const refusal = (environment: string, deploymentId: string) => promote(environment, deploymentId).then(() => undefined, (error: unknown) => error);

    // production and staging first: refused, naming the missing stage
    const straight = await refusal("production", v1.id);
    expect(straight).toBeInstanceOf(ConflictError);
    expect((straight as Error).message).toMatch(/has not passed staging, which production requires: it was never promoted to staging/);
    expect((await refusal("staging", v1.id)) as Error).toMatchObject({ message: expect.stringMatching(/has not passed dev, which staging requires/) });

    // dev, then staging: real promotions
    expect((await followPromotion(engine, model.id, (await promote("dev", v1.id)).id, "dev")).final.status).toBe("SUCCEEDED");
    expect((await followPromotion(engine, model.id, (await promote("staging", v1.id)).id, "staging")).final.status).toBe("SUCCEEDED");
    const soaking = await refusal("production", v1.id);
    expect(soaking).toBeInstanceOf(ConflictError);
    expect((soaking as Error).message).toMatch(new RegExp(`it has soaked in staging for \\d+ s of the ${SOAK_SECONDS} s required`));

    // each environment's replicas see their own values; the staging secret only in staging
    expect((await predict(`${engine.url}/models/${model.id}/environments/staging/predict`)).body.environment).toBe("staging");
    expect(await replicaSees(v1.id, "staging", "API_TOKEN")).toMatchObject({ set: true, sha256: sha256(firstSecret) });
    expect(await replicaSees(v1.id, "staging", "LOG_LEVEL")).toMatchObject({ sha256: sha256("info") });
    expect(await replicaSees(v1.id, "dev", "LOG_LEVEL")).toMatchObject({ sha256: sha256("debug") });
    expect(await replicaSees(v1.id, "dev", "API_TOKEN")).toMatchObject({ set: false });

    // the chain says when the soak ends; poll it (deadline), then production takes it
    const chainStage = async () =>
      (await client.call("getModelChain", { params: { model_id: model.id } })).deployments.find((entry) => entry.deployment_id === v1.id)!.stages.find((stage) => stage.environment === "production")!;
    const blocked = await chainStage();
    if (!blocked.can_promote) expect(blocked).toMatchObject({ soaking_since: expect.any(String), soak_ready_at: expect.any(String) });
    await waitFor(async () => (await chainStage()).can_promote, { timeoutMs: SOAK_SECONDS * 1000 + 20_000, intervalMs: 250, message: "the soak in staging to end" });
    const toProduction = await promote("production", v1.id);
    expect((await followPromotion(engine, model.id, toProduction.id)).final.status).toBe("SUCCEEDED");
    expect(await replicaSees(v1.id, "production", "API_TOKEN")).toMatchObject({ set: false });
    const passed = await chainStage();
    expect(passed).toMatchObject({ serving: true, promotion_status: "SUCCEEDED", can_promote: true });

    // the override: v2 straight to production with skip_chain, audited with what it overrode
    const v2 = await client.call("createDeployment", { params: { model_id: model.id }, body: runnable("v2") });
    const skipped = await promote("production", v2.id, true);
    expect((await followPromotion(engine, model.id, skipped.id)).final.status).toBe("SUCCEEDED");
    const { audit_logs } = await client.call("listAuditLogs", { params: { model_id: model.id } });
    const override = audit_logs.find((entry) => entry.kind === "promotion.chain_skipped");
    expect(override).toMatchObject({
      object_id: skipped.id,
      object_name: "production",
      details: { deployment_id: v2.id, required_environment: "staging", reason: "never_promoted" },
    });
    expect(String(override!.details.refusal)).toMatch(/has not passed staging/);

    // rollback to production's previous deployment (v1) needs no chain
    const rollback = await client.call("rollback", { params: { model_id: model.id, env_name: "production" }, body: {} });
    expect(rollback.deployment_id).toBe(v1.id);
    expect((await followPromotion(engine, model.id, rollback.id)).final.status).toBe("SUCCEEDED");

    // a second model, its staging on v1 too (dev first): the secret change rolls both models' staging
    const other = await client.call("createModel", { body: { name: "chain-other" } });
    const otherV1 = await client.call("createDeployment", { params: { model_id: other.id }, body: runnable("v1") });
    for (const environment of ["dev", "staging"]) {
      const promotion = await client.call("promote", { params: { model_id: other.id, env_name: environment }, body: { deployment_id: otherV1.id } });
      expect((await followPromotion(engine, other.id, promotion.id, environment)).final.status).toBe("SUCCEEDED");
    }
    const loads = [model.id, other.id].map((modelId) =>
      startLoad({ url: `${engine.url}/models/${modelId}/environments/staging/predict`, apiKey: engine.apiKey, concurrency: 4 }),
    );
    await client.call("patchWorkspaceEnvironment", { params: { env_name: "staging" }, body: { secrets: { API_TOKEN: rotatedSecret } } });
    for (const [modelId, deploymentId] of [
      [model.id, v1.id],
      [other.id, otherV1.id],
    ] as const) {
      await waitFor(
        async () => {
          const rollout = await client.call("getVariablesRollout", { params: { model_id: modelId, env_name: "staging" } });
          if (rollout.status !== "SUCCEEDED") return false;
          return (await replicaSees(deploymentId, "staging", "API_TOKEN").catch(() => ({ sha256: null }))).sha256 === sha256(rotatedSecret);
        },
        { timeoutMs: 60_000, intervalMs: 100, message: `staging of ${modelId} rolled onto the rotated secret` },
      );
    }
    const reports = await Promise.all(loads.map((load) => load.stop()));
    for (const report of reports) expectNoFailures(report, 20);
    // only staging's replicas hold it, in both models; nothing else and no answer or log has it
    expect((await setsHolding("API_TOKEN", rotatedSecret)).sort()).toEqual([replicaSetId(v1.id, "staging"), replicaSetId(otherV1.id, "staging")].sort());
    for (const path of ["/v1/environments", "/v1/environments/staging", `/v1/models/${model.id}/environments`, `/v1/models/${model.id}/audit_logs`]) {
      const text = await (await fetch(`${engine.url}${path}`, { headers: { authorization: `Api-Key ${engine.apiKey}` } })).text();
      expect(text).not.toContain(rotatedSecret);
      expect(text).not.toContain(firstSecret);
    }
    expect(engineLog.join("\n")).not.toContain(rotatedSecret);
    console.log(
      `workspace secret roll: ${reports.map((report) => `${report.sent} requests, ${report.failed} failed over ${report.durationMs} ms`).join("; ")}`,
    );
  });
});
