/**
 * Shared set-up of the promotion end-to-end files: example model commands, a model whose
 * production runs v1 on fixed replicas, load assertions. Real engine, real replicas.
 */
import { resolve } from "node:path";
import { expect } from "vitest";
import type { Promotion } from "../../sdk/schemas/promotion.js";
import type { PromotionSettingsPatch } from "../../sdk/schemas/promotion-settings.js";
import { PromotionNotSucceededError } from "../../sdk/wait.js";
import { TEST_ENGINE_API_KEY, waitForPromotion, type LoadReport, type TestEngine } from "../../testing/index.js";
import { runtimeUnderTest } from "./runtime-under-test.js";

const models = resolve(import.meta.dirname, "../../examples/models");
export const V1_COMMAND = ["node", `${models}/sentiment-v1/server.js`];
export const V2_COMMAND = ["node", `${models}/sentiment-v2/server.js`];

/** Options for startTestEngine that keep replica start/stop quick but deadlines generous (2 shared cores). */
export const ENGINE_OPTIONS = {
  runtime: { startupTimeoutMs: 20_000, stopGracePeriodMs: 2_000 },
  promotionReadyTimeoutMs: 60_000,
} as const;

/** How v1 and v2 run on the runtime under test (a command on processes, an image on Kubernetes). */
const { runnable } = runtimeUnderTest();

/** A model whose production runs v1 on `replicas` fixed replicas, then has `settings` applied. */
export async function modelOnV1(
  engine: TestEngine,
  name: string,
  replicas: number,
  settings: PromotionSettingsPatch = {},
  knobs: { v1Env?: Record<string, string>; v2Env?: Record<string, string> } = {},
) {
  const { client } = engine;
  const model = await client.call("createModel", { body: { name } });
  const params = { model_id: model.id, env_name: "production" };
  await client.call("patchEnvironment", { params, body: { autoscaling_settings: { min_replica: replicas, max_replica: replicas } } });
  const v1 = await client.call("createDeployment", { params: { model_id: model.id }, body: { ...runnable("v1"), env: knobs.v1Env ?? {} } });
  const first = await client.call("promote", { params, body: { deployment_id: v1.id } });
  await waitForPromotion(client, { modelId: model.id, environment: "production", promotionId: first.id }, { deadline: Date.now() + 60_000 });
  if (Object.keys(settings).length > 0) await client.call("patchEnvironment", { params, body: { promotion_settings: settings } });
  const v2 = await client.call("createDeployment", { params: { model_id: model.id }, body: { ...runnable("v2"), env: knobs.v2Env ?? {} } });
  return {
    model,
    params,
    v1,
    v2,
    url: `${engine.url}/models/${model.id}/production/predict`,
    deploymentUrl: (deploymentId: string) => `${engine.url}/models/${model.id}/deployment/${deploymentId}/predict`,
  };
}

/** Follow a promotion to its end (any terminal status), recording every change seen. */
export async function followPromotion(engine: TestEngine, modelId: string, promotionId: string, environment = "production") {
  const seen: Promotion[] = [];
  const final = await waitForPromotion(
    engine.client,
    { modelId, environment, promotionId },
    { pollMs: 50, deadline: Date.now() + 90_000, onProgress: (promotion) => seen.push(promotion) },
  ).catch((error: unknown) => {
    if (error instanceof PromotionNotSucceededError) return error.promotion;
    throw error;
  });
  return { final, seen };
}

export function expectNoFailures(report: LoadReport, minimum = 50) {
  expect(report.failures, `failed requests: ${JSON.stringify(report.failures)}`).toEqual([]);
  expect(report.sent).toBeGreaterThan(minimum);
}

/** POST a predict request with an API key (default: the admin key of startTestEngine's engines); status and parsed body. */
export async function predict(
  url: string,
  body: unknown = { text: "a good day" },
  apiKey: string = TEST_ENGINE_API_KEY,
): Promise<{ status: number; body: Record<string, unknown>; deploymentId: string | null }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Api-Key ${apiKey}` },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: response.status, body: parsed, deploymentId: response.headers.get("x-modelplane-deployment-id") };
}
