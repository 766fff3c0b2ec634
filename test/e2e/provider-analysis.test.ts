/**
 * Automated promotion analysis through `pulumi up` (issue 16): the PromotionSettings resource takes
 * `analysis`; a candidate the analysis finds failing is rolled back by the engine, the update fails
 * with the measured value, and the stack's state says the deployment that really serves.
 */
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { startLoad, waitFor } from "../../testing/index.js";
import { providerTestBed } from "../support/provider-test-bed.js";
import { repoRoot, withStack } from "../support/pulumi.js";

const models = resolve(repoRoot, "examples/models");

const quiet = { onOutput: () => undefined };

const bed = providerTestBed({ runtime: { startupTimeoutMs: 6_000, stopGracePeriodMs: 2_000 } });

describe("analysis through the provider", () => {
  it("a candidate that fails its analysis fails `pulumi up` with the measured value; the state says v1 still serves", async () => {
    let target: "v1" | "v2" = "v1";
    const program = async () => {
      const model = new bed.mp.Model("model", { name: "analysis-provider" });
      const v1 = new bed.mp.Deployment("v1", { modelId: model.id, command: ["node", `${models}/sentiment-v1/server.js`] });
      // every second prediction of v2 answers 500
      const v2 = new bed.mp.Deployment("v2", { modelId: model.id, command: ["node", `${models}/sentiment-v2/server.js`], env: { MODEL_ERROR_RATE: "0.5" } });
      const settings = new bed.mp.PromotionSettings("analyzed", {
        name: "analysis-provider-rolling",
        rollingDeploy: true,
        rollingDeployConfig: { maxSurgePercent: 50, maxUnavailablePercent: 0 },
        analysis: { intervalSeconds: 1, metrics: [{ type: "success_rate", min: 0.95, minRequests: 5 }] },
      });
      const production = new bed.mp.Environment("production", {
        modelId: model.id,
        name: "production",
        deploymentId: target === "v1" ? v1.id : v2.id,
        promotionSettings: settings,
        autoscalingSettings: { minReplica: 2, maxReplica: 2 },
        promotionTimeoutSeconds: 120,
      });
      return { modelId: model.id, endpoint: production.endpoint, v1: v1.id, v2: v2.id };
    };
    await withStack("provider-analysis", program, async (stack) => {
      const first = await stack.up(quiet);
      const modelId = String(first.outputs.modelId?.value);
      const v1 = String(first.outputs.v1?.value);
      const load = startLoad({ apiKey: bed.engine.apiKey, url: `${bed.engine.url}/models/${modelId}/production/predict`, concurrency: 4, pauseMs: 5 });
      await waitFor(() => load.snapshot().sent > 30, { message: "load to start" });
      target = "v2";
      const failed = await stack.up(quiet).catch((error: unknown) => error as Error);
      const report = await load.stop();
      expect(failed).toBeInstanceOf(Error);
      expect(String((failed as Error).message)).toMatch(
        /to production failed: analysis failed at step 1\/2: success_rate 0\.\d+ < 0\.95 \(candidate deployment-\d+, \d+ requests\)/,
      );
      const environment = await bed.engine.client.call("getEnvironment", { params: { model_id: modelId, env_name: "production" } });
      expect(environment.current_deployment?.id).toBe(v1);
      const state = (await stack.exportStack()).deployment as { resources: Array<{ urn: string; outputs?: Record<string, unknown> }> };
      const production = state.resources.find((r) => r.urn.endsWith("modelplane:Environment::production"))!;
      expect(production.outputs).toMatchObject({ currentDeploymentId: v1 });
      // v1 answered every request it got
      expect(report.responses.filter((response) => response.deploymentId === v1 && response.status >= 500)).toEqual([]);
      console.log(`pulumi up failed with: ${/analysis failed[^\n]*/.exec(String((failed as Error).message))?.[0]}`);
    }, { "modelplane:endpoint": { value: bed.engine.url }, "modelplane:apiKey": { value: bed.engine.apiKey, secret: true } });
  });
});
