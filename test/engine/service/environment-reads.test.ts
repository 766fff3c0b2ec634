/**
 * GET environment and the list of a model's environments read the store in one statement each
 * (engine/store/environment-views.ts; issue 14: on the embedded store, which runs one statement at
 * a time for everyone, these reads were ~35 % of the API's statements at 4-10 each), and show what
 * they showed before, byte for byte: an environment with a promotion in progress (candidate and
 * current), one whose promotion succeeded, variables and secrets (masked), a workspace
 * environment's variables with one overridden by the model's own, a named promotion settings
 * object used by the model's environment and, inherited, by the workspace environment's.
 * On both stores: the deployments and the promotion come back inside JSON there, where timestamps
 * are text (the drivers give the row's own columns as Date).
 */
import { describe, expect, it } from "vitest";
import { AUTOSCALING_DEFAULTS, defaultPromotionSettings, isTerminalPromotionStatus, type Deployment, type Environment, type Promotion } from "../../../sdk/index.js";
import { createPromotionExecutor } from "../../../engine/promotions/executor.js";
import { ControlPlane } from "../../../engine/service/control-plane.js";
import type { Sql } from "../../../engine/store/sql.js";
import { pgliteStoreForFile } from "../../support/pglite-store-for-file.js";
import { describeOnPostgres } from "../../support/postgres-store-for-file.js";
import { loggingStatements } from "../../support/statement-log.js";

/** A value as a jsonb column gives it back: every object's keys shorter first, then bytewise. */
function inJsonbKeyOrder<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item: unknown) => inJsonbKeyOrder(item)) as T;
  if (typeof value !== "object" || value === null) return value;
  const keys = Object.keys(value).sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(keys.map((key) => [key, inJsonbKeyOrder((value as Record<string, unknown>)[key])])) as T;
}

function describeEnvironmentReads(storeName: string, store: () => Sql): void {
  describe(`environment reads on ${storeName}`, () => {
    it("GET environment and the list are one statement each and show what they showed before", async () => {
      const log = loggingStatements(store());
      // a clock whose milliseconds are never round (what the timestamps inside JSON must keep)
      let clock = Date.parse("2026-12-03T10:00:00.007Z");
      const service = new ControlPlane({
        sql: log.sql,
        now: () => new Date((clock += 1_013)),
        promotionExecutor: createPromotionExecutor({ currentReplicas: () => 1, readyReplicas: () => 0 }),
      });
      const careful = await service.createPromotionSettings({ name: "careful", rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 25 } } as never);
      const { id: _id, name: _name, created_at: _created, updated_at: _updated, ...carefulSettings } = careful;
      await service.createWorkspaceEnvironment({
        name: "qa",
        promotion_settings_id: careful.id,
        variables: { QA_LEVEL: "3", REGION: "eu" },
        secrets: { QA_TOKEN: "qa-secret" },
      } as never);
      const model = await service.createModel({ name: "reads" });
      const staging = await service.createEnvironment(model.id, { name: "staging" });
      await service.putVariable(model.id, "production", "LOG_LEVEL", { value: "info", secret: false });
      await service.putVariable(model.id, "production", "API_TOKEN", { value: "prod-secret", secret: true });
      await service.patchEnvironment(model.id, "production", { promotion_settings_id: careful.id } as never);
      await service.putVariable(model.id, "qa", "REGION", { value: "us", secret: false });
      await service.putVariable(model.id, "qa", "MODEL_TOKEN", { value: "model-secret", secret: true });
      const deployments: Deployment[] = [];
      for (let d = 0; d < 4; d++) deployments.push(await service.createDeployment(model.id, { command: ["model", String(d)], env: { N: String(d) } } as never));
      const [d0, d1, d2, d3] = deployments.map((deployment) => deployment.id) as [string, string, string, string];
      // as finished promotions leave them: production ← d0, qa ← d1
      const serve = (environment: string, deploymentId: string) =>
        store().query("UPDATE environments SET current_deployment_id = $3 WHERE model_id = $1 AND name = $2", [model.id, environment, deploymentId]);
      await serve("production", d0);
      await serve("qa", d1);
      // in progress: qa ← d2 (inherits the workspace's settings: careful), production ← d3
      const qaPromotion = await service.promote(model.id, "qa", { deployment_id: d2 });
      const productionPromotion = await service.promote(model.id, "production", { deployment_id: d3 });
      // staging ← d1, succeeded (its terminal write sets the environment's deployment with it)
      const stagingStarted = await service.promote(model.id, "staging", { deployment_id: d1 });
      const finishedAt = "2026-12-03T11:00:00.289Z";
      await store().query("UPDATE promotions SET status = 'SUCCEEDED', percent_traffic_to_new_version = 100, finished_at = $2, updated_at = $2 WHERE id = $1", [
        stagingStarted.id,
        finishedAt,
      ]);
      await serve("staging", d1);
      const stagingPromotion: Promotion = { ...stagingStarted, status: "SUCCEEDED", percent_traffic_to_new_version: 100, updated_at: finishedAt, finished_at: finishedAt };

      // the deployments as GET deployment shows them (another read: d1 serves qa and staging, qa first by name)
      const shown = async (id: string, environment: string | null): Promise<Deployment> => {
        const deployment = await service.getDeployment(model.id, id);
        expect(deployment.environment).toBe(environment);
        return deployment;
      };
      const endpoint = (name: string) => `/models/${model.id}/environments/${name}/predict`;
      // in the presenter's key order: the API's JSON is compared byte for byte
      const expected: Environment[] = [
        {
          name: "production",
          model_id: model.id,
          created_at: model.created_at,
          current_deployment: await shown(d0, "production"),
          candidate_deployment: await shown(d3, null),
          in_progress_promotion: productionPromotion,
          autoscaling_settings: inJsonbKeyOrder(AUTOSCALING_DEFAULTS),
          promotion_settings: carefulSettings,
          promotion_settings_id: careful.id,
          variables: [
            { name: "API_TOKEN", secret: true },
            { name: "LOG_LEVEL", secret: false, value: "info" },
          ],
          workspace_environment: null,
          promotion_settings_source: "model",
          endpoint: endpoint("production"),
          public: false,
          shadow: null,
          header_routing: null,
        },
        {
          name: "qa",
          model_id: model.id,
          created_at: model.created_at,
          current_deployment: await shown(d1, "qa"),
          candidate_deployment: await shown(d2, null),
          in_progress_promotion: qaPromotion,
          autoscaling_settings: inJsonbKeyOrder(AUTOSCALING_DEFAULTS),
          promotion_settings: carefulSettings,
          promotion_settings_id: null,
          variables: [
            { name: "MODEL_TOKEN", secret: true, source: "model" },
            { name: "QA_LEVEL", secret: false, value: "3", source: "workspace" },
            { name: "QA_TOKEN", secret: true, source: "workspace" },
            { name: "REGION", secret: false, value: "us", source: "model" },
          ],
          workspace_environment: "qa",
          promotion_settings_source: "workspace",
          endpoint: endpoint("qa"),
          public: false,
          shadow: null,
          header_routing: null,
        },
        {
          name: "staging",
          model_id: model.id,
          created_at: staging.created_at,
          current_deployment: await shown(d1, "qa"),
          candidate_deployment: null,
          in_progress_promotion: stagingPromotion,
          autoscaling_settings: inJsonbKeyOrder(AUTOSCALING_DEFAULTS),
          promotion_settings: inJsonbKeyOrder(defaultPromotionSettings()),
          promotion_settings_id: null,
          variables: [],
          workspace_environment: null,
          promotion_settings_source: "model",
          endpoint: endpoint("staging"),
          public: false,
          shadow: null,
          header_routing: null,
        },
      ];
      for (const promotion of [qaPromotion, productionPromotion]) expect(isTerminalPromotionStatus(promotion.status)).toBe(false);
      expect(qaPromotion).toMatchObject({ deployment_id: d2, previous_deployment_id: d1 });
      expect(qaPromotion.started_at).toMatch(/\.\d{3}Z$/);

      for (const environment of expected) {
        const from = log.statements.length;
        const read = await service.getEnvironment(model.id, environment.name);
        expect(log.statements.length - from, `GET environment ${environment.name}`).toBe(1);
        expect(read).toEqual(environment);
        expect(JSON.stringify(read)).toBe(JSON.stringify(environment));
      }
      const from = log.statements.length;
      const listed = await service.listEnvironments(model.id);
      expect(log.statements.length - from, "list environments").toBe(1);
      expect(listed).toEqual(expected);
      expect(JSON.stringify(listed)).toBe(JSON.stringify(expected));

      // A workspace environment's deployments in every model: its row, then one statement whatever
      // the number of models (~5 a model before).
      const other = await service.createModel({ name: "other-reads" });
      const fromWorkspace = log.statements.length;
      const qaEverywhere = await service.listWorkspaceEnvironmentDeployments("qa");
      expect(log.statements.length - fromWorkspace, "a workspace environment's deployments").toBe(2);
      expect(qaEverywhere).toEqual([
        { model_id: other.id, model_name: "other-reads", environment: "qa", current_deployment: null, candidate_deployment_id: null, promotion_status: null, promotion_settings_source: "workspace" },
        { model_id: model.id, model_name: "reads", environment: "qa", current_deployment: await shown(d1, "qa"), candidate_deployment_id: d2, promotion_status: qaPromotion.status, promotion_settings_source: "workspace" },
      ]);

      // the 404s name what is missing
      await expect(service.getEnvironment(model.id, "missing")).rejects.toThrow(`environment missing not found in model ${model.id}`);
      await expect(service.getEnvironment("mdl-missing", "production")).rejects.toThrow("model mdl-missing not found");
      await expect(service.listEnvironments("mdl-missing")).rejects.toThrow("model mdl-missing not found");
    });
  });
}

describeEnvironmentReads("PGlite", pgliteStoreForFile());

describeOnPostgres("PostgreSQL 15", (store) => describeEnvironmentReads("PostgreSQL 15", store));
