/**
 * Issue 16, the metrics export, black-box against a real engine (real HTTP, real replica
 * processes): GET /metrics is for metrics and admin keys only; predict traffic on both router
 * paths — the fast path (small content-length bodies) and node:http (a 70 KiB body, a chunked
 * body) — is counted exactly, per deployment, environment and rollout phase, before, during and
 * after a promotion; replica, promotion and engine gauges say what the API says; no label ever
 * carries a secret, a key or a path, and a deleted deployment's series go away.
 */
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PromotionKind, PromotionStatus } from "../../sdk/schemas/promotion.js";
import { startTestEngine, waitFor, waitForPromotion, type TestEngine } from "../../testing/index.js";
import { parsePrometheusText, samplesOf, sumOf, type Sample } from "../support/prometheus-text.js";
import { ENGINE_OPTIONS, V1_COMMAND, V2_COMMAND } from "./promotion-support.js";

let engine: TestEngine;
let modelId: string;
let v1: string;
let v2: string;
let metricsKey: string;
let inferenceKey: string;
const SECRET_VALUE = "metrics-test-secret-value-7f3a9c";

interface Answer {
  status: number;
  deploymentId: string | undefined;
}

type BodyShape = "small" | "70KiB" | "chunked" | "not-json";

/** A predict request on its own connection: `small` and `not-json` take the fast path
 * (content-length ≤ 64 KiB), `70KiB` and `chunked` are handed to node:http. */
function post(path: string, authorization: string | undefined, shape: BodyShape = "small"): Promise<Answer> {
  const payload = shape === "not-json" ? "{not json" : JSON.stringify({ text: "a good day", pad: shape === "70KiB" ? "x".repeat(70 * 1024) : "" });
  return new Promise((resolvePost, reject) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (authorization !== undefined) headers.authorization = authorization;
    if (shape !== "chunked") headers["content-length"] = String(Buffer.byteLength(payload));
    const req = httpRequest(new URL(path, engine.url), { method: "POST", headers, agent: false }, (res) => {
      res.resume();
      res.on("end", () => {
        const deploymentId = res.headers["x-modelplane-deployment-id"];
        resolvePost({ status: res.statusCode ?? 0, deploymentId: typeof deploymentId === "string" ? deploymentId : undefined });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    if (shape === "chunked") {
      req.write(payload.slice(0, 10));
      req.end(payload.slice(10));
    } else {
      req.end(payload);
    }
  });
}

const admin = () => `Api-Key ${engine.apiKey}`;
const production = () => `/models/${modelId}/production/predict`;

async function scrapeAs(authorization: string | undefined): Promise<Response> {
  return fetch(`${engine.url}/metrics`, { headers: authorization === undefined ? {} : { authorization } });
}

async function scrape(): Promise<{ text: string; samples: Sample[] }> {
  const response = await scrapeAs(`Api-Key ${metricsKey}`);
  expect(response.status).toBe(200);
  const text = await response.text();
  return { text, samples: parsePrometheusText(text) };
}

/** `count` requests one after another; every answer must have `status`. */
async function send(count: number, path: string, shape: BodyShape, status = 200, authorization = admin()): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let i = 0; i < count; i++) answers.push(await post(path, authorization, shape));
  expect(answers.map((answer) => answer.status)).toEqual(Array(count).fill(status));
  return answers;
}

const REQUESTS = "modelplane_inference_requests_total";
const END_TO_END = "modelplane_inference_end_to_end_response_time_seconds";
const FIRST_BYTE = "modelplane_inference_time_to_first_byte_seconds";

beforeAll(async () => {
  engine = await startTestEngine(ENGINE_OPTIONS);
  const { client } = engine;
  const model = await client.call("createModel", { body: { name: "metrics" } });
  modelId = model.id;
  const params = { model_id: modelId, env_name: "production" };
  // One replica each, and a canary ramp slow enough (10 stages over 10 min) to be paused at its first stage.
  await client.call("patchEnvironment", {
    params,
    body: { autoscaling_settings: { min_replica: 1, max_replica: 1 }, promotion_settings: { ramp_up_while_promoting: true, ramp_up_duration_seconds: 600 } },
  });
  await client.call("putVariable", { params: { ...params, name: "API_TOKEN" }, body: { value: SECRET_VALUE, secret: true } });
  v1 = (await client.call("createDeployment", { params: { model_id: modelId }, body: { command: V1_COMMAND } })).id;
  const first = await client.call("promote", { params, body: { deployment_id: v1 } });
  await waitForPromotion(client, { modelId, environment: "production", promotionId: first.id }, { deadline: Date.now() + 90_000 });
  v2 = (await client.call("createDeployment", { params: { model_id: modelId }, body: { command: V2_COMMAND } })).id;
  metricsKey = (await client.createApiKey({ name: "scraper", scope: "metrics" })).key;
  inferenceKey = (await client.createApiKey({ name: "caller", scope: "inference" })).key;
}, 180_000);
afterAll(async () => engine?.close());

describe("GET /metrics access", () => {
  it("no key or a wrong key: 401; an inference key: 403; a metrics key and an admin key (Api-Key or Bearer): 200 in the text format", async () => {
    for (const authorization of [undefined, "Api-Key mpk_not-a-real-key-0123456789", "Bearer nope", "Basic Zm9vOmJhcg=="]) {
      const response = await scrapeAs(authorization);
      expect(response.status, String(authorization)).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(/Api-Key/);
      expect(await response.json()).toMatchObject({ error: { code: "UNAUTHORIZED" } });
    }
    const inference = await scrapeAs(`Api-Key ${inferenceKey}`);
    expect(inference.status).toBe(403);
    expect(await inference.json()).toMatchObject({ error: { code: "FORBIDDEN", message: expect.stringMatching(/metrics key/) } });
    for (const authorization of [`Api-Key ${metricsKey}`, `Bearer ${metricsKey}`, admin(), `Bearer ${engine.apiKey}`]) {
      const response = await scrapeAs(authorization);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      expect(await response.text()).toMatch(/^# HELP modelplane_inference_requests_total /m);
    }
    // only GET (and HEAD)
    const post = await fetch(`${engine.url}/metrics`, { method: "POST", headers: { authorization: `Api-Key ${metricsKey}` } });
    expect(post.status).toBe(405);
  });

  it("a metrics key reads /metrics and nothing else: the management API and predict answer 403", async () => {
    const management = await fetch(`${engine.url}/v1/models`, { headers: { authorization: `Api-Key ${metricsKey}` } });
    expect(management.status).toBe(403);
    for (const shape of ["small", "70KiB"] as const) expect((await post(production(), `Api-Key ${metricsKey}`, shape)).status, shape).toBe(403);
  });
});

describe("predict traffic, counted exactly on both router paths", () => {
  const stableV1 = () => ({ model_id: modelId, deployment_id: v1, environment: "production", replica_set: `${v1}.production`, rollout_phase: "stable" });

  it("the fast path: 7 requests → 7 with status 200, 7 in each histogram, none in flight", async () => {
    await send(7, production(), "small");
    const { samples } = await scrape();
    expect(sumOf(samples, REQUESTS, { deployment_id: v1 })).toBe(7);
    expect(sumOf(samples, REQUESTS, { ...stableV1(), status_code: "200" })).toBe(7);
    for (const histogram of [END_TO_END, FIRST_BYTE]) {
      expect(sumOf(samples, `${histogram}_count`, stableV1()), histogram).toBe(7);
      expect(sumOf(samples, `${histogram}_bucket`, { ...stableV1(), le: "+Inf" }), histogram).toBe(7);
      expect(sumOf(samples, `${histogram}_sum`, stableV1()), histogram).toBeGreaterThan(0);
    }
    expect(sumOf(samples, "modelplane_inference_requests_in_flight", { replica_set: `${v1}.production` })).toBe(0);
  });

  it("node:http: 3 bodies of 70 KiB and 2 chunked ones → 5 more with 200; 2 that the model refuses → 2 with 400; 2 on the per-deployment endpoint → environment and phase empty", async () => {
    await send(3, production(), "70KiB");
    await send(2, production(), "chunked");
    await send(2, production(), "not-json", 400);
    await send(2, `/models/${modelId}/deployment/${v1}/predict`, "small");
    const { samples } = await scrape();
    expect(sumOf(samples, REQUESTS, { ...stableV1(), status_code: "200" })).toBe(12);
    expect(sumOf(samples, REQUESTS, { ...stableV1(), status_code: "400" })).toBe(2);
    expect(sumOf(samples, `${END_TO_END}_count`, stableV1())).toBe(14);
    expect(sumOf(samples, `${FIRST_BYTE}_count`, stableV1())).toBe(14);
    const own = { model_id: modelId, deployment_id: v1, environment: "", replica_set: v1, rollout_phase: "" };
    expect(sumOf(samples, REQUESTS, { ...own, status_code: "200" })).toBe(2);
    expect(sumOf(samples, REQUESTS, { deployment_id: v1 })).toBe(16);
  });

  it("requests turned away before routing are counted by reason only: no key, a key that may not, an unknown model", async () => {
    const before = (await scrape()).samples;
    expect((await post(production(), undefined)).status).toBe(401);
    await send(1, production(), "small", 403, `Api-Key ${metricsKey}`);
    await send(1, `/models/mdl_does_not_exist/production/predict`, "small", 404);
    const { samples, text } = await scrape();
    const delta = (reason: string) => sumOf(samples, "modelplane_inference_rejected_requests_total", { reason }) - sumOf(before, "modelplane_inference_rejected_requests_total", { reason });
    expect({ unauthorized: delta("unauthorized"), forbidden: delta("forbidden"), not_found: delta("not_found") }).toEqual({ unauthorized: 1, forbidden: 1, not_found: 1 });
    // an id from a URL never becomes a label
    expect(text).not.toContain("mdl_does_not_exist");
    expect(sumOf(samples, REQUESTS, { deployment_id: v1 })).toBe(16);
  });
});

describe("a promotion", () => {
  it("requests while it runs are 'promoting', split between v1 and v2 exactly as the clients were answered; its status, step and percent are those of the API; afterwards v2 is 'stable'", async () => {
    const { client } = engine;
    const params = { model_id: modelId, env_name: "production" };
    const promotion = await client.call("promote", { params, body: { deployment_id: v2 } });
    await waitFor(async () => ((await client.call("getEnvironment", { params })).in_progress_promotion?.percent_traffic_to_new_version ?? 0) > 0, {
      timeoutMs: 60_000,
      message: "the canary's first stage",
    });
    const paused = await client.call("pausePromotion", { params });
    expect(paused.status).toBe("PAUSED");

    const during = await scrape();
    const promotionLabels = { model_id: modelId, environment: "production", deployment_id: v2, previous_deployment_id: v1, kind: paused.kind };
    expect(samplesOf(during.samples, "modelplane_promotion_status", { ...promotionLabels, status: "PAUSED" }).map((s) => s.value)).toEqual([1]);
    expect(sumOf(during.samples, "modelplane_promotion_status", promotionLabels)).toBe(1);
    expect(sumOf(during.samples, "modelplane_promotion_traffic_percent", promotionLabels)).toBe(paused.percent_traffic_to_new_version);
    expect(sumOf(during.samples, "modelplane_promotion_step", promotionLabels)).toBe(paused.step);
    expect(sumOf(during.samples, "modelplane_promotion_total_steps", promotionLabels)).toBe(paused.total_steps);
    expect(sumOf(during.samples, "modelplane_promotion_duration_seconds", promotionLabels)).toBeGreaterThan(0);
    for (const set of [`${v1}.production`, `${v2}.production`]) {
      expect(sumOf(during.samples, "modelplane_replicas_ready", { replica_set: set }), set).toBe(1);
      expect(sumOf(during.samples, "modelplane_replicas_desired", { replica_set: set }), set).toBe(1);
      expect(sumOf(during.samples, "modelplane_replicas_starting", { replica_set: set }), set).toBe(0);
    }

    const answers = [...(await send(40, production(), "small")), ...(await send(10, production(), "70KiB"))];
    const answeredBy = (deploymentId: string) => answers.filter((answer) => answer.deploymentId === deploymentId).length;
    expect(answeredBy(v1) + answeredBy(v2)).toBe(50);
    const promoting = await scrape();
    const phase = (deploymentId: string, rolloutPhase: string) => ({ deployment_id: deploymentId, environment: "production", rollout_phase: rolloutPhase, status_code: "200" });
    expect({ v1: sumOf(promoting.samples, REQUESTS, phase(v1, "promoting")), v2: sumOf(promoting.samples, REQUESTS, phase(v2, "promoting")) }).toEqual({
      v1: answeredBy(v1),
      v2: answeredBy(v2),
    });
    // what was counted before the promotion stays where it was
    expect(sumOf(promoting.samples, REQUESTS, phase(v1, "stable"))).toBe(12);

    await client.call("forceRollForwardPromotion", { params });
    const final = await waitForPromotion(client, { modelId, environment: "production", promotionId: promotion.id }, { deadline: Date.now() + 60_000 });
    expect(final.status).toBe("SUCCEEDED");
    await send(6, production(), "small");
    const after = await scrape();
    expect(sumOf(after.samples, REQUESTS, phase(v2, "stable"))).toBe(6);
    expect(sumOf(after.samples, REQUESTS, { deployment_id: v2 })).toBe(answeredBy(v2) + 6);
    expect(samplesOf(after.samples, "modelplane_promotion_status", { ...promotionLabels, status: "SUCCEEDED" }).map((s) => s.value)).toEqual([1]);
    expect(sumOf(after.samples, "modelplane_promotion_status", promotionLabels)).toBe(1);
    expect(sumOf(after.samples, "modelplane_promotion_traffic_percent", promotionLabels)).toBe(final.percent_traffic_to_new_version);
    expect(sumOf(after.samples, "modelplane_replicas_ready", { replica_set: `${v2}.production` })).toBe(1);
    expect(samplesOf(after.samples, "modelplane_replica_set_info", { replica_set: `${v2}.production`, model_name: "metrics" })).toHaveLength(1);
  }, 120_000);
});

describe("labels", () => {
  it("never carry a secret, a key, a variable or a path: every label value is an id, a name or a word of a fixed vocabulary", async () => {
    const { text, samples } = await scrape();
    for (const secret of [SECRET_VALUE, engine.apiKey, metricsKey, inferenceKey, "/models/", "a good day"]) expect(text).not.toContain(secret);
    const ids = new Set([modelId, v1, v2, `${v1}.production`, `${v2}.production`, "production", ""]);
    const deploymentNames = new Set((await engine.client.call("listDeployments", { params: { model_id: modelId } })).deployments.map((d) => d.name));
    const vocabulary: Record<string, (value: string) => boolean> = {
      model_id: (value) => ids.has(value),
      deployment_id: (value) => ids.has(value),
      previous_deployment_id: (value) => ids.has(value),
      replica_set: (value) => ids.has(value),
      environment: (value) => ids.has(value),
      model_name: (value) => value === "metrics",
      deployment_name: (value) => deploymentNames.has(value),
      rollout_phase: (value) => ["promoting", "stable", ""].includes(value),
      status_code: (value) => /^[1-9][0-9]{2}$/.test(value),
      reason: (value) => ["unauthorized", "forbidden", "not_found", "method_not_allowed"].includes(value),
      status: (value) => (PromotionStatus.options as readonly string[]).includes(value),
      kind: (value) => (PromotionKind.options as readonly string[]).includes(value),
      operation: (value) => ["select", "insert", "update", "delete", "other"].includes(value),
      result: (value) => ["ok", "error"].includes(value),
      source: (value) => value === "promotions",
      le: (value) => value === "+Inf" || Number.isFinite(Number(value)),
    };
    const modelplane = samples.filter((sample) => sample.name.startsWith("modelplane_"));
    expect(modelplane.length).toBeGreaterThan(50);
    for (const sample of modelplane) {
      for (const [name, value] of Object.entries(sample.labels)) {
        const allowed = vocabulary[name];
        expect(allowed, `label ${name} of ${sample.name}`).toBeDefined();
        expect(allowed!(value), `${sample.name}{${name}="${value}"}`).toBe(true);
      }
    }
  });

  it("a deleted deployment's series go away (series stay bounded by what exists)", async () => {
    const before = await scrape();
    expect(samplesOf(before.samples, REQUESTS, { deployment_id: v1 }).length).toBeGreaterThan(0);
    await engine.client.call("deleteDeployment", { params: { model_id: modelId, deployment_id: v1 } });
    await waitFor(async () => samplesOf((await scrape()).samples, REQUESTS, { deployment_id: v1 }).length === 0, { message: "v1's request series dropped" });
    const after = await scrape();
    expect(after.samples.filter((sample) => sample.labels.replica_set?.startsWith(v1) === true)).toEqual([]);
    expect(sumOf(after.samples, REQUESTS, { deployment_id: v2 })).toBeGreaterThan(0);
  });
});

describe("engine internals", () => {
  it("store statements and transactions, reconcile passes, and Node's own process metrics", async () => {
    const { samples } = await scrape();
    expect(sumOf(samples, "modelplane_store_query_duration_seconds_count", { operation: "select" })).toBeGreaterThan(0);
    expect(sumOf(samples, "modelplane_store_query_duration_seconds_count", { operation: "update" })).toBeGreaterThan(0);
    expect(sumOf(samples, "modelplane_store_transaction_duration_seconds_count")).toBeGreaterThan(0);
    const passes = sumOf(samples, "modelplane_reconcile_passes_total", { result: "ok" });
    expect(passes).toBeGreaterThan(0);
    expect(sumOf(samples, "modelplane_reconcile_pass_duration_seconds_count")).toBe(passes + sumOf(samples, "modelplane_reconcile_passes_total", { result: "error" }));
    expect(sumOf(samples, "modelplane_reconcile_lag_seconds_count")).toBeGreaterThan(0);
    expect(samplesOf(samples, "process_cpu_seconds_total")).toHaveLength(1);
    expect(samplesOf(samples, "nodejs_eventloop_lag_seconds")).toHaveLength(1);
  });
});
