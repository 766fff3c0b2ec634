/**
 * Issue 17: shadow agreement as a promotion analysis metric, end to end (real engine, real replica
 * processes of test/support/replicas/shadow-model.js, real load). The environment shadows the
 * candidate; while the promotion moves traffic, the requests v1 still serves are copied to the
 * candidate and compared; "promote only if the candidate agreed on ≥ 95 % of mirrored requests".
 * An agreeing candidate succeeds; one that disagrees on every 5th input (80 %) is rolled back with
 * the measured agreement in the reason, and no client request fails either way.
 */
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PromotionSettingsPatch } from "../../sdk/schemas/promotion-settings.js";
import { startTestEngine, waitFor, type TestEngine } from "../../testing/index.js";
import { ENGINE_OPTIONS, followPromotion } from "./promotion-support.js";

const SHADOW_MODEL = ["node", resolve(import.meta.dirname, "../support/replicas/shadow-model.js")];

let engine: TestEngine;
beforeAll(async () => {
  engine = await startTestEngine(ENGINE_OPTIONS);
}, 120_000);
afterAll(async () => engine?.close());

/** Requests with i = 0, 1, 2 … until stopped, `concurrency` at a time; the statuses. */
function startRequests(url: string, concurrency = 4) {
  let next = 0;
  let stopped = false;
  const statuses: number[] = [];
  const workers = Array.from({ length: concurrency }, async () => {
    while (!stopped) {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Api-Key ${engine.apiKey}` },
        body: JSON.stringify({ i: next++ }),
      }).catch(() => undefined);
      await response?.arrayBuffer();
      statuses.push(response?.status ?? 0);
      await new Promise((done) => setTimeout(done, 2));
    }
  });
  return {
    sent: () => statuses.length,
    async stop() {
      stopped = true;
      await Promise.all(workers);
      return statuses;
    },
  };
}

async function shadowedModel(name: string, candidateEnv: Record<string, string>) {
  const { client } = engine;
  const model = await client.call("createModel", { body: { name } });
  const params = { model_id: model.id, env_name: "production" };
  await client.call("patchEnvironment", { params, body: { autoscaling_settings: { min_replica: 2, max_replica: 2 } } });
  const v1 = await client.call("createDeployment", { params: { model_id: model.id }, body: { command: SHADOW_MODEL, env: { VERSION: "v1" } } });
  const first = await client.call("promote", { params, body: { deployment_id: v1.id } });
  expect((await followPromotion(engine, model.id, first.id)).final.status).toBe("SUCCEEDED");
  await client.call("patchEnvironment", {
    params,
    body: {
      promotion_settings: PromotionSettingsPatch.parse({
        rolling_deploy: true,
        rolling_deploy_config: { max_surge_percent: 50, max_unavailable_percent: 0 },
        analysis: { interval_seconds: 1, inconclusive_limit: 10, metrics: [{ type: "shadow_agreement", min: 0.95, min_comparisons: 10 }] },
      }),
      shadow: { deployment: "candidate", max_queue: 1000, comparison: { mode: "json", numeric_tolerance: 0.001, fields: ["label", "score"] } },
    },
  });
  const v2 = await client.call("createDeployment", { params: { model_id: model.id }, body: { command: SHADOW_MODEL, env: { VERSION: "v2", ...candidateEnv } } });
  return { model, params, v1, v2, url: `${engine.url}/models/${model.id}/production/predict` };
}

describe("shadow agreement gates a promotion (issue 17)", () => {
  it("an agreeing candidate passes a shadow_agreement window at every step and succeeds", async () => {
    const setup = await shadowedModel("shadow-gate-agreeing", {});
    const load = startRequests(setup.url);
    await waitFor(() => load.sent() > 20, { message: "load to start" });
    const started = await engine.client.call("promote", { params: setup.params, body: { deployment_id: setup.v2.id } });
    const { final } = await followPromotion(engine, setup.model.id, started.id);
    const statuses = await load.stop();
    expect(final.status, final.error_message ?? "").toBe("SUCCEEDED");
    const judged = final.analysis!.runs.flatMap((run) => run.metrics).filter((metric) => metric.verdict !== "inconclusive");
    expect(judged.length).toBeGreaterThan(0);
    for (const metric of judged) expect(metric).toMatchObject({ name: "shadow_agreement", verdict: "pass", value: 1 });
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    console.log(`agreeing candidate: ${judged.map((metric) => metric.message).join(" | ")}`);
  }, 180_000);

  it("a candidate that disagrees on every 5th input is rolled back with the measured agreement; no client request fails", async () => {
    const setup = await shadowedModel("shadow-gate-disagreeing", { SHADOW_DISAGREE_EVERY: "5" });
    const load = startRequests(setup.url);
    await waitFor(() => load.sent() > 20, { message: "load to start" });
    const started = await engine.client.call("promote", { params: setup.params, body: { deployment_id: setup.v2.id } });
    const { final } = await followPromotion(engine, setup.model.id, started.id);
    const statuses = await load.stop();
    expect(final.status).toBe("FAILED");
    expect(final.error_message).toMatch(/^analysis failed at step 1\/2: shadow_agreement 0\.\d+ < 0\.95 \(candidate deployment-\d+, \d+ of \d+ mirrored requests agreed\)$/);
    const measured = Number(/shadow_agreement (0\.\d+)/.exec(final.error_message!)![1]);
    expect(measured).toBeGreaterThan(0.7);
    expect(measured).toBeLessThan(0.9);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    const environment = await engine.client.call("getEnvironment", { params: setup.params });
    expect(environment.current_deployment?.id).toBe(setup.v1.id);
    console.log(`disagreeing candidate: ${final.error_message}`);
  }, 180_000);
});
