/**
 * The Pulumi provider through the Automation API, against a real engine with real replicas: a
 * change of an environment's secret is an update that rolls the environment's replicas onto it and
 * returns only when the roll is done, like a promotion (issue 14). Runs the compiled provider (dist/).
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { describe, expect, it } from "vitest";
import { startLoad } from "../../testing/index.js";
import { providerTestBed } from "../support/provider-test-bed.js";
import { repoRoot, withStack } from "../support/pulumi.js";

const ECHO = ["node", resolve(repoRoot, "test/support/replicas/env-echo-server.js")];
const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");

const bed = providerTestBed({ runtime: { startupTimeoutMs: 20_000, stopGracePeriodMs: 2_000 }, promotionReadyTimeoutMs: 60_000 });

async function predictIdentity(url: string): Promise<{ environment: string | null; secret_sha256: string | null }> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: `Api-Key ${bed.engine.apiKey}` }, body: "{}" });
  expect(response.status).toBe(200);
  return (await response.json()) as { environment: string | null; secret_sha256: string | null };
}

describe("Pulumi provider: variables", { timeout: 300_000 }, () => {
  it("up of a secret change blocks until production's replicas have rolled onto it, with zero failed requests", async () => {
    let token = "token-one";
    const program = async () => {
      const model = new bed.mp.Model("model", { name: "provider-secret-roll" });
      const v1 = new bed.mp.Deployment("v1", { modelId: model.id, command: ECHO });
      const rolling = new bed.mp.PromotionSettings("rolling", {
        name: "provider-secret-roll-rolling",
        rollingDeploy: true,
        rollingDeployConfig: { maxSurgePercent: 50, maxUnavailablePercent: 0, stabilizationTimeSeconds: 1 },
      });
      const production = new bed.mp.Environment("production", {
        modelId: model.id,
        name: "production",
        deploymentId: v1.id,
        promotionSettings: rolling,
        autoscalingSettings: { minReplica: 2, maxReplica: 2 },
        secrets: { API_TOKEN: token },
        promotionTimeoutSeconds: 120,
      });
      return { modelId: model.id, endpoint: production.endpoint };
    };
    await withStack("provider-variables", program, async (stack: Stack) => {
      const first = await stack.up({ onOutput: () => undefined });
      expect(first.summary.result).toBe("succeeded");
      const endpoint = String(first.outputs.endpoint?.value);
      const modelId = String(first.outputs.modelId?.value);
      expect(await predictIdentity(endpoint)).toEqual(expect.objectContaining({ environment: "production", secret_sha256: sha256("token-one") }));

      token = "token-two";
      const load = startLoad({ url: endpoint, concurrency: 4, headers: { authorization: `Api-Key ${bed.engine.apiKey}` } });
      let output = "";
      const upStartedAt = Date.now();
      const up = await stack.up({ onOutput: (text) => (output += text) });
      const upReturnedAt = Date.now();
      // the moment up returns, the roll is over: every replica holds the new secret
      const rollout = await bed.engine.client.call("getVariablesRollout", { params: { model_id: modelId, env_name: "production" } });
      const right = await Promise.all(Array.from({ length: 20 }, () => predictIdentity(endpoint)));
      const report = await load.stop();
      const oldAfterUp = right.filter((identity) => identity.secret_sha256 !== sha256("token-two")).length;
      const upSeconds = (upReturnedAt - upStartedAt) / 1000;
      console.log(`replica-sets provider: up of the secret change ${upSeconds.toFixed(1)} s, rollout ${rollout.status} ${rollout.replicas.updated_ready}/${rollout.replicas.desired}, ${report.sent} requests under load, ${report.failed} failed, ${oldAfterUp}/20 answers with the old secret right after up`);
      expect(up.summary.result).toBe("succeeded");
      expect(rollout).toMatchObject({ status: "SUCCEEDED", replicas: { desired: 2, updated_ready: 2, outdated: 0 } });
      expect(oldAfterUp).toBe(0);
      expect(report.failures).toEqual([]);
      expect(report.sent).toBeGreaterThan(50);
      // the environment's row shows the roll's progress, and no secret value
      expect(output).toMatch(/production: rolling replicas onto the new variables: \d\/2 updated/);
      expect(output).not.toContain("token-two");
    }, bed.connection());
  });
});
