/**
 * Issue 17, header routing end to end (real engine, real replica processes): while a promotion
 * waits PAUSED at 0 % traffic at its manual gate, requests with `x-modelplane-target: candidate`
 * (or the configured cookie) are served by the candidate and every other request by v1 — so a team
 * tries v2 in production before any traffic shifts; the candidate can be shadowed at the same time;
 * an allowed deployment is reachable with a key that may call it and refused (403) to a key limited
 * to the environment. The promotion stays where it was until approved.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PromotionSettingsPatch } from "../../sdk/schemas/promotion-settings.js";
import { startTestEngine, waitFor, type TestEngine } from "../../testing/index.js";
import { ENGINE_OPTIONS, modelOnV1 } from "./promotion-support.js";
import { runtimeUnderTest } from "./runtime-under-test.js";

let engine: TestEngine;
const runtime = runtimeUnderTest();

beforeAll(async () => {
  engine = await startTestEngine(ENGINE_OPTIONS);
}, 120_000);
afterAll(async () => engine?.close());

async function predict(url: string, apiKey: string, headers: Record<string, string> = {}): Promise<{ status: number; deploymentId: string | null }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Api-Key ${apiKey}`, ...headers },
    body: JSON.stringify({ text: "not a good day" }),
  });
  await response.arrayBuffer();
  return { status: response.status, deploymentId: response.headers.get("x-modelplane-deployment-id") };
}

describe("header routing (issue 17)", () => {
  it("during a promotion paused at 0 %, the header and the cookie reach the candidate, everything else v1; key scopes hold; approval moves on", async () => {
    const { client } = engine;
    const setup = await modelOnV1(engine, "header-routing", 1, PromotionSettingsPatch.parse({ confirm_promotion: true }));
    const { params, url } = setup;
    const v3 = await client.call("createDeployment", { params: { model_id: setup.model.id }, body: runtime.runnable("v1") });
    const environment = await client.call("patchEnvironment", {
      params,
      body: { header_routing: { cookie: "mp-target", allowed_deployments: [v3.id] } },
    });
    expect(environment.header_routing).toEqual({ header: "x-modelplane-target", cookie: "mp-target", allowed_deployments: [v3.id] });

    const started = await client.call("promote", { params, body: { deployment_id: setup.v2.id } });
    const promotionParams = { ...params, promotion_id: started.id };
    const paused = await waitFor(
      async () => {
        const promotion = await client.call("getPromotion", { params: promotionParams });
        return promotion.status === "PAUSED" ? promotion : undefined;
      },
      { timeoutMs: 90_000, message: "the promotion to wait at its gate" },
    );
    expect(paused).toMatchObject({ approval: "waiting", percent_traffic_to_new_version: 0 });

    const seen = { plain: new Set<string | null>(), header: new Set<string | null>(), cookie: new Set<string | null>() };
    for (let i = 0; i < 20; i++) {
      const plain = await predict(url, engine.apiKey);
      const header = await predict(url, engine.apiKey, { "x-modelplane-target": "candidate" });
      const cookie = await predict(url, engine.apiKey, { cookie: "theme=dark; mp-target=candidate" });
      for (const answer of [plain, header, cookie]) expect(answer.status).toBe(200);
      seen.plain.add(plain.deploymentId);
      seen.header.add(header.deploymentId);
      seen.cookie.add(cookie.deploymentId);
    }
    expect([...seen.plain]).toEqual([setup.v1.id]);
    expect([...seen.header]).toEqual([setup.v2.id]);
    expect([...seen.cookie]).toEqual([setup.v2.id]);

    // the candidate shadowed while it takes no traffic: every copy compared with v2's answer
    await client.call("patchEnvironment", { params, body: { shadow: { deployment: "candidate", comparison: { mode: "json", fields: ["label"] } } } });
    await waitFor(() => engine.engine.dataPlane.shadowOf(setup.model.id, "production") !== undefined, { timeoutMs: 10_000 });
    for (let i = 0; i < 30; i++) expect((await predict(url, engine.apiKey)).status).toBe(200);
    const shadowed = await waitFor(
      async () => {
        const report = await client.call("getShadow", { params });
        return report.compared === 30 ? report : undefined;
      },
      { timeoutMs: 20_000, message: "30 comparisons with the candidate" },
    );
    expect(shadowed.shadow_deployment_id).toBe(setup.v2.id);

    // key scopes: a key limited to production may try the candidate, not a deployment's own endpoint
    const limited = await client.createApiKey({ name: "production-only", scope: "inference", environment_names: ["production"] });
    const open = await client.createApiKey({ name: "any-environment", scope: "inference", model_ids: [setup.model.id] });
    expect((await predict(url, limited.key, { "x-modelplane-target": "candidate" })).deploymentId).toBe(setup.v2.id);
    expect((await predict(url, limited.key, { "x-modelplane-target": v3.id })).status).toBe(403);
    const allowed = await waitFor(
      async () => {
        const answer = await predict(url, open.key, { "x-modelplane-target": v3.id });
        return answer.status === 200 ? answer : undefined;
      },
      { timeoutMs: 60_000, message: "the allowed deployment to answer" },
    );
    expect(allowed.deploymentId).toBe(v3.id);
    expect((await predict(url, open.key, { "x-modelplane-target": "dep_not_allowed" })).status).toBe(403);

    // none of this moved the promotion
    expect(await client.call("getPromotion", { params: promotionParams })).toMatchObject({ status: "PAUSED", percent_traffic_to_new_version: 0 });
    await client.call("approvePromotion", { params });
    await waitFor(async () => (await client.call("getPromotion", { params: promotionParams })).status === "SUCCEEDED", { timeoutMs: 90_000, message: "SUCCEEDED" });
    // no candidate any more: the header gets the usual traffic, now v2
    expect((await predict(url, engine.apiKey, { "x-modelplane-target": "candidate" })).deploymentId).toBe(setup.v2.id);
    expect((await predict(url, engine.apiKey)).deploymentId).toBe(setup.v2.id);
  }, 240_000);
});
