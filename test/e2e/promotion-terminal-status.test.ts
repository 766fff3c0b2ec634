/**
 * `in_progress_promotion` after a promotion ends (issue 13, finding 12): Baseten documents
 * SUCCEEDED, FAILED and CANCELED as statuses of `in_progress_promotion`, so the environment keeps
 * showing its newest promotion with its terminal status and `finished_at` until the next one
 * starts; a client polling only the environment sees how it ended. Real engine, real replicas.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Environment } from "../../sdk/schemas/environment.js";
import { isTerminalPromotionStatus } from "../../sdk/schemas/promotion.js";
import { PromotionNotSucceededError } from "../../sdk/wait.js";
import { startTestEngine, waitFor, waitForPromotion, type TestEngine } from "../../testing/index.js";
import { ENGINE_OPTIONS, V1_COMMAND } from "./promotion-support.js";

let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine(ENGINE_OPTIONS);
});
afterAll(async () => {
  await engine?.close();
});

/** Poll the environment (not the promotion) until its promotion has a terminal status, as a Baseten client would. */
async function environmentUntilTerminal(params: { model_id: string; env_name: string }): Promise<Environment> {
  return waitFor(
    async () => {
      const environment = await engine.client.call("getEnvironment", { params });
      const promotion = environment.in_progress_promotion;
      return promotion !== null && isTerminalPromotionStatus(promotion.status) ? environment : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 50, message: "in_progress_promotion to show a terminal status" },
  );
}

describe("in_progress_promotion shows the newest promotion with its terminal status until the next one starts", () => {
  it("SUCCEEDED, then FAILED, then CANCELED, each with finished_at; a new promotion replaces it at once", async () => {
    const { client } = engine;
    const model = await client.call("createModel", { body: { name: "terminal-status" } });
    const params = { model_id: model.id, env_name: "production" };
    expect((await client.call("getEnvironment", { params })).in_progress_promotion).toBeNull();

    // SUCCEEDED
    const v1 = await client.call("createDeployment", { params: { model_id: model.id }, body: { command: V1_COMMAND } });
    const first = await client.call("promote", { params, body: { deployment_id: v1.id } });
    const succeeded = await environmentUntilTerminal(params);
    expect(succeeded.in_progress_promotion).toMatchObject({ id: first.id, status: "SUCCEEDED", deployment_id: v1.id, percent_traffic_to_new_version: 100 });
    expect(Date.parse(succeeded.in_progress_promotion!.finished_at!)).toBeGreaterThanOrEqual(Date.parse(first.started_at));
    expect(succeeded.current_deployment?.id).toBe(v1.id);
    expect(succeeded.candidate_deployment).toBeNull();
    // still there later: nothing replaces it until the next promotion
    const later = await client.call("getEnvironment", { params });
    expect(later.in_progress_promotion).toEqual(succeeded.in_progress_promotion);
    // waiting without a promotion id resolves to the newest one, already done
    expect((await waitForPromotion(client, { modelId: model.id, environment: "production" }, { deadline: Date.now() + 10_000 })).id).toBe(first.id);

    // FAILED: a candidate that exits at once
    const crashing = await client.call("createDeployment", { params: { model_id: model.id }, body: { command: ["node", "-e", "process.exit(1)"] } });
    const second = await client.call("promote", { params, body: { deployment_id: crashing.id } });
    const failed = await environmentUntilTerminal(params);
    expect(failed.in_progress_promotion).toMatchObject({ id: second.id, status: "FAILED", deployment_id: crashing.id, percent_traffic_to_new_version: 0 });
    expect(failed.in_progress_promotion?.error_message).toMatch(/failing/);
    expect(failed.in_progress_promotion?.finished_at).not.toBeNull();
    expect(failed.current_deployment?.id).toBe(v1.id);
    expect(failed.candidate_deployment).toBeNull();
    await expect(waitForPromotion(client, { modelId: model.id, environment: "production" }, { deadline: Date.now() + 10_000 })).rejects.toBeInstanceOf(PromotionNotSucceededError);

    // the next promotion replaces it as soon as it starts; force-canceled, it shows CANCELED
    const silent = await client.call("createDeployment", {
      params: { model_id: model.id },
      // runs but never listens: never ready, never failing, so the promotion stays in RELEASING
      body: { command: ["node", "-e", "setInterval(() => {}, 1000)"] },
    });
    const third = await client.call("promote", { params, body: { deployment_id: silent.id } });
    const running = await client.call("getEnvironment", { params });
    expect(running.in_progress_promotion).toMatchObject({ id: third.id, status: "RELEASING", finished_at: null });
    expect(running.candidate_deployment?.id).toBe(silent.id);
    await client.call("forceCancelPromotion", { params });
    const canceled = await environmentUntilTerminal(params);
    expect(canceled.in_progress_promotion).toMatchObject({ id: third.id, status: "CANCELED", deployment_id: silent.id, percent_traffic_to_new_version: 0 });
    expect(canceled.in_progress_promotion?.finished_at).not.toBeNull();
    expect(canceled.current_deployment?.id).toBe(v1.id);
    expect(canceled.candidate_deployment).toBeNull();
    // the listing agrees with the detail
    const listed = (await client.call("listEnvironments", { params: { model_id: model.id } })).environments.find((environment) => environment.name === "production");
    expect(listed?.in_progress_promotion?.status).toBe("CANCELED");
    // and a control action on the ended promotion is still a conflict, not an action on it
    await expect(client.call("pausePromotion", { params })).rejects.toThrow(/no promotion in progress/);
  });
});
