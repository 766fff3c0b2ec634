/**
 * The promotion chain through the real Pulumi CLI (Automation API), against a real engine with real
 * replicas (issue 18): WorkspaceEnvironment dev → staging → production (production requires
 * staging with a soak); one deployment goes dev, then staging; pointing production at it before it
 * passed staging fails at `preview` with the engine's chain message (check, before anything runs),
 * so does pointing it there during the soak; after the soak the same program's `up` succeeds.
 * Runs the compiled provider (dist/).
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { describe, expect, it } from "vitest";
import { waitFor } from "../../testing/index.js";
import { providerTestBed } from "../support/provider-test-bed.js";
import { repoRoot, withStack } from "../support/pulumi.js";

const ECHO = ["node", resolve(repoRoot, "test/support/replicas/env-echo-server.js")];
const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");
/** production's soak in staging: longer than a preview takes on a loaded 2-core machine, short for a test */
const SOAK_SECONDS = 30;
const STAGING_SECRET = "staging-only-token-51d2";

const bed = providerTestBed({ runtime: { startupTimeoutMs: 20_000, stopGracePeriodMs: 2_000 }, promotionReadyTimeoutMs: 60_000 });

const quiet = { onOutput: () => undefined };

function backendText(dir: string): string {
  let text = "";
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    text += statSync(path).isDirectory() ? backendText(path) : readFileSync(path, "utf8");
  }
  return text;
}

interface Stages {
  staging: boolean;
  production: boolean;
  stagingSecret: string;
}

function program(stages: () => Stages) {
  return async () => {
    const on = stages();
    const dev = new bed.mp.WorkspaceEnvironment("dev", { name: "dev", variables: { LOG_LEVEL: "debug" } });
    const staging = new bed.mp.WorkspaceEnvironment("staging", { name: "staging", requires: dev, secrets: { API_TOKEN: on.stagingSecret } });
    const production = new bed.mp.WorkspaceEnvironment("production", { name: "production", requires: staging, minSoakSeconds: SOAK_SECONDS });
    const model = new bed.mp.Model("model", { name: "provider-chain" });
    const v1 = new bed.mp.Deployment("v1", { modelId: model.id, command: ECHO });
    const devEnvironment = new bed.mp.Environment("model-dev", { modelId: model.id, workspaceEnvironment: dev, deploymentId: v1.id });
    const stagingEnvironment = new bed.mp.Environment("model-staging", {
      modelId: model.id,
      workspaceEnvironment: staging,
      ...(on.staging ? { deploymentId: v1.id } : {}),
    });
    const productionEnvironment = new bed.mp.Environment("model-production", {
      modelId: model.id,
      workspaceEnvironment: production,
      ...(on.production ? { deploymentId: v1.id } : {}),
    });
    return {
      modelId: model.id,
      v1: v1.id,
      dev: devEnvironment.endpoint,
      staging: stagingEnvironment.endpoint,
      production: productionEnvironment.endpoint,
    };
  };
}

async function predictIdentity(url: string): Promise<{ environment: string | null; secret_sha256: string | null }> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: `Api-Key ${bed.engine.apiKey}` }, body: "{}" });
  expect(response.status).toBe(200);
  return (await response.json()) as { environment: string | null; secret_sha256: string | null };
}

describe("Pulumi provider: workspace environments and the chain", { timeout: 600_000 }, () => {
  it("dev → staging → production; skipping staging fails at preview; during the soak too; after it production succeeds", async () => {
    const stages: Stages = { staging: false, production: false, stagingSecret: STAGING_SECRET };
    await withStack("provider-chain", program(() => stages), async (stack: Stack, env) => {
      const first = await stack.up(quiet);
      expect(first.summary.result).toBe("succeeded");
      const modelId = String(first.outputs.modelId?.value);
      const v1 = String(first.outputs.v1?.value);
      expect(await predictIdentity(String(first.outputs.dev?.value))).toMatchObject({ environment: "dev", secret_sha256: null });
      const workspace = await bed.engine.client.listWorkspaceEnvironments();
      expect(workspace.map((environment) => [environment.name, environment.requires, environment.min_soak_seconds])).toEqual([
        ["dev", null, 0],
        ["staging", "dev", 0],
        ["production", "staging", SOAK_SECONDS],
      ]);

      // production before staging: preview fails with the chain's message, nothing changes
      stages.production = true;
      const skipped = String(await stack.preview(quiet).then(() => "preview succeeded", (error: unknown) => error));
      expect(skipped).toMatch(/deploymentId: deployment .* has not passed staging, which production requires: it was never promoted to staging/);
      const productionParams = { params: { model_id: modelId, env_name: "production" } };
      expect((await bed.engine.client.call("getEnvironment", productionParams)).current_deployment).toBeNull();

      // staging: up promotes v1 there; its replicas, and only they, hold the staging secret
      stages.production = false;
      stages.staging = true;
      const second = await stack.up(quiet);
      expect(second.summary.result).toBe("succeeded");
      expect(await predictIdentity(String(second.outputs.staging?.value))).toMatchObject({ environment: "staging", secret_sha256: sha256(STAGING_SECRET) });
      expect(await predictIdentity(String(second.outputs.dev?.value))).toMatchObject({ environment: "dev", secret_sha256: null });

      // production during the soak: preview fails again, saying when it passes
      stages.production = true;
      const stage = async () =>
        (await bed.engine.client.modelChain(modelId)).deployments.find((entry) => entry.deployment_id === v1)!.stages.find((entry) => entry.environment === "production")!;
      const soaking = await stage();
      expect(soaking).toMatchObject({ can_promote: false, soaking_since: expect.any(String), soak_ready_at: expect.any(String) });
      const duringSoak = String(await stack.preview(quiet).then(() => "preview succeeded", (error: unknown) => error));
      expect(duringSoak).toMatch(new RegExp(`has not passed staging, which production requires: it has soaked in staging for \\d+ s of the ${SOAK_SECONDS} s required`));

      // after the soak (polled on the chain, with a deadline): the same program's up succeeds
      await waitFor(async () => (await stage()).can_promote, { timeoutMs: SOAK_SECONDS * 1000 + 30_000, intervalMs: 500, message: "the soak in staging to end" });
      const third = await stack.up(quiet);
      expect(third.summary.result).toBe("succeeded");
      expect(await predictIdentity(String(third.outputs.production?.value))).toMatchObject({ environment: "production", secret_sha256: null });
      expect((await bed.engine.client.call("getEnvironment", productionParams)).current_deployment?.id).toBe(v1);
      expect(await stage()).toMatchObject({ serving: true, promotion_status: "SUCCEEDED" });
      // the program as deployed previews clean
      const clean = await stack.preview({ diff: true });
      expect(clean.changeSummary.update ?? 0, clean.stdout).toBe(0);

      // a workspace secret change: the up returns once staging's replicas hold the new one
      stages.stagingSecret = "staging-rotated-token-0b7e";
      let output = "";
      const rotated = await stack.up({ onOutput: (text) => (output += text) });
      expect(rotated.summary.result).toBe("succeeded");
      expect(await predictIdentity(String(rotated.outputs.staging?.value))).toMatchObject({ environment: "staging", secret_sha256: sha256("staging-rotated-token-0b7e") });
      expect(await predictIdentity(String(rotated.outputs.production?.value))).toMatchObject({ secret_sha256: null });
      expect(output).not.toContain("staging-rotated-token-0b7e");
      // the state files hold the secrets encrypted only (exportStack would show them decrypted)
      const state = backendText(env.envVars.PULUMI_BACKEND_URL!.replace("file://", ""));
      expect(state).toContain("modelplane:WorkspaceEnvironment::staging");
      expect(state).not.toContain("staging-rotated-token-0b7e");
      expect(state).not.toContain(STAGING_SECRET);
    }, bed.connection());
    // destroyed with the stack: the workspace environments are gone, the model too
    expect(await bed.engine.client.listWorkspaceEnvironments()).toEqual([]);
  });
});
