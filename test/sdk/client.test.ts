/**
 * The typed client against real engines: every error family, retries that ride out an engine
 * restart (a `modelplane serve` process killed and started again on the same port and data dir),
 * no retry of a non-idempotent request once it was sent, and waitForPromotion across a restart.
 */
import { createServer as createTcpServer, type AddressInfo, type Server } from "node:net";
import { resolve } from "node:path";
import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AuthError,
  ConflictError,
  EngineUnavailableError,
  ModelplaneClient,
  ModelplaneError,
  NotFoundError,
  ValidationError,
  closeAllClients,
  waitForPromotion,
  type Promotion,
} from "../../sdk/index.js";
import { spawnEngine, type EngineProcess } from "../support/compiled-engine.js";
import { createPgliteTemplate, type PgliteTemplate } from "../support/pglite-template.js";
import { startTestEngine, waitFor, type TestEngine } from "../../testing/index.js";
import { assertCliBuilt, cliMain } from "../cli/run-cli.js";

const models = resolve(import.meta.dirname, "../../examples/models");
const API_KEY = "client-test-key";

/** A port nobody listens on right now (bound, then released). */
async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((closed) => server.close(() => closed()));
  return port;
}

async function stopEngine(engine: EngineProcess): Promise<void> {
  if (engine.child.exitCode !== null) return;
  engine.child.kill("SIGTERM");
  expect(await engine.exited).toBe(0);
}

afterAll(async () => closeAllClients());

describe("typed errors", () => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await startTestEngine({ apiKey: API_KEY });
  });
  afterAll(async () => engine?.close());

  it("400 → ValidationError listing every failing field with its path and rule", async () => {
    const model = await engine.client.call("createModel", { body: { name: "invalid" } });
    const error = await engine.client
      .call("createDeployment", { params: { model_id: model.id }, body: { command: [], autoscaling_settings: { min_replica: 3, max_replica: 1 } } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    const validation = error as ValidationError;
    expect(validation).toMatchObject({ code: "VALIDATION_FAILED", status: 400 });
    expect(validation.fields.map((field) => field.path).sort()).toEqual(["autoscaling_settings.max_replica", "command"]);
    for (const field of validation.fields) expect(field.rule).toMatch(/\w/);
    expect(validation.fields.find((field) => field.path === "command")?.rule).toBe("command_or_image_required");
  });

  it("401 → AuthError for a wrong key, 404 → NotFoundError, 409 → ConflictError", async () => {
    const wrongKey = new ModelplaneClient({ endpoint: engine.url, apiKey: "not-the-key" });
    await expect(wrongKey.call("listModels", {})).rejects.toBeInstanceOf(AuthError);
    await expect(wrongKey.call("listModels", {})).rejects.toMatchObject({ code: "UNAUTHORIZED", status: 401 });

    const missing = await engine.client.call("getModel", { params: { model_id: "mdl_nonexistent" } }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ code: "NOT_FOUND", status: 404 });

    const model = await engine.client.call("createModel", { body: { name: "conflicts" } });
    const duplicate = await engine.client.call("createEnvironment", { params: { model_id: model.id }, body: { name: "production" } }).catch((e: unknown) => e);
    expect(duplicate).toBeInstanceOf(ConflictError);
    expect(duplicate).toMatchObject({ code: "CONFLICT", status: 409 });
    await expect(engine.client.call("pausePromotion", { params: { model_id: model.id, env_name: "production" } })).rejects.toBeInstanceOf(ConflictError);
  });

  it("callText answers with the body as sent, the object call answers with once parsed; its errors are call's", async () => {
    const model = await engine.client.call("createModel", { body: { name: "as-text" } });
    const text = await engine.client.callText("getModel", { params: { model_id: model.id } });
    expect(typeof text).toBe("string");
    expect(JSON.parse(text)).toEqual(await engine.client.call("getModel", { params: { model_id: model.id } }));
    await expect(engine.client.callText("getModel", { params: { model_id: "mdl_nonexistent" } })).rejects.toBeInstanceOf(NotFoundError);
    const wrongKey = new ModelplaneClient({ endpoint: engine.url, apiKey: "not-the-key" });
    await expect(wrongKey.callText("listModels", {})).rejects.toBeInstanceOf(AuthError);
  });

  it("sends through a dispatcher of the caller's when given one", async () => {
    class CountingPool extends Pool {
      dispatched = 0;
      override dispatch(...args: Parameters<Pool["dispatch"]>): boolean {
        this.dispatched++;
        return super.dispatch(...args);
      }
    }
    const own = new CountingPool(engine.url, { connections: 2 });
    try {
      const client = new ModelplaneClient({ endpoint: engine.url, apiKey: API_KEY, dispatcher: own });
      await client.call("createModel", { body: { name: "own-connections" } });
      expect((await client.call("listModels", {})).models.map((model) => model.name)).toContain("own-connections");
      expect(own.dispatched).toBe(2);
    } finally {
      await own.close();
    }
  });

  it("nothing listening → EngineUnavailableError once the retry budget is spent, for any route", async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const client = new ModelplaneClient({ endpoint, apiKey: API_KEY, retryBudgetMs: 300 });
    for (const call of [() => client.call("listModels", {}), () => client.call("createModel", { body: { name: "nowhere" } })]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngineUnavailableError);
      expect(error).toMatchObject({ code: "ENGINE_UNAVAILABLE", status: 503 });
      expect((error as Error).message).toContain("ECONNREFUSED");
    }
  });
});

describe("retries", () => {
  /**
   * Not an engine: a TCP server that reads each request and then drops the connection without an
   * answer, the one case where the client cannot know whether the engine acted on the request.
   */
  let dropper: Server;
  let requestsSeen = 0;
  let dropperUrl: string;
  beforeAll(async () => {
    dropper = createTcpServer((socket) => {
      let received = "";
      socket.on("data", (chunk) => {
        received += chunk.toString();
        if (received.includes("\r\n\r\n")) {
          requestsSeen++;
          socket.destroy();
        }
      });
    });
    await new Promise<void>((listening) => dropper.listen(0, "127.0.0.1", listening));
    dropperUrl = `http://127.0.0.1:${(dropper.address() as AddressInfo).port}`;
  });
  afterAll(async () => new Promise<void>((closed) => dropper.close(() => closed())));

  it("a non-idempotent call is not retried once its request was sent; an idempotent one is", async () => {
    const client = new ModelplaneClient({ endpoint: dropperUrl, apiKey: API_KEY, retryBudgetMs: 1_000 });
    requestsSeen = 0;
    const created = await client.call("createModel", { body: { name: "maybe-created" } }).catch((e: unknown) => e);
    expect(created).toBeInstanceOf(EngineUnavailableError);
    expect(requestsSeen).toBe(1);

    requestsSeen = 0;
    const listed = await client.call("listModels", {}).catch((e: unknown) => e);
    expect(listed).toBeInstanceOf(EngineUnavailableError);
    expect(requestsSeen).toBeGreaterThan(1);
  });

  describe("across an engine restart", () => {
    let template: PgliteTemplate;
    let dataDir: string;
    let port: number;
    let engine: EngineProcess | undefined;
    const start = async () => {
      engine = await spawnEngine(cliMain, ["--port", String(port), "--data-dir", dataDir], { MODELPLANE_API_KEY: API_KEY });
      return engine;
    };

    beforeAll(async () => {
      assertCliBuilt();
      template = await createPgliteTemplate();
      dataDir = await template.freshDataDir();
      port = await freePort();
      await start();
    });
    afterAll(async () => {
      if (engine) await stopEngine(engine);
      await template?.cleanup();
    });

    it("calls made while the engine is down keep retrying and succeed once it is back on the same port and data dir", async () => {
      const client = new ModelplaneClient({ endpoint: engine!.url, apiKey: API_KEY, retryBudgetMs: 60_000 });
      const model = await client.call("createModel", { body: { name: "survivor" } });
      await stopEngine(engine!);

      const outcomes: string[] = [];
      const reading = client.call("getModel", { params: { model_id: model.id } }).finally(() => outcomes.push("read"));
      // POST is not idempotent, but a refused connection means the request never left: retried too
      const creating = client.call("createModel", { body: { name: "created-while-down" } }).finally(() => outcomes.push("created"));
      const restarted = await start();
      expect(restarted.url).toBe(client.endpoint);
      expect(outcomes, "both calls were still retrying when the engine came back").toEqual([]);

      expect(await reading).toEqual(model);
      const created = await creating;
      const { models } = await client.call("listModels", {});
      expect(models.map((m) => m.name).sort()).toEqual(["created-while-down", "survivor"]);
      expect(models.find((m) => m.name === "created-while-down")?.id).toBe(created.id);
    });

    it("waitForPromotion reports each change once and follows a rolling promotion through an engine restart", async () => {
      const client = new ModelplaneClient({ endpoint: engine!.url, apiKey: API_KEY });
      const model = await client.call("createModel", { body: { name: "rolling-restart" } });
      const params = { model_id: model.id, env_name: "production" };
      await client.call("patchEnvironment", { params, body: { autoscaling_settings: { min_replica: 2, max_replica: 2 } } });
      const v1 = await client.call("createDeployment", { params: { model_id: model.id }, body: { command: ["node", `${models}/sentiment-v1/server.js`] } });
      await waitForPromotion(client, { modelId: model.id, environment: "production", promotionId: (await client.call("promote", { params, body: { deployment_id: v1.id } })).id });
      await client.call("patchEnvironment", {
        params,
        body: { promotion_settings: { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 50, max_unavailable_percent: 0, stabilization_time_seconds: 2 } } },
      });
      const v2 = await client.call("createDeployment", { params: { model_id: model.id }, body: { command: ["node", `${models}/sentiment-v2/server.js`] } });
      const promotion = await client.call("promote", { params, body: { deployment_id: v2.id } });

      const reports: Promotion[] = [];
      let restart: Promise<unknown> | undefined;
      let reportsBeforeRestart = 0;
      const final = await waitForPromotion(
        client,
        { modelId: model.id, environment: "production", promotionId: promotion.id },
        {
          pollMs: 100,
          deadline: Date.now() + 90_000,
          onProgress: (observed) => {
            reports.push(observed);
            // mid-promotion: traffic already split, the stabilization window still running
            if (!restart && observed.status === "RAMPING_UP" && observed.percent_traffic_to_new_version > 0 && observed.percent_traffic_to_new_version < 100) {
              reportsBeforeRestart = reports.length;
              restart = stopEngine(engine!).then(start);
            }
          },
        },
      );
      await restart;
      expect(restart, "the promotion finished before it could be interrupted").toBeDefined();
      expect(final.status).toBe("SUCCEEDED");
      expect(reports.length).toBeGreaterThan(reportsBeforeRestart);
      expect(reports.at(-1)).toEqual(final);
      // each report differs from the one before in something a progress line shows
      const shown = (p: Promotion) => JSON.stringify([p.status, p.step, p.total_steps, p.percent_traffic_to_new_version, p.replicas, p.phase]);
      for (let index = 1; index < reports.length; index++) expect(shown(reports[index]!)).not.toBe(shown(reports[index - 1]!));
      expect(reports.some((p) => p.status === "RAMPING_UP" && p.percent_traffic_to_new_version === 50)).toBe(true);
      const environment = await client.call("getEnvironment", { params });
      expect(environment.current_deployment?.id).toBe(v2.id);
      // the restarted engine really serves v2: the data plane answers from it
      await waitFor(async () => {
        const response = await fetch(`${engine!.url}/models/${model.id}/production/predict`, {
          method: "POST",
          body: JSON.stringify({ text: "good" }),
          headers: { "content-type": "application/json", authorization: `Api-Key ${API_KEY}` },
        });
        return response.status === 200 && response.headers.get("x-modelplane-deployment-id") === v2.id;
      }, { message: "v2 answering after the restart" });
    });
  });
});

describe("sdk/index", () => {
  it("exports the client, its errors and the wait helpers", () => {
    expect(new ModelplaneClient({ endpoint: "http://127.0.0.1:1" })).toBeInstanceOf(ModelplaneClient);
    expect(new ValidationError("VALIDATION_FAILED", "x")).toBeInstanceOf(ModelplaneError);
    expect(typeof waitForPromotion).toBe("function");
  });
});
