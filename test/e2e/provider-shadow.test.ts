/**
 * Issue 17 through the Pulumi Automation API against a real engine with real replicas: an
 * Environment gains `shadow`; adding, changing and removing it are updates that leave the
 * environment's traffic alone — no promotion, the same deployment serving, no failed request under
 * load — and the engine's router mirrors to it meanwhile. Runs the compiled provider (dist/).
 */
import { resolve } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { describe, expect, it } from "vitest";
import type { ShadowArgs } from "../../provider/environment.js";
import { startLoad, waitFor } from "../../testing/index.js";
import { providerTestBed } from "../support/provider-test-bed.js";
import { repoRoot, withStack } from "../support/pulumi.js";

const SHADOW_MODEL = ["node", resolve(repoRoot, "test/support/replicas/shadow-model.js")];

const bed = providerTestBed({ runtime: { startupTimeoutMs: 20_000, stopGracePeriodMs: 2_000 }, promotionReadyTimeoutMs: 60_000 });

describe("Pulumi provider: Environment.shadow", { timeout: 300_000 }, () => {
  it("adding, changing and removing a shadow, and header routing, are updates that move no traffic and fail no request", async () => {
    let shadow: "none" | "v2" | "v2-half" = "none";
    const program = async () => {
      const model = new bed.mp.Model("model", { name: "provider-shadow" });
      const v1 = new bed.mp.Deployment("v1", { modelId: model.id, command: SHADOW_MODEL, env: { VERSION: "v1" } });
      const v2 = new bed.mp.Deployment("v2", { modelId: model.id, command: SHADOW_MODEL, env: { VERSION: "v2", SHADOW_DISAGREE_EVERY: "10" } });
      const shadowArgs: ShadowArgs | undefined =
        shadow === "none" ? undefined : { deployment: v2.id, percent: shadow === "v2" ? 100 : 50, maxQueue: 1000, comparison: { mode: "json", fields: ["label"] } };
      const production = new bed.mp.Environment("production", {
        modelId: model.id,
        name: "production",
        deploymentId: v1.id,
        ...(shadowArgs !== undefined ? { shadow: shadowArgs } : {}),
        // with the half shadow, a request may also name v2 in a cookie
        ...(shadow === "v2-half" ? { headerRouting: { cookie: "try_deployment", allowedDeployments: [v2.id] } } : {}),
      });
      return { modelId: model.id, v1: v1.id, v2: v2.id, endpoint: production.endpoint, lastPromotion: production.lastPromotion };
    };
    await withStack(
      "provider-shadow",
      program,
      async (stack: Stack) => {
        const first = await stack.up({ onOutput: () => undefined });
        expect(first.summary.result).toBe("succeeded");
        const modelId = String(first.outputs.modelId?.value);
        const v1 = String(first.outputs.v1?.value);
        const v2 = String(first.outputs.v2?.value);
        const endpoint = String(first.outputs.endpoint?.value);
        const promotionId = (first.outputs.lastPromotion?.value as { id: string }).id;
        const params = { model_id: modelId, env_name: "production" };
        // input 20: v2 flips the label on every 10th input, so it disagrees on all of these
        const load = startLoad({ url: endpoint, concurrency: 2, pauseMs: 5, headers: { authorization: `Api-Key ${bed.engine.apiKey}` }, body: { i: 20 } });

        shadow = "v2";
        const preview = await stack.preview({ onOutput: () => undefined });
        expect(preview.changeSummary).toMatchObject({ update: 1 });
        expect(preview.changeSummary.replace ?? 0).toBe(0);
        expect((await stack.up({ onOutput: () => undefined })).summary.result).toBe("succeeded");
        expect((await bed.engine.client.call("getEnvironment", { params })).shadow).toMatchObject({ deployment: v2, percent: 100, comparison: { mode: "json", fields: ["label"] } });
        const mirrored = await waitFor(
          async () => {
            const report = await bed.engine.client.shadowReport(modelId, "production");
            return report.compared >= 100 ? report : undefined;
          },
          { timeoutMs: 60_000, message: "100 comparisons" },
        );
        expect(mirrored.agreement_rate).toBe(0);
        expect(mirrored.disagreements[0]?.differing_fields).toEqual(["label"]);

        shadow = "v2-half";
        expect((await stack.up({ onOutput: () => undefined })).summary.result).toBe("succeeded");
        const halfway = await bed.engine.client.call("getEnvironment", { params });
        expect(halfway.shadow?.percent).toBe(50);
        expect(halfway.header_routing).toMatchObject({ cookie: "try_deployment", allowed_deployments: [v2] });
        // a request naming v2 in the cookie is served by v2; the load (no cookie) stays on v1
        const named = await fetch(endpoint, {
          method: "POST",
          headers: { authorization: `Api-Key ${bed.engine.apiKey}`, "content-type": "application/json", cookie: `try_deployment=${v2}` },
          body: JSON.stringify({ i: 1 }),
        });
        expect(named.status).toBe(200);
        expect(named.headers.get("x-modelplane-deployment-id")).toBe(v2);
        await named.body?.cancel();
        // a refresh reads both back without drift
        expect((await stack.preview({ refresh: true, onOutput: () => undefined })).changeSummary).toEqual({ same: expect.any(Number) });
        shadow = "none";
        expect((await stack.up({ onOutput: () => undefined })).summary.result).toBe("succeeded");
        const report = await load.stop();

        const environment = await bed.engine.client.call("getEnvironment", { params });
        expect(environment.shadow).toBeNull();
        expect(environment.header_routing).toBeNull();
        expect(environment.current_deployment?.id).toBe(v1);
        // no promotion was started by any of the three updates
        const { promotions } = await bed.engine.client.call("listPromotions", { params });
        expect(promotions.map((promotion) => promotion.id)).toEqual([promotionId]);
        expect(report.failures).toEqual([]);
        expect(new Set(report.responses.map((response) => response.deploymentId))).toEqual(new Set([v1]));
        console.log(`provider shadow: ${report.sent} requests under three updates, ${report.failed} failed; agreement ${mirrored.agreement_rate} over ${mirrored.compared}`);
        // a refresh reads the engine's shadow back without drift
        expect((await stack.preview({ refresh: true, onOutput: () => undefined })).changeSummary).toEqual({ same: expect.any(Number) });
      },
      { "modelplane:endpoint": { value: bed.engine.url }, "modelplane:apiKey": { value: bed.engine.apiKey, secret: true } },
    );
  });
});
