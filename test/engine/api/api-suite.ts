import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contract } from "../../../sdk/index.js";
import { defaultPromotionSettings } from "../../../sdk/index.js";
import type { DomainEvent } from "../../../engine/service/index.js";
import { findLiveEnvironment, insertPromotion, updateEnvironment } from "../../../engine/store/index.js";
import type { SqlParam } from "../../../engine/store/sql.js";
import { TEST_API_KEY, type ApiResponse, type TestEngine } from "../../support/test-engine.js";

/** A variable's PUT answer without the rollout it started (asserted on its own). */
function withoutRollout(body: Record<string, unknown>): Record<string, unknown> {
  const { rollout: _rollout, ...variable } = body;
  return variable;
}

/**
 * The management API's rules, run against a real engine over HTTP. The same suite runs on
 * PGlite and on PostgreSQL (api-pglite.test.ts, api-postgres.test.ts). Tests share one engine
 * and use unique model names, so they do not depend on each other.
 */
export function describeManagementApi(label: string, start: () => Promise<TestEngine | undefined>): void {
  describe(`management API on ${label}`, () => {
    let api: TestEngine;
    beforeAll(async () => {
      const started = await start();
      if (!started) throw new Error("engine did not start");
      api = started;
    });
    afterAll(async () => {
      await api?.close();
    });

    const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
      api.call(method, path, body, headers);

    function expectError(response: ApiResponse, status: number, code: string, messagePattern?: RegExp): void {
      expect(response.status, response.text).toBe(status);
      expect(Object.keys(response.body)).toEqual(["error"]);
      expect(response.body.error.code).toBe(code);
      expect(typeof response.body.error.message).toBe("string");
      expect(typeof response.body.error.details).toBe("object");
      if (messagePattern) expect(response.body.error.message).toMatch(messagePattern);
    }

    function fieldPaths(response: ApiResponse): string[] {
      return (response.body.error.details.fields as { path: string }[]).map((field) => field.path);
    }

    async function newModel(): Promise<string> {
      const response = await call("POST", "/v1/models", { name: `model-${randomUUID().slice(0, 8)}` });
      expect(response.status, response.text).toBe(201);
      return response.body.id as string;
    }

    async function newDeployment(modelId: string, body: Record<string, unknown> = {}): Promise<Record<string, any>> {
      const response = await call("POST", `/v1/models/${modelId}/deployments`, { command: ["node", "server.js"], ...body });
      expect(response.status, response.text).toBe(201);
      return response.body;
    }

    /** Make `deploymentId` the current deployment of an environment (promotion execution is not in this suite). */
    async function serve(modelId: string, environmentName: string, deploymentId: string): Promise<void> {
      const environment = await findLiveEnvironment(api.engine.store, modelId, environmentName);
      await updateEnvironment(api.engine.store, environment!.id, { currentDeploymentId: deploymentId }, new Date().toISOString());
    }

    describe("authentication and plumbing", () => {
      it("answers 401 without or with a wrong API key, in the error shape", async () => {
        expectError(await call("GET", "/v1/models", undefined, { authorization: "" }), 401, "UNAUTHORIZED", /Api-Key/);
        expectError(await call("GET", "/v1/models", undefined, { authorization: "Api-Key nope" }), 401, "UNAUTHORIZED");
        expectError(await call("GET", "/v1/models", undefined, { authorization: "Bearer nope" }), 401, "UNAUTHORIZED");
        expectError(await call("GET", "/v1/models", undefined, { authorization: "Basic dGVzdA==" }), 401, "UNAUTHORIZED");
        // the bootstrap key also works as a bearer token
        expect((await call("GET", "/v1/models", undefined, { authorization: "Bearer test-key-0123456789" })).status).toBe(200);
      });

      it("API keys: created with the secret shown once, listed without it, usable at once, revoked (audited), refused after", async () => {
        const name = `ops-${randomUUID().slice(0, 8)}`;
        const created = await call("POST", "/v1/api_keys", { name, scope: "admin" });
        expect(created.status, created.text).toBe(201);
        const { key, id, prefix } = created.body as { key: string; id: string; prefix: string };
        expect(key).toMatch(/^mpk_[A-Za-z0-9_-]{43}$/);
        expect(key.startsWith(prefix)).toBe(true);
        expect(created.body).toMatchObject({ name, scope: "admin", model_ids: null, environment_names: null, last_used_at: null });
        // stored hashed: the secret is nowhere in the database
        const stored = await api.engine.store.query<{ row: string }>("SELECT row_to_json(k)::text AS row FROM api_keys k WHERE id = $1", [id]);
        expect(stored[0]!.row).not.toContain(key);
        expect(stored[0]!.row).not.toContain(key.slice(prefix.length));

        const asNewKey = await call("GET", "/v1/api_keys", undefined, { authorization: `Api-Key ${key}` });
        expect(asNewKey.status, asNewKey.text).toBe(200);
        const listed = (asNewKey.body.api_keys as { id: string }[]).find((entry) => entry.id === id);
        expect(listed).toMatchObject({ id, name, prefix });
        expect(asNewKey.text).not.toContain(key);

        expectError(await call("POST", "/v1/api_keys", { name, scope: "inference" }), 409, "CONFLICT", /already exists/);
        const invalid = await call("POST", "/v1/api_keys", { name: "x", scope: "admin", model_ids: ["mdl_1"] });
        expectError(invalid, 400, "VALIDATION_FAILED");
        expect(fieldPaths(invalid)).toEqual(["model_ids"]);

        expect((await call("DELETE", `/v1/api_keys/${id}`)).body).toEqual({ id, deleted: true });
        expectError(await call("GET", "/v1/models", undefined, { authorization: `Api-Key ${key}` }), 401, "UNAUTHORIZED");
        expectError(await call("DELETE", `/v1/api_keys/${id}`), 404, "NOT_FOUND");
        expect(((await call("GET", "/v1/api_keys")).body.api_keys as { id: string }[]).some((entry) => entry.id === id)).toBe(false);
        const audit = await api.engine.store.query<{ kind: string }>("SELECT kind FROM audit_logs WHERE object_id = $1 ORDER BY seq", [id]);
        expect(audit.map((entry) => entry.kind)).toEqual(["api_key.created", "api_key.revoked"]);
      });

      it("inference and metrics keys cannot use the management API (403)", async () => {
        for (const scope of ["inference", "metrics"]) {
          const created = await call("POST", "/v1/api_keys", { name: `${scope}-${randomUUID().slice(0, 8)}`, scope });
          expect(created.status, created.text).toBe(201);
          expectError(await call("GET", "/v1/models", undefined, { authorization: `Api-Key ${created.body.key}` }), 403, "FORBIDDEN", /admin key/);
        }
      });

      it("serves /healthz and /openapi.json without a key; the document covers every route", async () => {
        expect((await call("GET", "/healthz", undefined, { authorization: "" })).status).toBe(200);
        const document = await call("GET", "/openapi.json", undefined, { authorization: "" });
        expect(document.status).toBe(200);
        expect(document.body.openapi).toBe("3.1.0");
        for (const [name, route] of Object.entries(contract)) {
          expect(document.body.paths[route.path]?.[route.method.toLowerCase()]?.operationId, name).toBe(name);
        }
      });

      it("answers unknown routes with 404 and wrong methods with 405", async () => {
        expectError(await call("GET", "/v1/nothing-here"), 404, "NOT_FOUND");
        expectError(await call("PUT", "/v1/models"), 405, "METHOD_NOT_ALLOWED", /GET, POST|POST, GET/);
      });

      it("rejects bad JSON naming the problem, and bodies over 1 MiB", async () => {
        expectError(await call("POST", "/v1/models", '{"name": "x",'), 400, "MALFORMED_REQUEST", /not valid JSON/);
        const huge = JSON.stringify({ name: "x".repeat(1024 * 1024 + 10) });
        expectError(await call("POST", "/v1/models", huge), 413, "PAYLOAD_TOO_LARGE");
      });

      it("reads a chunked body as one with a length; a request without either has no body", async () => {
        const name = `model-${randomUUID().slice(0, 8)}`;
        async function* pieces() {
          yield '{"name": ';
          yield `"${name}"}`;
        }
        const chunked = await request(`${api.engine.url}/v1/models`, {
          method: "POST",
          headers: { authorization: `Api-Key ${TEST_API_KEY}`, "content-type": "application/json" },
          body: Readable.from(pieces()),
        });
        const created = (await chunked.body.json()) as { name: string };
        expect(chunked.statusCode).toBe(201);
        expect(created.name).toBe(name);
        expectError(await call("POST", "/v1/models"), 400, "VALIDATION_FAILED", /body.*expected object/);
        // a body where the route takes none is still refused, whatever carries it
        expectError(await call("GET", "/v1/models", { name }), 400, "VALIDATION_FAILED");
      });

      it("lists every failing field with its path and rule", async () => {
        const modelId = await newModel();
        const response = await call("POST", `/v1/models/${modelId}/deployments`, {
          name: "Bad Name",
          command: [],
          colour: "blue",
          autoscaling_settings: { min_replica: 2, max_replica: 1, scale_down_delay: 99999 },
        });
        expectError(response, 400, "VALIDATION_FAILED");
        expect(fieldPaths(response).sort()).toEqual(
          ["autoscaling_settings.max_replica", "autoscaling_settings.scale_down_delay", "colour", "command", "name"].sort(),
        );
        expect(response.body.error.message).toContain("colour");
      });
    });

    describe("models", () => {
      it("creates a model with its production environment; names are unique", async () => {
        const name = `model-${randomUUID().slice(0, 8)}`;
        const created = await call("POST", "/v1/models", { name });
        expect(created.status).toBe(201);
        expect(created.body).toMatchObject({ name, production_deployment_id: null, deployments_count: 0 });
        const environments = await call("GET", `/v1/models/${created.body.id}/environments`);
        expect(environments.body.environments.map((environment: { name: string }) => environment.name)).toEqual(["production"]);
        expectError(await call("POST", "/v1/models", { name }), 409, "CONFLICT", /already exists/);
        const list = await call("GET", "/v1/models");
        expect(list.body.models.some((model: { id: string }) => model.id === created.body.id)).toBe(true);
        expectError(await call("GET", "/v1/models/mdl_missing"), 404, "NOT_FOUND");
      });

      it("lists every live model with the summary GET gives it, in one statement however many models there are", async () => {
        const modelId = await newModel();
        const first = await newDeployment(modelId);
        await newDeployment(modelId);
        await call("PUT", `/v1/models/${modelId}/deployments/development`, { command: ["node", "dev.js"] });
        await serve(modelId, "production", first.id as string);
        const deleted = await newModel();
        await call("DELETE", `/v1/models/${deleted}`);
        // Every statement the list runs (the engine's store is this one object; restored below).
        const store = api.engine.store;
        const query = store.query;
        const statements: string[] = [];
        store.query = <Row>(text: string, params?: readonly SqlParam[]): Promise<Row[]> => {
          statements.push(text);
          return query<Row>(text, params);
        };
        let list: ApiResponse;
        try {
          list = await call("GET", "/v1/models");
        } finally {
          store.query = query;
        }
        expect(list.status).toBe(200);
        const listed = list.body.models.find((model: { id: string }) => model.id === modelId);
        expect(listed).toEqual((await call("GET", `/v1/models/${modelId}`)).body);
        expect(listed).toMatchObject({ deployments_count: 3, production_deployment_id: first.id, development_deployment_id: expect.stringMatching(/^dep_/) });
        expect(list.body.models.some((model: { id: string }) => model.id === deleted)).toBe(false);
        // One query per model made a list of 1,000 models 1,001 statements (bench/scale); the counts are
        // on the model's row now, so not one statement reads deployments. Counted: the statements reading
        // models or deployments (the access view's periodic re-read, which may run meanwhile, reads neither).
        expect(statements.filter((text) => /\bFROM models\b/.test(text))).toHaveLength(1);
        expect(statements.filter((text) => /\bdeployments\b/.test(text))).toHaveLength(0);
      });

      it("deleting a model deletes everything under it but keeps its audit log", async () => {
        const name = `model-${randomUUID().slice(0, 8)}`;
        const modelId = (await call("POST", "/v1/models", { name })).body.id as string;
        const deployment = await newDeployment(modelId);
        await call("POST", `/v1/models/${modelId}/environments`, { name: "staging" });
        await serve(modelId, "production", deployment.id);
        expect((await call("DELETE", `/v1/models/${modelId}`)).body).toEqual({ id: modelId, deleted: true });
        expectError(await call("GET", `/v1/models/${modelId}`), 404, "NOT_FOUND");
        // what it held answers 404 naming the model (reads look the row up first, then say which 404 it is)
        const gone = new RegExp(`model ${modelId} not found`);
        expectError(await call("GET", `/v1/models/${modelId}/deployments/${deployment.id}`), 404, "NOT_FOUND", gone);
        expectError(await call("GET", `/v1/models/${modelId}/deployments`), 404, "NOT_FOUND", gone);
        expectError(await call("GET", `/v1/models/${modelId}/environments`), 404, "NOT_FOUND", gone);
        expectError(await call("GET", `/v1/models/${modelId}/environments/staging`), 404, "NOT_FOUND", gone);
        expectError(await call("GET", `/v1/models/${modelId}/environments/production/promotions`), 404, "NOT_FOUND", gone);
        expectError(await call("GET", `/v1/models/${modelId}/environments/production/promotions/prm_missing`), 404, "NOT_FOUND", gone);
        const audit = await call("GET", `/v1/models/${modelId}/audit_logs`);
        expect(audit.status).toBe(200);
        expect(audit.body.audit_logs.map((entry: { kind: string }) => entry.kind)).toEqual(
          expect.arrayContaining(["model.created", "environment.created", "deployment.created", "model.deleted"]),
        );
        // the name is free again
        expect((await call("POST", "/v1/models", { name })).status).toBe(201);
      });
    });

    describe("deployments", () => {
      it("names deployments deployment-N, unique per model, 'development' reserved", async () => {
        const modelId = await newModel();
        const first = await newDeployment(modelId);
        expect(first).toMatchObject({
          name: "deployment-1",
          status: "DEPLOYING",
          active: true,
          is_development: false,
          environment: null,
          readiness_path: "/health",
          predict_path: "/predict",
          env: {},
          revision: 1,
          replicas: { desired: 0, ready: 0, starting: 0 },
          autoscaling_settings: { min_replica: 0, max_replica: 1, concurrency_target: 1, scale_down_delay: 900 },
        });
        await newDeployment(modelId, { name: "deployment-2" });
        // deployment-2 is taken by the explicit name: the default skips it
        expect((await newDeployment(modelId)).name).toBe("deployment-3");
        expectError(
          await call("POST", `/v1/models/${modelId}/deployments`, { name: "deployment-1", command: ["x"] }),
          409,
          "CONFLICT",
          /already exists/,
        );
        const reserved = await call("POST", `/v1/models/${modelId}/deployments`, { name: "development", command: ["x"] });
        expectError(reserved, 400, "VALIDATION_FAILED");
        expect(reserved.body.error.details.fields[0]).toMatchObject({ path: "name", rule: "reserved_name" });
        expect((await call("POST", `/v1/models/${modelId}/deployments`, { image: "registry/model:1", port: 8080 })).status).toBe(201);
        const list = await call("GET", `/v1/models/${modelId}/deployments`);
        expect(list.body.deployments).toHaveLength(4);
        expect((await call("GET", `/v1/models/${modelId}`)).body.deployments_count).toBe(4);
      });

      it("renames a published deployment but never the development one", async () => {
        const modelId = await newModel();
        const deployment = await newDeployment(modelId);
        const renamed = await call("PATCH", `/v1/models/${modelId}/deployments/${deployment.id}`, { name: "blue" });
        expect(renamed.body.name).toBe("blue");
        await call("PUT", `/v1/models/${modelId}/deployments/development`, { command: ["node", "dev.js"] });
        expectError(
          await call("PATCH", `/v1/models/${modelId}/deployments/development`, { name: "green" }),
          409,
          "CONFLICT",
          /cannot be renamed/,
        );
      });

      it("creates the development deployment with PUT and live-patches it in place", async () => {
        const modelId = await newModel();
        expectError(await call("GET", `/v1/models/${modelId}/deployments/development`), 404, "NOT_FOUND", /PUT/);
        const created = await call("PUT", `/v1/models/${modelId}/deployments/development`, { command: ["node", "v1.js"] });
        expect(created.status).toBe(200);
        expect(created.body).toMatchObject({
          name: "development",
          is_development: true,
          revision: 1,
          autoscaling_settings: { min_replica: 0, max_replica: 1 },
        });
        const patched = await call("PUT", `/v1/models/${modelId}/deployments/development`, {
          command: ["node", "v2.js"],
          env: { MODE: "dev" },
        });
        expect(patched.body).toMatchObject({ id: created.body.id, revision: 2, command: ["node", "v2.js"], env: { MODE: "dev" } });
        expect((await call("GET", `/v1/models/${modelId}/deployments/development`)).body.id).toBe(created.body.id);
        expect((await call("GET", `/v1/models/${modelId}`)).body.development_deployment_id).toBe(created.body.id);
        const tooMany = await call("PUT", `/v1/models/${modelId}/deployments/development`, {
          command: ["node"],
          autoscaling_settings: { max_replica: 2 },
        });
        expectError(tooMany, 400, "VALIDATION_FAILED", /at most one replica/);
        expectError(
          await call("PATCH", `/v1/models/${modelId}/deployments/development/autoscaling_settings`, { max_replica: 3 }),
          400,
          "VALIDATION_FAILED",
        );
      });

      it("activates and deactivates; autoscaling patches merge and are re-checked", async () => {
        const modelId = await newModel();
        const deployment = await newDeployment(modelId);
        const base = `/v1/models/${modelId}/deployments/${deployment.id}`;
        expect((await call("POST", `${base}/deactivate`)).body).toMatchObject({ active: false, status: "INACTIVE" });
        expect((await call("POST", `${base}/activate`)).body).toMatchObject({ active: true, status: "DEPLOYING" });
        expectError(await call("POST", `${base}/activate`, { now: true }), 400, "VALIDATION_FAILED");
        const patched = await call("PATCH", `${base}/autoscaling_settings`, { max_replica: 4, concurrency_target: 8 });
        expect(patched.body.autoscaling_settings).toMatchObject({ min_replica: 0, max_replica: 4, concurrency_target: 8 });
        const inverted = await call("PATCH", `${base}/autoscaling_settings`, { min_replica: 5 });
        expectError(inverted, 400, "VALIDATION_FAILED");
        expect(fieldPaths(inverted)).toEqual(["max_replica"]);
      });

      it("refuses to delete a deployment serving an environment; deleted ones answer 404", async () => {
        const modelId = await newModel();
        const serving = await newDeployment(modelId);
        const other = await newDeployment(modelId);
        await serve(modelId, "production", serving.id);
        expect((await call("GET", `/v1/models/${modelId}/deployments/${serving.id}`)).body.environment).toBe("production");
        expectError(
          await call("DELETE", `/v1/models/${modelId}/deployments/${serving.id}`),
          409,
          "CONFLICT",
          /promote another deployment to production first/,
        );
        expect((await call("DELETE", `/v1/models/${modelId}/deployments/${other.id}`)).body).toEqual({ id: other.id, deleted: true });
        expectError(await call("GET", `/v1/models/${modelId}/deployments/${other.id}`), 404, "NOT_FOUND");
        expectError(await call("POST", `/v1/models/${modelId}/deployments/${other.id}/activate`), 404, "NOT_FOUND");
        expectError(await call("DELETE", `/v1/models/${modelId}/deployments/${other.id}`), 404, "NOT_FOUND");
      });
    });

    describe("environments and promotion settings", () => {
      it("creates, lists, patches and deletes custom environments; production is protected", async () => {
        const modelId = await newModel();
        const created = await call("POST", `/v1/models/${modelId}/environments`, {
          name: "staging",
          autoscaling_settings: { min_replica: 1, max_replica: 3 },
        });
        expect(created.status).toBe(201);
        expect(created.body).toMatchObject({
          name: "staging",
          model_id: modelId,
          current_deployment: null,
          candidate_deployment: null,
          in_progress_promotion: null,
          promotion_settings_id: null,
          promotion_settings: defaultPromotionSettings(),
          variables: [],
          endpoint: `/models/${modelId}/environments/staging/predict`,
          autoscaling_settings: { min_replica: 1, max_replica: 3, target_utilization_percentage: 70, autoscaling_window: 60 },
        });
        expectError(await call("POST", `/v1/models/${modelId}/environments`, { name: "staging" }), 409, "CONFLICT");
        expectError(await call("POST", `/v1/models/${modelId}/environments`, { name: "production" }), 409, "CONFLICT");
        expectError(await call("POST", `/v1/models/${modelId}/environments`, { name: "Staging!" }), 400, "VALIDATION_FAILED");
        expectError(
          await call("DELETE", `/v1/models/${modelId}/environments/production`),
          409,
          "CONFLICT",
          /production environment cannot be deleted/,
        );
        expect((await call("DELETE", `/v1/models/${modelId}/environments/staging`)).status).toBe(200);
        expectError(await call("GET", `/v1/models/${modelId}/environments/staging`), 404, "NOT_FOUND");
        // the name can be used again
        expect((await call("POST", `/v1/models/${modelId}/environments`, { name: "staging" })).status).toBe(201);
      });

      it("patches inline promotion settings as the reference does, enforcing one provisioning mode", async () => {
        const modelId = await newModel();
        const path = `/v1/models/${modelId}/environments/production`;
        const patched = await call("PATCH", path, {
          promotion_settings: {
            rolling_deploy: true,
            rolling_deploy_config: { max_surge_percent: 10, max_unavailable_percent: 0, stabilization_time_seconds: 60, replica_overhead_percent: 0 },
          },
        });
        expect(patched.status, patched.text).toBe(200);
        expect(patched.body.promotion_settings).toMatchObject({ rolling_deploy: true, rolling_deploy_config: { stabilization_time_seconds: 60 } });
        // only unavailable given: merged with the current surge of 10 → both non-zero
        const both = await call("PATCH", path, { promotion_settings: { rolling_deploy_config: { max_unavailable_percent: 20 } } });
        expectError(both, 400, "VALIDATION_FAILED", /max_surge_percent.*max_unavailable_percent/);
        expect(fieldPaths(both)).toEqual(["promotion_settings.rolling_deploy_config.max_surge_percent"]);
        const switched = await call("PATCH", path, {
          promotion_settings: {
            rolling_deploy_config: { max_surge_percent: 0, max_unavailable_percent: 20 },
            promotion_cleanup_strategy: "DEACTIVATE",
          },
        });
        expect(switched.body.promotion_settings).toMatchObject({
          rolling_deploy: true,
          promotion_cleanup_strategy: "DEACTIVATE",
          rolling_deploy_config: { max_surge_percent: 0, max_unavailable_percent: 20, stabilization_time_seconds: 60 },
        });
        const bounds = await call("PATCH", path, {
          promotion_settings: { ramp_up_duration_seconds: 5, rolling_deploy_config: { replica_overhead_percent: 501 } },
        });
        expect(fieldPaths(bounds).sort()).toEqual([
          "promotion_settings.ramp_up_duration_seconds",
          "promotion_settings.rolling_deploy_config.replica_overhead_percent",
        ]);
      });

      it("named promotion settings: CRUD, attach to an environment, not deletable while used", async () => {
        const modelId = await newModel();
        const created = await call("POST", "/v1/promotion_settings", {
          name: "careful rollout",
          rolling_deploy: true,
          rolling_deploy_config: { max_surge_percent: 25 },
        });
        expect(created.status, created.text).toBe(201);
        expect(created.body).toMatchObject({
          name: "careful rollout",
          rolling_deploy: true,
          rolling_deploy_config: { max_surge_percent: 25, max_unavailable_percent: 0 },
          promotion_cleanup_strategy: "SCALE_TO_ZERO",
          ramp_up_duration_seconds: 600,
        });
        const settingsId = created.body.id as string;
        expectError(
          await call("POST", "/v1/promotion_settings", { name: "bad", rolling_deploy_config: { max_surge_percent: 0 } }),
          400,
          "VALIDATION_FAILED",
          /max_unavailable_percent/,
        );
        const patched = await call("PATCH", `/v1/promotion_settings/${settingsId}`, { ramp_up_while_promoting: true });
        expect(patched.body).toMatchObject({ ramp_up_while_promoting: true, rolling_deploy_config: { max_surge_percent: 25 } });
        expect((await call("GET", `/v1/promotion_settings/${settingsId}`)).body.ramp_up_while_promoting).toBe(true);
        expect(
          (await call("GET", "/v1/promotion_settings")).body.promotion_settings.some((item: { id: string }) => item.id === settingsId),
        ).toBe(true);

        const environmentPath = `/v1/models/${modelId}/environments/production`;
        expectError(await call("PATCH", environmentPath, { promotion_settings_id: "pst_missing" }), 404, "NOT_FOUND");
        const attached = await call("PATCH", environmentPath, { promotion_settings_id: settingsId });
        expect(attached.body).toMatchObject({ promotion_settings_id: settingsId, promotion_settings: { ramp_up_while_promoting: true } });
        expectError(
          await call("PATCH", environmentPath, { promotion_settings: { rolling_deploy: false } }),
          409,
          "CONFLICT",
          /promotion_settings_id: null/,
        );
        expectError(
          await call("PATCH", environmentPath, { promotion_settings: { rolling_deploy: false }, promotion_settings_id: settingsId }),
          400,
          "VALIDATION_FAILED",
        );
        expectError(await call("DELETE", `/v1/promotion_settings/${settingsId}`), 409, "CONFLICT", /production/);
        const detached = await call("PATCH", environmentPath, { promotion_settings_id: null, promotion_settings: { rolling_deploy: false } });
        expect(detached.body).toMatchObject({ promotion_settings_id: null, promotion_settings: { rolling_deploy: false } });
        expect((await call("DELETE", `/v1/promotion_settings/${settingsId}`)).status).toBe(200);
        expectError(await call("GET", `/v1/promotion_settings/${settingsId}`), 404, "NOT_FOUND");
        const environmentWithSettings = await call("POST", `/v1/models/${modelId}/environments`, {
          name: "canary",
          promotion_settings_id: settingsId,
        });
        expectError(environmentWithSettings, 404, "NOT_FOUND");
      });

      it("variables: secrets are write-only and never appear in reads or the audit log", async () => {
        const modelId = await newModel();
        const base = `/v1/models/${modelId}/environments/production/variables`;
        const first = await call("PUT", `${base}/LOG_LEVEL`, { value: "debug" });
        expect(withoutRollout(first.body)).toEqual({ name: "LOG_LEVEL", secret: false, value: "debug" });
        // the answer carries the rollout of production's replicas it started: none, nothing serves production yet
        const noRollout = { environment: "production", deployment_ids: [], status: "NONE", replicas: { desired: 0, updated_ready: 0, outdated: 0 } };
        expect(first.body.rollout).toEqual(noRollout);
        expect((await call("GET", `/v1/models/${modelId}/environments/production/variables_rollout`)).body).toEqual(noRollout);
        expectError(await call("GET", `/v1/models/${modelId}/environments/nope/variables_rollout`), 404, "NOT_FOUND");
        const secretValue = `s3cr3t-${randomUUID()}`;
        expect(withoutRollout((await call("PUT", `${base}/HF_TOKEN`, { value: secretValue, secret: true })).body)).toEqual({ name: "HF_TOKEN", secret: true });
        const environment = await call("GET", `/v1/models/${modelId}/environments/production`);
        expect(environment.body.variables).toEqual([
          { name: "HF_TOKEN", secret: true },
          { name: "LOG_LEVEL", secret: false, value: "debug" },
        ]);
        for (const path of [`/v1/models/${modelId}/environments`, `/v1/models/${modelId}/audit_logs`, `/v1/models/${modelId}/environments/production`]) {
          expect((await call("GET", path)).text).not.toContain(secretValue);
        }
        // the runtime gets it, with the secret names for redaction
        expect(await api.engine.service.replicaVariables(modelId, "production")).toEqual({
          env: { HF_TOKEN: secretValue, LOG_LEVEL: "debug" },
          secretKeys: ["HF_TOKEN"],
        });
        for (const reserved of ["PORT", "ENVIRONMENT", "MODELPLANE_X", "lower", "9LIVES"]) {
          expectError(await call("PUT", `${base}/${reserved}`, { value: "x" }), 400, "VALIDATION_FAILED");
        }
        expectError(await call("PUT", `${base}/OK`, { value: 3 }), 400, "VALIDATION_FAILED");
        const deleted = await call("DELETE", `${base}/LOG_LEVEL`);
        expect(deleted.status).toBe(200);
        expect(deleted.body).toMatchObject({ id: "LOG_LEVEL", deleted: true, rollout: { status: "NONE" } });
        expectError(await call("DELETE", `${base}/LOG_LEVEL`), 404, "NOT_FOUND");
        expectError(await call("PUT", `/v1/models/${modelId}/environments/nope/variables/A`, { value: "x" }), 404, "NOT_FOUND");
      });

      it("a PUT without `secret` keeps a secret secret; only an explicit `secret: false` makes it readable (finding 11)", async () => {
        const modelId = await newModel();
        const base = `/v1/models/${modelId}/environments/production/variables`;
        const variables = async () => (await call("GET", `/v1/models/${modelId}/environments/production`)).body.variables;
        expect(withoutRollout((await call("PUT", `${base}/API_TOKEN`, { value: "first-secret", secret: true })).body)).toEqual({ name: "API_TOKEN", secret: true });
        // a value-only update (as a client that only knows `value` sends it)
        const updated = await call("PUT", `${base}/API_TOKEN`, { value: "second-secret" });
        expect(updated.status, updated.text).toBe(200);
        expect(withoutRollout(updated.body)).toEqual({ name: "API_TOKEN", secret: true });
        expect(await variables()).toEqual([{ name: "API_TOKEN", secret: true }]);
        expect((await call("GET", `/v1/models/${modelId}/environments/production`)).text).not.toContain("second-secret");
        expect((await api.engine.service.replicaVariables(modelId, "production"))?.env).toEqual({ API_TOKEN: "second-secret" });
        // a new variable without `secret` is plain, and stays plain on a value-only update
        expect(withoutRollout((await call("PUT", `${base}/LOG_LEVEL`, { value: "info" })).body)).toEqual({ name: "LOG_LEVEL", secret: false, value: "info" });
        expect(withoutRollout((await call("PUT", `${base}/LOG_LEVEL`, { value: "debug" })).body)).toEqual({ name: "LOG_LEVEL", secret: false, value: "debug" });
        // dropping secret-ness is explicit
        expect(withoutRollout((await call("PUT", `${base}/API_TOKEN`, { value: "now-public", secret: false })).body)).toEqual({ name: "API_TOKEN", secret: false, value: "now-public" });
        expect(withoutRollout((await call("PUT", `${base}/LOG_LEVEL`, { value: "hidden", secret: true })).body)).toEqual({ name: "LOG_LEVEL", secret: true });
      });
    });

    describe("promotion requests", () => {
      it("checks environment, deployment, activity and in-progress rules before execution", async () => {
        const modelId = await newModel();
        const deployment = await newDeployment(modelId);
        const promote = (environment: string, body: unknown) =>
          call("POST", `/v1/models/${modelId}/environments/${environment}/promote`, body);
        expectError(await promote("nope", { deployment_id: deployment.id }), 404, "NOT_FOUND");
        expectError(await promote("production", { deployment_id: "dep_missing" }), 404, "NOT_FOUND");
        expectError(await promote("production", {}), 400, "VALIDATION_FAILED");
        const otherModel = await newModel();
        const foreign = await newDeployment(otherModel);
        expectError(await promote("production", { deployment_id: foreign.id }), 404, "NOT_FOUND");
        await call("POST", `/v1/models/${modelId}/deployments/${deployment.id}/deactivate`);
        expectError(
          await promote("production", { deployment_id: deployment.id }),
          409,
          "CONFLICT",
          new RegExp(`deployment ${deployment.name} \\(${deployment.id}\\) is inactive; activate it first`),
        );
        await call("POST", `/v1/models/${modelId}/deployments/${deployment.id}/activate`);
        // valid, but execution is not part of this build yet
        expectError(await promote("production", { deployment_id: deployment.id }), 501, "NOT_IMPLEMENTED");
        expectError(await call("POST", `/v1/models/${modelId}/deployments/${deployment.id}/promote`, {}), 501, "NOT_IMPLEMENTED");
        // deploying straight into an environment creates nothing when the promotion cannot start
        const before = (await call("GET", `/v1/models/${modelId}/deployments`)).body.deployments.length;
        expectError(
          await call("POST", `/v1/models/${modelId}/deployments`, { command: ["x"], environment: "missing" }),
          404,
          "NOT_FOUND",
        );
        expectError(await call("POST", `/v1/models/${modelId}/deployments`, { command: ["x"], environment: "production" }), 501, "NOT_IMPLEMENTED");
        expect((await call("GET", `/v1/models/${modelId}/deployments`)).body.deployments.length).toBe(before);
        expectError(await call("POST", `/v1/models/${modelId}/environments/production/pause_promotion`), 409, "CONFLICT", /no promotion in progress/);

        // one promotion in progress (inserted as the reconciler would): a second request is a 409
        const environment = await findLiveEnvironment(api.engine.store, modelId, "production");
        const now = new Date().toISOString();
        await insertPromotion(api.engine.store, {
          id: `pro_${randomUUID().slice(0, 8)}`,
          modelId,
          environmentId: environment!.id,
          environmentName: "production",
          deploymentId: deployment.id,
          previousDeploymentId: null,
          kind: "INSTANT",
          status: "RELEASING",
          totalSteps: 1,
          phase: "waiting_for_candidate_ready",
          replicas: { previous: { desired: 0, ready: 0 }, candidate: { desired: 1, ready: 0 } },
          settings: defaultPromotionSettings(),
          plannerState: {},
          timeoutSeconds: null,
          at: now,
        });
        expectError(await promote("production", { deployment_id: deployment.id }), 409, "CONFLICT", new RegExp(`in progress \\(RELEASING, to deployment ${deployment.name} \\(${deployment.id}\\)\\)`));
        const detail = await call("GET", `/v1/models/${modelId}/environments/production`);
        // the deployments' names come with their ids: people read names
        expect(detail.body.in_progress_promotion).toMatchObject({
          status: "RELEASING",
          deployment_id: deployment.id,
          deployment_name: deployment.name,
          previous_deployment_id: null,
          previous_deployment_name: null,
          kind: "INSTANT",
        });
        expect(detail.body.candidate_deployment.id).toBe(deployment.id);
        const promotions = await call("GET", `/v1/models/${modelId}/environments/production/promotions`);
        expect(promotions.body.promotions).toHaveLength(1);
        const one = await call("GET", `/v1/models/${modelId}/environments/production/promotions/${promotions.body.promotions[0].id}`);
        expect(one.body.phase).toBe("waiting_for_candidate_ready");
        // a promotion is found only under its own environment
        await call("POST", `/v1/models/${modelId}/environments`, { name: "staging" });
        expectError(await call("GET", `/v1/models/${modelId}/environments/staging/promotions/${one.body.id}`), 404, "NOT_FOUND", /not found in environment staging/);
        expectError(await call("GET", `/v1/models/${modelId}/environments/nope/promotions/${one.body.id}`), 404, "NOT_FOUND", /environment nope not found/);
        expectError(
          await call("DELETE", `/v1/models/${modelId}/deployments/${deployment.id}`),
          409,
          "CONFLICT",
          /cancel_promotion/,
        );
        expectError(await call("POST", `/v1/models/${modelId}/deployments/${deployment.id}/deactivate`), 409, "CONFLICT");
      });
    });

    describe("concurrency", () => {
      it("concurrent writers get one winner or distinct names, never a 5xx", async () => {
        const name = `model-${randomUUID().slice(0, 8)}`;
        const sameName = await Promise.all(Array.from({ length: 6 }, () => call("POST", "/v1/models", { name })));
        expect(sameName.map((response) => response.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
        const modelId = sameName.find((response) => response.status === 201)!.body.id as string;
        const created = await Promise.all(
          Array.from({ length: 6 }, () => call("POST", `/v1/models/${modelId}/deployments`, { command: ["x"] })),
        );
        expect(created.map((response) => response.status)).toEqual([201, 201, 201, 201, 201, 201]);
        expect(new Set(created.map((response) => response.body.name)).size).toBe(6);
        const environments = await Promise.all(
          Array.from({ length: 4 }, () => call("POST", `/v1/models/${modelId}/environments`, { name: "qa" })),
        );
        expect(environments.map((response) => response.status).sort()).toEqual([201, 409, 409, 409]);
      });
    });

    describe("audit log and events", () => {
      it("records every create, delete and state change, and emits events after commit", async () => {
        const events: DomainEvent[] = [];
        const unsubscribe = api.engine.service.onChange((event) => void events.push(event));
        try {
          const modelId = await newModel();
          const deployment = await newDeployment(modelId);
          await call("POST", `/v1/models/${modelId}/deployments/${deployment.id}/deactivate`);
          await call("POST", `/v1/models/${modelId}/environments`, { name: "staging" });
          await call("DELETE", `/v1/models/${modelId}/environments/staging`);
          await call("DELETE", `/v1/models/${modelId}/deployments/${deployment.id}`);
          // a rejected request emits nothing
          const countBefore = events.length;
          await call("POST", `/v1/models/${modelId}/environments`, { name: "production" });
          expect(events.length).toBe(countBefore);

          const kinds = (await call("GET", `/v1/models/${modelId}/audit_logs`)).body.audit_logs.map(
            (entry: { kind: string }) => entry.kind,
          );
          expect(kinds).toEqual([
            "deployment.deleted",
            "environment.deleted",
            "environment.created",
            "deployment.deactivated",
            "deployment.created",
            "environment.created",
            "model.created",
          ]);
          expect(events.filter((event) => "modelId" in event && event.modelId === modelId).map((event) => event.type)).toEqual([
            "model.created",
            "environment.changed",
            "deployment.changed",
            "deployment.changed",
            "environment.changed",
            "environment.changed",
            "deployment.changed",
          ]);
        } finally {
          unsubscribe();
        }
      });
    });
  });
}
