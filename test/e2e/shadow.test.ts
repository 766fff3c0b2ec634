/**
 * Issue 17, shadow serving, black-box against a real engine with real replica processes
 * (test/support/replicas/shadow-model.js): production runs v1; a shadow set with PATCH gets copies
 * of its requests and GET …/shadow compares the answers. A v2 that disagrees on every 10th input
 * shows 10 % disagreement with samples; an identical deployment 100 % agreement; a slow shadow
 * and a dead one fail no primary request, and the copies they shed, lose or back off from are
 * counted, also in GET /metrics. Setting, changing and removing a shadow leaves the environment's traffic alone.
 */
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ShadowReport, ShadowSettingsInput } from "../../sdk/schemas/shadow.js";
import { ValidationError } from "../../sdk/client-errors.js";
import { startTestEngine, waitFor, type TestEngine } from "../../testing/index.js";
import { assertCliBuilt, runCli } from "../cli/run-cli.js";
import { ENGINE_OPTIONS, followPromotion } from "./promotion-support.js";

const SHADOW_MODEL = ["node", resolve(import.meta.dirname, "../support/replicas/shadow-model.js")];

let engine: TestEngine;
let modelId: string;
let v1: string;
const shadows: Record<"disagreeing" | "identical" | "slow" | "dead", string> = { disagreeing: "", identical: "", slow: "", dead: "" };
const params = () => ({ model_id: modelId, env_name: "production" });
const url = () => `${engine.url}/models/${modelId}/production/predict`;

async function predict(i: number, headers: Record<string, string> = {}): Promise<{ status: number; deploymentId: string | null }> {
  const response = await fetch(url(), {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Api-Key ${engine.apiKey}`, "x-request-id": `r-${i}`, ...headers },
    body: JSON.stringify({ i }),
  });
  await response.arrayBuffer();
  return { status: response.status, deploymentId: response.headers.get("x-modelplane-deployment-id") };
}

/** `count` requests with i = 0…count-1, `concurrency` at a time; the statuses seen. */
async function load(count: number, concurrency = 4): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) statuses.push((await predict(next++)).status);
    }),
  );
  return statuses;
}

async function setShadow(shadow: ShadowSettingsInput | null): Promise<void> {
  await engine.client.call("patchEnvironment", { params: params(), body: { shadow } });
  // the engine's router takes the shadow from the environment.changed event: wait for it
  // each scenario shadows another deployment: the router has this one once it names it
  await waitFor(() => engine.engine.dataPlane.shadowOf(modelId, "production")?.deployment === (shadow?.deployment ?? undefined), {
    timeoutMs: 10_000,
    message: "the router has the shadow",
  });
}

const report = (): Promise<ShadowReport> => engine.client.call("getShadow", { params: params() });

/** Waits until `count` copies are accounted for in the report (every outcome). */
async function settled(count: number): Promise<ShadowReport> {
  let last: ShadowReport | undefined;
  await waitFor(
    async () => {
      last = await report();
      return Object.values(last.counts).reduce((sum, n) => sum + n, 0) >= count;
    },
    { timeoutMs: 30_000, message: `${count} copies accounted for` },
  );
  return last!;
}

beforeAll(async () => {
  engine = await startTestEngine(ENGINE_OPTIONS);
  const { client } = engine;
  const model = await client.call("createModel", { body: { name: "shadowed" } });
  modelId = model.id;
  const deploy = async (env: Record<string, string>) => (await client.call("createDeployment", { params: { model_id: modelId }, body: { command: SHADOW_MODEL, env } })).id;
  v1 = await deploy({ VERSION: "v1" });
  const first = await client.call("promote", { params: params(), body: { deployment_id: v1 } });
  expect((await followPromotion(engine, modelId, first.id)).final.status).toBe("SUCCEEDED");
  shadows.disagreeing = await deploy({ VERSION: "v2", SHADOW_DISAGREE_EVERY: "10" });
  shadows.identical = await deploy({ VERSION: "v3" });
  shadows.slow = await deploy({ VERSION: "v4", SHADOW_DELAY_MS: "250" });
  shadows.dead = await deploy({ VERSION: "v5", SHADOW_HANG_UP: "1" });
  // every deployment's own replica answers before the scenarios start
  for (const id of Object.values(shadows)) {
    await waitFor(async () => (await engine.client.call("getDeployment", { params: { model_id: modelId, deployment_id: id } })).status === "ACTIVE", {
      timeoutMs: 60_000,
      message: `deployment ${id} active`,
    });
  }
}, 240_000);
afterAll(async () => engine?.close());

describe("shadow serving (issue 17)", () => {
  it("rejects a bad shadow with 400 naming the field", async () => {
    const attempt = (shadow: unknown) =>
      engine.client.call("patchEnvironment", { params: params(), body: { shadow } as never }).then(
        () => undefined,
        (error: unknown) => error,
      );
    const tooMuch = await attempt({ deployment: "candidate", percent: 150 });
    expect(tooMuch).toBeInstanceOf(ValidationError);
    expect((tooMuch as ValidationError).status).toBe(400);
    expect((tooMuch as ValidationError).fields.map((field) => field.path)).toEqual(["shadow.percent"]);
    const unknown = await attempt({ deployment: "dep_nope" });
    expect(unknown).toBeInstanceOf(ValidationError);
    expect((unknown as ValidationError).fields.map((field) => field.path)).toEqual(["shadow.deployment"]);
  });

  it("a v2 that disagrees on 10 % of inputs shows 10 % disagreement with samples; the traffic is not disturbed", async () => {
    const before = await engine.client.call("getEnvironment", { params: params() });
    // a queue long enough for the whole burst: this scenario is about agreement, not shedding (a
    // shadow starved of CPU by a loaded machine can lag the primary by dozens of requests)
    await setShadow({ deployment: shadows.disagreeing, max_queue: 1000, comparison: { mode: "json", numeric_tolerance: 0.05, fields: ["label", "score"] } });
    const after = await engine.client.call("getEnvironment", { params: params() });
    expect(after.shadow).toMatchObject({ deployment: shadows.disagreeing, percent: 100 });
    expect(after.current_deployment?.id).toBe(before.current_deployment?.id);
    expect(engine.engine.dataPlane.routeOf(modelId, "production")).toEqual({ currentDeploymentId: v1, candidateDeploymentId: null, percentToCandidate: 0 });

    const statuses = await load(200);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    const seen = await settled(200);
    expect(seen.counts, JSON.stringify(seen.counts)).toMatchObject({ agreed: 180, disagreed: 20, shed: 0, shadow_error: 0 });
    expect(seen.agreement_rate).toBe(0.9);
    expect(seen.status_agreement_rate).toBe(1);
    expect(seen.shadow_deployment_id).toBe(shadows.disagreeing);
    expect(seen.disagreements.length).toBe(20);
    for (const sample of seen.disagreements) {
      expect(sample.differing_fields).toEqual(["label"]);
      expect(Number(sample.request_id.slice(2)) % 10).toBe(0);
      expect(sample.request_body).toBeUndefined();
    }
    expect(seen.latency_ms.primary.p99).toBeGreaterThan(0);
    expect(seen.latency_ms.shadow.p50).toBeGreaterThan(0);
  }, 120_000);

  it("two identical deployments agree on 100 %", async () => {
    await setShadow({ deployment: shadows.identical, max_queue: 1000, comparison: { mode: "json", fields: ["label", "score"] }, keep_bodies: true });
    expect((await load(100)).every((status) => status === 200)).toBe(true);
    const seen = await settled(100);
    expect(seen.counts, JSON.stringify(seen.counts)).toMatchObject({ agreed: 100, disagreed: 0 });
    expect(seen.agreement_rate).toBe(1);
    // the CLI shows the same comparison (by model name), as text and as the API's JSON
    assertCliBuilt();
    const connection = { MODELPLANE_ENDPOINT: engine.url, MODELPLANE_API_KEY: engine.apiKey };
    const shown = await runCli(["shadow", "shadowed", "production"], connection);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`shadow:        ${shadows.identical}, 100 % of requests`);
    expect(shown.stdout).toMatch(/compared: +100 \(agreed 100, disagreed 0\)/);
    expect(shown.stdout).toMatch(/agreement: +100\.00 % \(status 100\.00 %\)/);
    expect(shown.stdout).toContain("no disagreement sampled");
    const json = await runCli(["shadow", modelId, "production", "--json"], connection);
    expect(JSON.parse(json.stdout)).toMatchObject({ compared: 100, agreement_rate: 1, shadow_deployment_id: shadows.identical });
  }, 120_000);

  it("a slow shadow (250 ms a request) fails no primary request, sheds copies past its queue and counts them, also in GET /metrics", async () => {
    await setShadow({ deployment: shadows.slow, max_concurrency: 2, max_queue: 4 });
    const statuses = await load(150, 6);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    const seen = await settled(150);
    expect(seen.counts.shed).toBeGreaterThan(50);
    expect(seen.counts.agreed + seen.counts.disagreed + seen.counts.shed).toBe(150);
    expect(seen.latency_ms.shadow.p50).toBeGreaterThanOrEqual(250);
    const metrics = await (await fetch(`${engine.url}/metrics`, { headers: { authorization: `Api-Key ${engine.apiKey}` } })).text();
    const shed = new RegExp(`modelplane_shadow_requests_total\\{model_id="${modelId}",environment="production",shadow_deployment_id="${shadows.slow}",outcome="shed"\\} (\\d+)`).exec(metrics);
    expect(Number(shed?.[1])).toBe(seen.counts.shed);
    expect(metrics).toMatch(new RegExp(`modelplane_shadow_requests_total\\{[^}]*shadow_deployment_id="${shadows.disagreeing}",outcome="disagreed"\\} 20`));
    // the current window's gauges, as the report: exact comparison, so v4's "version" differs on every copy
    const ratio = new RegExp(`modelplane_shadow_agreement_ratio\\{model_id="${modelId}",environment="production",shadow_deployment_id="${shadows.slow}"\\} ([\\d.e-]+)`).exec(metrics);
    expect(Number(ratio?.[1])).toBe(seen.agreement_rate);
    const slowP50 = new RegExp(`modelplane_shadow_latency_seconds\\{[^}]*shadow_deployment_id="${shadows.slow}",side="shadow",quantile="0.5"\\} ([\\d.]+)`).exec(metrics);
    expect(Number(slowP50?.[1])).toBeGreaterThanOrEqual(0.25);
  }, 120_000);

  it("a dead shadow fails no primary request: its copies are counted shadow_error until it is backed off, then backed_off, also in GET /metrics", async () => {
    await setShadow({ deployment: shadows.dead });
    expect((await load(60)).filter((status) => status !== 200)).toEqual([]);
    const seen = await settled(60);
    expect(seen.counts.shadow_error + seen.counts.shed + seen.counts.backed_off, JSON.stringify(seen.counts)).toBe(60);
    // 5 failures in a row back it off for 1 s (then one probe a period): most of the 60 are not sent
    expect(seen.counts.shadow_error).toBeGreaterThanOrEqual(5);
    expect(seen.counts.backed_off).toBeGreaterThan(0);
    expect(seen.compared).toBe(0);
    const metrics = await (await fetch(`${engine.url}/metrics`, { headers: { authorization: `Api-Key ${engine.apiKey}` } })).text();
    const backedOff = new RegExp(`modelplane_shadow_requests_total\\{model_id="${modelId}",environment="production",shadow_deployment_id="${shadows.dead}",outcome="backed_off"\\} (\\d+)`).exec(metrics);
    expect(Number(backedOff?.[1])).toBe(seen.counts.backed_off);
  }, 120_000);

  it("removing the shadow stops the copies and leaves the traffic as it was", async () => {
    await setShadow(null);
    const environment = await engine.client.call("getEnvironment", { params: params() });
    expect(environment.shadow).toBeNull();
    expect((await load(20)).every((status) => status === 200)).toBe(true);
    const seen = await report();
    expect(seen.shadow).toBeNull();
    expect(seen.compared).toBe(0);
    expect(engine.engine.dataPlane.routeOf(modelId, "production")).toEqual({ currentDeploymentId: v1, candidateDeploymentId: null, percentToCandidate: 0 });
  }, 60_000);
});
