import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultPromotionSettings } from "../../../sdk/index.js";
import type { DomainEvent } from "../../../engine/service/index.js";
import { findLiveEnvironment, insertPromotion, updateEnvironment } from "../../../engine/store/index.js";
import { ModelplaneClient } from "../../../sdk/client.js";
import { TEST_API_KEY, type ApiResponse, type TestEngine } from "../../support/test-engine.js";

/**
 * Workspace environments and the promotion chain (issue 18), over HTTP against a real engine of
 * their own: a workspace environment reaches every model, so no other suite shares this engine.
 * Promotion execution is not in this engine (a valid promote answers 501 after every rule passed):
 * the chain's inputs — promotions SUCCEEDED or FAILED, finished some seconds ago — are written as
 * the reconciler writes them. The end-to-end flow with real promotions is test/e2e/workspace-chain.test.ts.
 */
export function describeWorkspaceEnvironmentsApi(label: string, start: () => Promise<TestEngine | undefined>): void {
  describe(`workspace environments on ${label}`, () => {
    let api: TestEngine;
    beforeAll(async () => {
      const started = await start();
      if (!started) throw new Error("engine did not start");
      api = started;
    });
    afterAll(async () => {
      await api?.close();
    });

    const call = (method: string, path: string, body?: unknown) => api.call(method, path, body);

    function expectError(response: ApiResponse, status: number, code: string, messagePattern?: RegExp): void {
      expect(response.status, response.text).toBe(status);
      expect(response.body.error.code).toBe(code);
      if (messagePattern) expect(response.body.error.message).toMatch(messagePattern);
    }

    function expectField(response: ApiResponse, path: string, rule: string): void {
      expectError(response, 400, "VALIDATION_FAILED");
      expect(response.body.error.details.fields, response.text).toContainEqual(expect.objectContaining({ path, rule }));
    }

    const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 6)}`;

    async function newModel(): Promise<string> {
      const response = await call("POST", "/v1/models", { name: unique("model") });
      expect(response.status, response.text).toBe(201);
      return response.body.id as string;
    }

    async function newDeployment(modelId: string): Promise<{ id: string; name: string }> {
      const response = await call("POST", `/v1/models/${modelId}/deployments`, { command: ["node", "server.js"] });
      expect(response.status, response.text).toBe(201);
      return response.body;
    }

    /** A finished promotion of `deploymentId` into a model environment, as the reconciler leaves it. */
    async function finishedPromotion(
      modelId: string,
      environmentName: string,
      deploymentId: string,
      status: "SUCCEEDED" | "FAILED",
      finishedSecondsAgo: number,
      options: { failedAnalysisRuns?: number; errorMessage?: string } = {},
    ): Promise<string> {
      const environment = await findLiveEnvironment(api.engine.store, modelId, environmentName);
      const id = `pro_${randomUUID().slice(0, 12)}`;
      const finishedAt = new Date(Date.now() - finishedSecondsAgo * 1000);
      await insertPromotion(api.engine.store, {
        id,
        modelId,
        environmentId: environment!.id,
        environmentName,
        deploymentId,
        previousDeploymentId: environment!.current_deployment_id,
        kind: "INSTANT",
        status: "RELEASING",
        totalSteps: 1,
        phase: "done",
        replicas: { previous: { desired: 0, ready: 0 }, candidate: { desired: 1, ready: 1 } },
        settings: defaultPromotionSettings(),
        plannerState:
          options.failedAnalysisRuns !== undefined
            ? { analysis: { runs: [], passed: 1, failed: options.failedAnalysisRuns, inconclusive: 0, inconclusiveInARow: 0, pausedReason: null } }
            : {},
        timeoutSeconds: null,
        at: new Date(finishedAt.getTime() - 1000).toISOString(),
      });
      await api.engine.store.query("UPDATE promotions SET status = $2, finished_at = $3, error_message = $4 WHERE id = $1", [
        id,
        status,
        finishedAt.toISOString(),
        options.errorMessage ?? null,
      ]);
      if (status === "SUCCEEDED") {
        await updateEnvironment(
          api.engine.store,
          environment!.id,
          { currentDeploymentId: deploymentId, previousDeploymentId: environment!.current_deployment_id },
          finishedAt.toISOString(),
        );
      }
      return id;
    }

    const workspaceNames: string[] = [];
    /** Create a workspace environment (remembered so the last test can delete them in order). */
    async function createWorkspace(body: Record<string, unknown>): Promise<ApiResponse> {
      const response = await call("POST", "/v1/environments", body);
      if (response.status === 201) workspaceNames.push(body.name as string);
      return response;
    }

    it("validates the body: each bad field is a 400 naming it and its rule", async () => {
      expectField(await call("POST", "/v1/environments", { name: "Bad Name" }), "name", "invalid_format:regex");
      expectField(await call("POST", "/v1/environments", { name: "qa", min_soak_seconds: 5 }), "min_soak_seconds", "needs_requires");
      expectField(await call("POST", "/v1/environments", { name: "qa", requires: "qa" }), "requires", "not_itself");
      expectField(await call("POST", "/v1/environments", { name: "qa", variables: { A: "1" }, secrets: { A: "2" } }), "secrets.A", "variable_or_secret");
      expectField(await call("POST", "/v1/environments", { name: "qa", variables: { lower: "1" } }), "variables.lower", "invalid_format:regex");
      expectField(await call("POST", "/v1/environments", { name: "qa", variables: { PORT: "1" } }), "variables.PORT", "reserved_name");
      expectField(await call("POST", "/v1/environments", { name: "qa", min_soak_seconds: -1, requires: "dev" }), "min_soak_seconds", "too_small:0");
      expectField(await call("POST", "/v1/environments", { name: "qa", surprise: true }), "surprise", "unrecognized_key");
      expectField(await call("POST", "/v1/environments", { name: "qa", requires: "nowhere" }), "requires", "unknown_environment");
      expectField(
        await call("POST", "/v1/environments", { name: "qa", promotion_settings: { rolling_deploy: false }, promotion_settings_id: "pst_x" }),
        "promotion_settings_id",
        "mutually_exclusive",
      );
      expectError(await call("POST", "/v1/environments", { name: "qa", promotion_settings_id: "pst_missing" }), 404, "NOT_FOUND", /promotion settings pst_missing/);
      expectError(await call("GET", "/v1/environments/nowhere"), 404, "NOT_FOUND", /workspace environment nowhere not found/);
      expectError(await call("PATCH", "/v1/environments/nowhere", {}), 404, "NOT_FOUND");
      // nothing was created by the refusals
      expect((await call("GET", "/v1/environments")).body.environments).toEqual([]);
    });

    it("dev → staging → production: every model (existing and later) gets an environment of each, production joins", async () => {
      const before = await newModel();
      const secretValue = `ws-secret-${randomUUID()}`;
      const dev = await createWorkspace({ name: "dev", description: "first stop", variables: { LOG_LEVEL: "debug", REGION: "eu" } });
      expect(dev.status, dev.text).toBe(201);
      expect(dev.body).toMatchObject({
        name: "dev",
        description: "first stop",
        requires: null,
        min_soak_seconds: 0,
        promotion_settings_id: null,
        promotion_settings: defaultPromotionSettings(),
        variables: [
          { name: "LOG_LEVEL", secret: false, value: "debug" },
          { name: "REGION", secret: false, value: "eu" },
        ],
      });
      expect(dev.body.models_count).toBeGreaterThanOrEqual(1);
      expect(dev.body.id).toMatch(/^wse_/);
      const staging = await createWorkspace({
        name: "staging",
        requires: "dev",
        variables: { LOG_LEVEL: "info" },
        secrets: { API_TOKEN: secretValue },
        promotion_settings: { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 50 } },
      });
      expect(staging.status, staging.text).toBe(201);
      expect(staging.body.variables).toEqual([
        { name: "API_TOKEN", secret: true },
        { name: "LOG_LEVEL", secret: false, value: "info" },
      ]);
      const production = await createWorkspace({ name: "production", requires: "staging", min_soak_seconds: 60 });
      expect(production.status, production.text).toBe(201);
      expectError(await call("POST", "/v1/environments", { name: "dev" }), 409, "CONFLICT", /workspace environment dev already exists/);
      // a cycle is refused by name
      expectField(await call("PATCH", "/v1/environments/dev", { requires: "production" }), "requires", "no_cycle");

      // chain order: what requires nothing first
      expect((await call("GET", "/v1/environments")).body.environments.map((environment: { name: string }) => environment.name)).toEqual([
        "dev",
        "staging",
        "production",
      ]);
      const after = await newModel();
      for (const modelId of [before, after]) {
        const environments = (await call("GET", `/v1/models/${modelId}/environments`)).body.environments as Record<string, any>[];
        expect(environments.map((environment) => [environment.name, environment.workspace_environment])).toEqual([
          ["production", "production"],
          ["dev", "dev"],
          ["staging", "staging"],
        ]);
        const stagingEnvironment = environments.find((environment) => environment.name === "staging")!;
        expect(stagingEnvironment.promotion_settings_source).toBe("workspace");
        expect(stagingEnvironment.promotion_settings.rolling_deploy_config.max_surge_percent).toBe(50);
        expect(stagingEnvironment.variables).toEqual([
          { name: "API_TOKEN", secret: true, source: "workspace" },
          { name: "LOG_LEVEL", secret: false, value: "info", source: "workspace" },
        ]);
      }
      // the secret: only in the replicas' variables, never in an answer or the audit log
      expect(await api.engine.service.replicaVariables(after, "staging")).toEqual({ env: { API_TOKEN: secretValue, LOG_LEVEL: "info" }, secretKeys: ["API_TOKEN"] });
      expect((await api.engine.service.replicaVariables(after, "dev"))?.env).toEqual({ LOG_LEVEL: "debug", REGION: "eu" });
      for (const path of ["/v1/environments", "/v1/environments/staging", `/v1/models/${after}/environments`, `/v1/models/${after}/audit_logs`]) {
        expect((await call("GET", path)).text).not.toContain(secretValue);
      }
      const stored = await api.engine.store.query<{ value: string }>("SELECT value FROM workspace_variables WHERE name = 'API_TOKEN'");
      expect(stored[0]!.value).not.toContain(secretValue);
      const audit = await api.engine.store.query<{ details: unknown }>("SELECT details FROM audit_logs WHERE kind = 'workspace_environment.created' AND object_name = 'staging'");
      expect(audit[0]!.details).toMatchObject({ requires: "dev", secrets: ["API_TOKEN"], variables: ["LOG_LEVEL"] });
      expect(JSON.stringify(audit)).not.toContain(secretValue);
    });

    it("effective values: the model's own override the workspace's, and the API says where each comes from", async () => {
      const modelId = await newModel();
      const base = `/v1/models/${modelId}/environments/staging`;
      const put = await call("PUT", `${base}/variables/LOG_LEVEL`, { value: "trace" });
      expect(put.status, put.text).toBe(200);
      expect((await call("GET", base)).body.variables).toEqual([
        { name: "API_TOKEN", secret: true, source: "workspace" },
        { name: "LOG_LEVEL", secret: false, value: "trace", source: "model" },
      ]);
      expect((await api.engine.service.replicaVariables(modelId, "staging"))?.env.LOG_LEVEL).toBe("trace");
      // the override goes: the workspace's value is back
      expect((await call("DELETE", `${base}/variables/LOG_LEVEL`)).status).toBe(200);
      expect((await api.engine.service.replicaVariables(modelId, "staging"))?.env.LOG_LEVEL).toBe("info");

      // promotion settings: the model's own patch overrides (starting from the workspace's) …
      const patched = await call("PATCH", base, { promotion_settings: { rolling_deploy_config: { max_surge_percent: 25 } } });
      expect(patched.status, patched.text).toBe(200);
      expect(patched.body).toMatchObject({ promotion_settings_source: "model", promotion_settings: { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 25 } } });
      // … and a workspace change no longer reaches it, while other models follow
      const other = await newModel();
      const changed = await call("PATCH", "/v1/environments/staging", { promotion_settings: { rolling_deploy_config: { max_surge_percent: 40 } } });
      expect(changed.status, changed.text).toBe(200);
      expect((await call("GET", base)).body.promotion_settings.rolling_deploy_config.max_surge_percent).toBe(25);
      expect((await call("GET", `/v1/models/${other}/environments/staging`)).body.promotion_settings.rolling_deploy_config.max_surge_percent).toBe(40);
      const inherited = await call("PATCH", base, { inherit_promotion_settings: true });
      expect(inherited.body).toMatchObject({ promotion_settings_source: "workspace", promotion_settings: { rolling_deploy_config: { max_surge_percent: 40 } } });
      expectField(await call("PATCH", base, { inherit_promotion_settings: true, promotion_settings: { rolling_deploy: false } }), "inherit_promotion_settings", "mutually_exclusive");
      // the model's own environments are unchanged: no workspace, no source on variables
      expect((await call("POST", `/v1/models/${modelId}/environments`, { name: "canary" })).status).toBe(201);
      await call("PUT", `/v1/models/${modelId}/environments/canary/variables/ONLY_HERE`, { value: "x" });
      const canary = (await call("GET", `/v1/models/${modelId}/environments/canary`)).body;
      expect(canary).toMatchObject({ workspace_environment: null, promotion_settings_source: "model", variables: [{ name: "ONLY_HERE", secret: false, value: "x" }] });
      expect(canary.variables[0]).not.toHaveProperty("source");
      expectError(await call("PATCH", `/v1/models/${modelId}/environments/canary`, { inherit_promotion_settings: true }), 409, "CONFLICT", /the model's own/);
      // an environment of a workspace environment is every model's: not deleted per model
      expectError(await call("DELETE", base), 409, "CONFLICT", /DELETE \/v1\/environments\/staging/);
      expectError(await call("POST", `/v1/models/${modelId}/environments`, { name: "staging" }), 409, "CONFLICT", /already exists/);
    });

    it("a workspace variable or secret change rolls every model environment of it: one environment.changed each, audited without values", async () => {
      const modelA = await newModel();
      const modelB = await newModel();
      const events: DomainEvent[] = [];
      const unsubscribe = api.engine.service.onChange((event) => void events.push(event));
      const newSecret = `rotated-${randomUUID()}`;
      try {
        const response = await call("PATCH", "/v1/environments/staging", { secrets: { API_TOKEN: newSecret }, variables: { FEATURE_X: "on" } });
        expect(response.status, response.text).toBe(200);
        expect(response.text).not.toContain(newSecret);
      } finally {
        unsubscribe();
      }
      const changed = events.filter((event) => event.type === "environment.changed") as Extract<DomainEvent, { type: "environment.changed" }>[];
      for (const modelId of [modelA, modelB]) {
        expect(changed.filter((event) => event.modelId === modelId).map((event) => event.environmentName)).toEqual(["staging"]);
        expect((await api.engine.service.replicaVariables(modelId, "staging"))?.env).toMatchObject({ API_TOKEN: newSecret, FEATURE_X: "on" });
        // only the staging environment's replicas get it
        expect((await api.engine.service.replicaVariables(modelId, "dev"))?.env).not.toHaveProperty("API_TOKEN");
        expect((await api.engine.service.replicaVariables(modelId, "production"))?.env).not.toHaveProperty("API_TOKEN");
        const audit = (await call("GET", `/v1/models/${modelId}/audit_logs`)).body.audit_logs as { kind: string; details: Record<string, unknown> }[];
        expect(audit[0]).toMatchObject({ kind: "environment.updated", details: { workspace_environment: "staging", variables_set: ["FEATURE_X", "API_TOKEN"] } });
        expect(JSON.stringify(audit)).not.toContain(newSecret);
      }
      // dev's models did not change
      expect(changed.some((event) => event.environmentName === "dev")).toBe(false);
      // null deletes
      const deleted = await call("PATCH", "/v1/environments/staging", { variables: { FEATURE_X: null } });
      expect(deleted.body.variables.map((variable: { name: string }) => variable.name)).toEqual(["API_TOKEN", "LOG_LEVEL"]);
    });

    describe("the chain", () => {
      it("refuses a promotion into an environment whose required stage the deployment has not passed, naming the missing stage", async () => {
        const modelId = await newModel();
        const deployment = await newDeployment(modelId);
        const promote = (environment: string, body: Record<string, unknown> = {}) =>
          call("POST", `/v1/models/${modelId}/environments/${environment}/promote`, { deployment_id: deployment.id, ...body });
        const who = `deployment ${deployment.name} \\(${deployment.id}\\)`;

        // dev requires nothing: the chain lets it through (501: execution is not in this engine)
        expectError(await promote("dev"), 501, "NOT_IMPLEMENTED");
        // never promoted to staging
        const never = await promote("production");
        expectError(never, 409, "CONFLICT", new RegExp(`^${who} has not passed staging, which production requires: it was never promoted to staging; promote it through staging first \\(or send "skip_chain": true with an admin key\\)$`));
        expect(never.body.error.details).toMatchObject({ required_environment: "staging", reason: "never_promoted", deployment_id: deployment.id });
        expectError(await promote("staging"), 409, "CONFLICT", new RegExp(`${who} has not passed dev, which staging requires: it was never promoted to dev`));
        // the compatibility route and deploying straight into production follow the same rule
        expectError(await call("POST", `/v1/models/${modelId}/deployments/${deployment.id}/promote`, {}), 409, "CONFLICT", /has not passed staging/);
        const countBefore = (await call("GET", `/v1/models/${modelId}/deployments`)).body.deployments.length;
        expectError(await call("POST", `/v1/models/${modelId}/deployments`, { command: ["x"], environment: "production" }), 409, "CONFLICT", /it was never promoted to staging/);
        expect((await call("GET", `/v1/models/${modelId}/deployments`)).body.deployments.length).toBe(countBefore);

        // failed in dev
        await finishedPromotion(modelId, "dev", deployment.id, "FAILED", 5, { errorMessage: "replicas never became ready" });
        expectError(await promote("staging"), 409, "CONFLICT", /its promotion to dev is FAILED \(replicas never became ready\), not SUCCEEDED/);
        // succeeded in dev, but with a failed analysis run
        await finishedPromotion(modelId, "dev", deployment.id, "SUCCEEDED", 4, { failedAnalysisRuns: 1 });
        const analysis = await promote("staging");
        expectError(analysis, 409, "CONFLICT", /its promotion to dev had 1 failed analysis run\(s\)/);
        expect(analysis.body.error.details.reason).toBe("analysis_failed");
        // a clean success in dev (staging asks no soak): staging is open
        await finishedPromotion(modelId, "dev", deployment.id, "SUCCEEDED", 3);
        expectError(await promote("staging"), 501, "NOT_IMPLEMENTED");
        // in staging 10 s of production's 60 s soak
        await finishedPromotion(modelId, "staging", deployment.id, "SUCCEEDED", 10);
        const soaking = await promote("production");
        expectError(soaking, 409, "CONFLICT", /it has soaked in staging for 1\d s of the 60 s required \(min_soak_seconds\), since .*; it passes at /);
        expect(soaking.body.error.details).toMatchObject({ reason: "soaking", required_environment: "staging" });
        expect(Date.parse(soaking.body.error.details.soak_ready_at)).toBeGreaterThan(Date.now() + 40_000);
        const chain = (await call("GET", `/v1/models/${modelId}/chain`)).body;
        expect(chain.environments).toEqual([
          { name: "dev", requires: null, min_soak_seconds: 0 },
          { name: "staging", requires: "dev", min_soak_seconds: 0 },
          { name: "production", requires: "staging", min_soak_seconds: 60 },
        ]);
        const stages = chain.deployments.find((entry: { deployment_id: string }) => entry.deployment_id === deployment.id).stages;
        expect(stages[0]).toMatchObject({ environment: "dev", serving: true, promotion_status: "SUCCEEDED", can_promote: true, blocked_by: null });
        expect(stages[1]).toMatchObject({ environment: "staging", serving: true, promotion_status: "SUCCEEDED", can_promote: true });
        expect(stages[2]).toMatchObject({ environment: "production", serving: false, promotion_status: null, can_promote: false, soaking_since: expect.any(String), soak_ready_at: soaking.body.error.details.soak_ready_at });
        expect(stages[2].blocked_by).toMatch(/it has soaked in staging/);

        // the override: allowed (and audited once a promotion starts: see the e2e), 501 here
        expectError(await promote("production", { skip_chain: true }), 501, "NOT_IMPLEMENTED");
        expectField(await promote("production", { skip_chain: "yes" }), "skip_chain", "invalid_type");

        // after the soak (the promotion there finished 61 s ago) production is open
        const soaked = await newDeployment(modelId);
        await finishedPromotion(modelId, "dev", soaked.id, "SUCCEEDED", 120);
        await finishedPromotion(modelId, "staging", soaked.id, "SUCCEEDED", 61);
        expectError(await call("POST", `/v1/models/${modelId}/environments/production/promote`, { deployment_id: soaked.id }), 501, "NOT_IMPLEMENTED");
      });

      it("a deployment replaced in the required environment before its soak ended has not passed", async () => {
        const modelId = await newModel();
        const early = await newDeployment(modelId);
        const later = await newDeployment(modelId);
        for (const deployment of [early, later]) await finishedPromotion(modelId, "dev", deployment.id, "SUCCEEDED", 120);
        // early served staging from 90 s ago until later took over 80 s ago: 10 s of the 60 s
        await finishedPromotion(modelId, "staging", early.id, "SUCCEEDED", 90);
        await finishedPromotion(modelId, "staging", later.id, "SUCCEEDED", 80);
        const replaced = await call("POST", `/v1/models/${modelId}/environments/production/promote`, { deployment_id: early.id });
        expectError(replaced, 409, "CONFLICT", /it served in staging for 10 s of the 60 s required \(min_soak_seconds\) before it was replaced/);
        expect(replaced.body.error.details.reason).toBe("replaced_before_soak");
        // later has served 80 s: open
        expectError(await call("POST", `/v1/models/${modelId}/environments/production/promote`, { deployment_id: later.id }), 501, "NOT_IMPLEMENTED");
      });

      it("rollback to the environment's previous deployment is exempt", async () => {
        const modelId = await newModel();
        const first = await newDeployment(modelId);
        const second = await newDeployment(modelId);
        // first served production (it got there with skip_chain, or before the chain existed), then second did
        await finishedPromotion(modelId, "production", first.id, "SUCCEEDED", 30);
        await finishedPromotion(modelId, "production", second.id, "SUCCEEDED", 20);
        const environment = (await call("GET", `/v1/models/${modelId}/environments/production`)).body;
        expect(environment.current_deployment.id).toBe(second.id);
        // neither passed staging, but the previous deployment may come back: 501 (execution), not 409
        expectError(await call("POST", `/v1/models/${modelId}/environments/production/rollback`, {}), 501, "NOT_IMPLEMENTED");
        expectError(await call("POST", `/v1/models/${modelId}/environments/production/promote`, { deployment_id: first.id }), 501, "NOT_IMPLEMENTED");
        // another deployment is not a rollback
        const third = await newDeployment(modelId);
        expectError(await call("POST", `/v1/models/${modelId}/environments/production/promote`, { deployment_id: third.id }), 409, "CONFLICT", /has not passed staging/);
      });

      it("an environment of the model's own has no chain", async () => {
        const modelId = await newModel();
        expect((await call("POST", `/v1/models/${modelId}/environments`, { name: "sandbox" })).status).toBe(201);
        const deployment = await newDeployment(modelId);
        expectError(await call("POST", `/v1/models/${modelId}/environments/sandbox/promote`, { deployment_id: deployment.id }), 501, "NOT_IMPLEMENTED");
      });
    });

    it("GET /v1/environments/{name}/deployments: what serves it in every model", async () => {
      const modelId = await newModel();
      const deployment = await newDeployment(modelId);
      await finishedPromotion(modelId, "dev", deployment.id, "SUCCEEDED", 1);
      const listed = await call("GET", "/v1/environments/dev/deployments");
      expect(listed.status, listed.text).toBe(200);
      const entry = listed.body.deployments.find((item: { model_id: string }) => item.model_id === modelId);
      expect(entry).toMatchObject({ environment: "dev", current_deployment: { id: deployment.id }, promotion_status: "SUCCEEDED", candidate_deployment_id: null, promotion_settings_source: "workspace" });
      expect(listed.body.deployments.length).toBe((await call("GET", "/v1/models")).body.models.length);
      expectError(await call("GET", "/v1/environments/nowhere/deployments"), 404, "NOT_FOUND");

      // the environment filter of the list endpoints
      const other = await newDeployment(modelId);
      const deployments = async (query: string) => (await call("GET", `/v1/models/${modelId}/deployments${query}`)).body.deployments.map((item: { id: string }) => item.id);
      expect(await deployments("?environment=dev")).toEqual([deployment.id]);
      expect(await deployments("?environment=staging")).toEqual([]);
      expect((await deployments("")).sort()).toEqual([deployment.id, other.id].sort());
      expect((await deployments("?environment=dev&cache=1"))).toEqual([deployment.id]);
      expectField(await call("GET", `/v1/models/${modelId}/deployments?environment=Not_A_Name`), "environment", "invalid_format:regex");
      expectError(await call("GET", `/v1/models/${modelId}/deployments?environment=nowhere`), 404, "NOT_FOUND", /environment nowhere not found/);
      expect((await call("POST", `/v1/models/${modelId}/environments`, { name: "only-here" })).status).toBe(201);
      expect((await call("GET", "/v1/models?environment=only-here")).body.models.map((model: { id: string }) => model.id)).toEqual([modelId]);
      expect((await call("GET", "/v1/models?environment=dev")).body.models.length).toBe((await call("GET", "/v1/models")).body.models.length);
      expect((await call("GET", "/v1/models?environment=nowhere")).body.models).toEqual([]);
      // the client sends it as a query
      const client = new ModelplaneClient({ endpoint: api.engine.url, apiKey: TEST_API_KEY });
      const filtered = await client.call("listDeployments", { params: { model_id: modelId }, query: { environment: "dev" } });
      expect(filtered.deployments.map((item) => item.id)).toEqual([deployment.id]);
    });

    it("named promotion settings in use by a workspace environment are not deletable", async () => {
      const settings = await call("POST", "/v1/promotion_settings", { name: unique("ws-settings"), rolling_deploy: false });
      expect(settings.status, settings.text).toBe(201);
      const qa = await createWorkspace({ name: "qa", promotion_settings_id: settings.body.id });
      expect(qa.status, qa.text).toBe(201);
      expect(qa.body).toMatchObject({ promotion_settings_id: settings.body.id, promotion_settings: { rolling_deploy: false } });
      expectError(await call("DELETE", `/v1/promotion_settings/${settings.body.id}`), 409, "CONFLICT", /workspace environment qa/);
      expectError(await call("PATCH", "/v1/environments/qa", { promotion_settings: { rolling_deploy: true } }), 409, "CONFLICT", /promotion_settings_id: null/);
      expect((await call("PATCH", "/v1/environments/qa", { promotion_settings_id: null })).body.promotion_settings_id).toBeNull();
      expect((await call("DELETE", `/v1/promotion_settings/${settings.body.id}`)).status).toBe(200);
    });

    it("delete: refused while another requires it; afterwards each model keeps its environment with the values it had", async () => {
      expectError(await call("DELETE", "/v1/environments/staging"), 409, "CONFLICT", /production requires staging/);
      const modelId = await newModel();
      await call("PUT", `/v1/models/${modelId}/environments/staging/variables/LOG_LEVEL`, { value: "own" });
      const before = await api.engine.service.replicaVariables(modelId, "staging");
      expect((await call("PATCH", "/v1/environments/production", { requires: null })).body).toMatchObject({ requires: null, min_soak_seconds: 0 });
      const deleted = await call("DELETE", "/v1/environments/staging");
      expect(deleted.status, deleted.text).toBe(200);
      expect(deleted.body).toEqual({ id: "staging", deleted: true });
      const staging = (await call("GET", `/v1/models/${modelId}/environments/staging`)).body;
      expect(staging).toMatchObject({ workspace_environment: null, promotion_settings_source: "model" });
      expect(staging.promotion_settings.rolling_deploy_config.max_surge_percent).toBe(40);
      expect(await api.engine.service.replicaVariables(modelId, "staging")).toEqual(before);
      expectError(await call("GET", "/v1/environments/staging"), 404, "NOT_FOUND");
      // a model created now has no staging
      const later = await newModel();
      expect(((await call("GET", `/v1/models/${later}/environments`)).body.environments as { name: string }[]).map((environment) => environment.name)).toEqual([
        "production",
        "dev",
        "qa",
      ]);
    });
  });
}
