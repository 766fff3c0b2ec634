import {
  AUTOSCALING_DEFAULTS,
  type ApiKey,
  type CreateApiKeyBody,
  type CreatedApiKey,
  AutoscalingSettingsInput,
  type AuditLogEntry,
  type AutoscalingSettingsPatch,
  type CreateDeploymentBody,
  type CreateEnvironmentBody,
  type CreateModelBody,
  type CreatePromotionSettingsBody,
  type Deployment,
  type Environment,
  type Model,
  type PatchDeploymentBody,
  type PatchEnvironmentBody,
  type PatchPromotionSettingsBody,
  type PromoteBody,
  type Promotion,
  type PromotionSettingsObject,
  type PutDevelopmentDeploymentBody,
  type PutVariableBody,
  type VariableChange,
  type DeletedVariable,
  type VariablesRollout,
  type CreateWorkspaceEnvironmentBody,
  type EnvironmentDeployment,
  type ModelChain,
  type PatchWorkspaceEnvironmentBody,
  type WorkspaceEnvironment,
} from "../../sdk/index.js";
import { modelChain } from "./chain.js";
import * as workspaceEnvironments from "./workspace-environments.js";
import { notImplemented } from "../errors.js";
import { ShadowStats } from "../metrics/shadow-stats.js";
import type { ShadowReport } from "../../sdk/schemas/shadow.js";
import { findLiveEnvironment } from "../store/environments.js";
import type { Sql } from "../store/sql.js";
import { listVariables } from "../store/variables.js";
import * as apiKeys from "./api-keys.js";
import { inTransaction, type ServiceContext, type UnitOfWork } from "./context.js";
import * as deployments from "./deployments.js";
import * as environments from "./environments.js";
import { DomainEvents, type DomainEventListener } from "./events.js";
import { effectiveVariables, loadDeployment, requireEnvironment, requireModel } from "./lookups.js";
import * as models from "./models.js";
import * as promotionSettings from "./promotion-settings.js";
import * as promotions from "./promotions.js";
import type { PromotionActionName, PromotionExecutor } from "./promotions.js";
import * as variables from "./variables.js";

type Deleted = { id: string; deleted: true };

/**
 * The control plane's operations, one method per API route plus the hooks the engine's runtime
 * driver and reconciler need. Every write is one transaction with an audit entry; domain events
 * (`onChange`) fire after commit.
 */
export interface ControlPlaneOptions {
  sql: Sql;
  /** where domain events go after commit (the data plane listens); default: a new, unheard one */
  events?: DomainEvents;
  now?: () => Date;
  /** promotion execution (the data plane's reconciler); without it, promote routes answer 501 */
  promotionExecutor?: PromotionExecutor;
  /** what observes the replicas of an environment's sets (the deployment controller); without it,
   * variable changes report no rollout */
  variablesRollout?: (modelId: string, environmentName: string) => Promise<VariablesRollout>;
  /** the router's shadow counts (engine/metrics/shadow-stats.ts); without it every report is empty */
  shadowStats?: Pick<ShadowStats, "report">;
}

export class ControlPlane {
  readonly events: DomainEvents;
  readonly #context: ServiceContext;
  readonly #promotionExecutor: PromotionExecutor | undefined;
  readonly #variablesRolloutSource: ((modelId: string, environmentName: string) => Promise<VariablesRollout>) | undefined;

  constructor(options: ControlPlaneOptions) {
    this.events = options.events ?? new DomainEvents();
    this.#context = { sql: options.sql, events: this.events, now: options.now ?? (() => new Date()) };
    this.#promotionExecutor = options.promotionExecutor;
    this.#variablesRolloutSource = options.variablesRollout;
    this.#shadowStats = options.shadowStats ?? new ShadowStats();
  }

  readonly #shadowStats: Pick<ShadowStats, "report">;

  /** The live comparison of an environment's shadow, as this engine's router counted it. */
  async getShadow(modelId: string, environmentName: string): Promise<ShadowReport> {
    await requireModel(this.#context.sql, modelId);
    const environment = await requireEnvironment(this.#context.sql, modelId, environmentName);
    return this.#shadowStats.report(modelId, environmentName, environment.shadow ?? null);
  }

  get sql(): Sql {
    return this.#context.sql;
  }

  onChange(listener: DomainEventListener): () => void {
    return this.events.onChange(listener);
  }

  /** Run custom work in a service transaction (audit + events after commit), for the reconciler. */
  transaction<T>(fn: (work: UnitOfWork) => Promise<T>): Promise<T> {
    return inTransaction(this.#context, fn);
  }

  // models
  createModel(body: CreateModelBody): Promise<Model> {
    return models.createModel(this.#context, body);
  }
  /** `environment`: only models that have an environment of that name. */
  listModels(environment?: string): Promise<Model[]> {
    return models.listModels(this.#context, environment);
  }
  getModel(modelId: string): Promise<Model> {
    return models.getModel(this.#context, modelId);
  }
  deleteModel(modelId: string): Promise<Deleted> {
    return models.deleteModel(this.#context, modelId);
  }
  listAuditLogs(modelId: string): Promise<AuditLogEntry[]> {
    return models.listModelAuditLogs(this.#context, modelId);
  }

  // deployments
  /**
   * Create a published deployment. With `environment`, also start promoting it there in the same
   * transaction (like `truss push --environment`): a rejected promotion creates nothing.
   */
  async createDeployment(modelId: string, body: CreateDeploymentBody): Promise<Deployment> {
    const targetEnvironment = body.environment;
    if (targetEnvironment === undefined) return (await deployments.createDeployment(this.#context, modelId, body)).deployment;
    return inTransaction(this.#context, async (work) => {
      await requireModel(work.tx, modelId, true);
      await requireEnvironment(work.tx, modelId, targetEnvironment);
      const { environment: _environment, name, autoscaling_settings, ...runnable } = body;
      const row = await deployments.insertPublishedDeployment(work, modelId, {
        ...(name !== undefined ? { name } : {}),
        spec: {
          command: runnable.command ?? [],
          ...(runnable.cwd !== undefined ? { cwd: runnable.cwd } : {}),
          ...(runnable.image !== undefined ? { image: runnable.image } : {}),
          ...(runnable.port !== undefined ? { port: runnable.port } : {}),
          readiness_path: runnable.readiness_path,
          predict_path: runnable.predict_path,
          env: runnable.env,
          ...(runnable.resources !== undefined ? { resources: runnable.resources } : {}),
        },
        autoscalingSettings: autoscaling_settings
          ? AutoscalingSettingsInput.parse(autoscaling_settings)
          : { ...AUTOSCALING_DEFAULTS },
      });
      const request = await promotions.validatePromotionRequest(work, modelId, targetEnvironment, {
        deployment_id: row.id,
      });
      // after the rules (the chain's included): a refused request says why; nothing is created either way
      const executor = this.#promotionExecutor;
      if (!executor) throw notImplemented("deploying into an environment needs promotions, not executed by this engine build yet");
      promotions.promotionStarted(work, request, await executor.start(work, request));
      return loadDeployment(work.tx, row);
    });
  }
  /** `environment`: only the deployments that serve it or are promoted into it. */
  listDeployments(modelId: string, environment?: string): Promise<Deployment[]> {
    return deployments.listDeployments(this.#context, modelId, environment);
  }
  getDeployment(modelId: string, deploymentId: string): Promise<Deployment> {
    return deployments.getDeployment(this.#context, modelId, deploymentId);
  }
  putDevelopmentDeployment(
    modelId: string,
    body: PutDevelopmentDeploymentBody,
  ): Promise<{ deployment: Deployment; created: boolean }> {
    return deployments.putDevelopmentDeployment(this.#context, modelId, body);
  }
  patchDeployment(modelId: string, deploymentId: string, body: PatchDeploymentBody): Promise<Deployment> {
    return deployments.patchDeployment(this.#context, modelId, deploymentId, body);
  }
  deleteDeployment(modelId: string, deploymentId: string): Promise<Deleted> {
    return deployments.deleteDeployment(this.#context, modelId, deploymentId);
  }
  activateDeployment(modelId: string, deploymentId: string): Promise<Deployment> {
    return deployments.setDeploymentActive(this.#context, modelId, deploymentId, true);
  }
  deactivateDeployment(modelId: string, deploymentId: string): Promise<Deployment> {
    return deployments.setDeploymentActive(this.#context, modelId, deploymentId, false);
  }
  updateDeploymentAutoscaling(modelId: string, deploymentId: string, patch: AutoscalingSettingsPatch): Promise<Deployment> {
    return deployments.updateDeploymentAutoscaling(this.#context, modelId, deploymentId, patch);
  }

  // environments and variables
  createEnvironment(modelId: string, body: CreateEnvironmentBody): Promise<Environment> {
    return environments.createEnvironment(this.#context, modelId, body);
  }
  listEnvironments(modelId: string): Promise<Environment[]> {
    return environments.listEnvironments(this.#context, modelId);
  }
  getEnvironment(modelId: string, name: string): Promise<Environment> {
    return environments.getEnvironment(this.#context, modelId, name);
  }
  patchEnvironment(modelId: string, name: string, body: PatchEnvironmentBody): Promise<Environment> {
    return environments.patchEnvironment(this.#context, modelId, name, body);
  }
  deleteEnvironment(modelId: string, name: string): Promise<Deleted> {
    return environments.deleteEnvironment(this.#context, modelId, name);
  }
  /** Set a variable; the answer carries the rollout of the environment's replicas it started. */
  async putVariable(modelId: string, environmentName: string, name: string, body: PutVariableBody): Promise<VariableChange> {
    const variable = await variables.putVariable(this.#context, modelId, environmentName, name, body);
    return { ...variable, rollout: await this.variablesRollout(modelId, environmentName) };
  }
  async deleteVariable(modelId: string, environmentName: string, name: string): Promise<DeletedVariable> {
    const deleted = await variables.deleteVariable(this.#context, modelId, environmentName, name);
    return { ...deleted, rollout: await this.variablesRollout(modelId, environmentName) };
  }

  /**
   * Where the roll of an environment's replicas onto its current variables stands. The runtime side
   * (the deployment controller) answers; without one attached (a control plane on its own) there is
   * nothing running to roll: NONE.
   */
  async variablesRollout(modelId: string, environmentName: string): Promise<VariablesRollout> {
    await requireModel(this.#context.sql, modelId);
    await requireEnvironment(this.#context.sql, modelId, environmentName);
    if (this.#variablesRolloutSource) return this.#variablesRolloutSource(modelId, environmentName);
    return { environment: environmentName, deployment_ids: [], status: "NONE", replicas: { desired: 0, updated_ready: 0, outdated: 0 } };
  }

  // workspace environments
  createWorkspaceEnvironment(body: CreateWorkspaceEnvironmentBody): Promise<WorkspaceEnvironment> {
    return workspaceEnvironments.createWorkspaceEnvironment(this.#context, body);
  }
  listWorkspaceEnvironments(): Promise<WorkspaceEnvironment[]> {
    return workspaceEnvironments.listWorkspaceEnvironments(this.#context);
  }
  getWorkspaceEnvironment(name: string): Promise<WorkspaceEnvironment> {
    return workspaceEnvironments.getWorkspaceEnvironment(this.#context, name);
  }
  patchWorkspaceEnvironment(name: string, body: PatchWorkspaceEnvironmentBody): Promise<WorkspaceEnvironment> {
    return workspaceEnvironments.patchWorkspaceEnvironment(this.#context, name, body);
  }
  deleteWorkspaceEnvironment(name: string): Promise<Deleted> {
    return workspaceEnvironments.deleteWorkspaceEnvironment(this.#context, name);
  }
  listWorkspaceEnvironmentDeployments(name: string): Promise<EnvironmentDeployment[]> {
    return workspaceEnvironments.listWorkspaceEnvironmentDeployments(this.#context, name);
  }
  getModelChain(modelId: string): Promise<ModelChain> {
    return modelChain(this.#context.sql, modelId, this.#context.now());
  }

  // promotions
  promote(modelId: string, environmentName: string, body: PromoteBody): Promise<Promotion> {
    return promotions.promote(this.#context, this.#promotionExecutor, modelId, environmentName, body);
  }
  promoteToProduction(modelId: string, deploymentId: string, timeoutSeconds?: number): Promise<Promotion> {
    return promotions.promoteToProduction(this.#context, this.#promotionExecutor, modelId, deploymentId, timeoutSeconds);
  }
  rollback(modelId: string, environmentName: string, timeoutSeconds?: number): Promise<Promotion> {
    return promotions.rollback(this.#context, this.#promotionExecutor, modelId, environmentName, timeoutSeconds);
  }
  requestPromotionAction(modelId: string, environmentName: string, action: PromotionActionName): Promise<Promotion> {
    return promotions.requestPromotionAction(this.#context, this.#promotionExecutor, modelId, environmentName, action);
  }
  listPromotions(modelId: string, environmentName: string): Promise<Promotion[]> {
    return promotions.listPromotions(this.#context, modelId, environmentName);
  }
  getPromotion(modelId: string, environmentName: string, promotionId: string): Promise<Promotion> {
    return promotions.getPromotion(this.#context, modelId, environmentName, promotionId);
  }

  // named promotion settings
  createPromotionSettings(body: CreatePromotionSettingsBody): Promise<PromotionSettingsObject> {
    return promotionSettings.createPromotionSettings(this.#context, body);
  }
  listPromotionSettings(): Promise<PromotionSettingsObject[]> {
    return promotionSettings.listPromotionSettings(this.#context);
  }
  getPromotionSettings(id: string): Promise<PromotionSettingsObject> {
    return promotionSettings.getPromotionSettings(this.#context, id);
  }
  patchPromotionSettings(id: string, body: PatchPromotionSettingsBody): Promise<PromotionSettingsObject> {
    return promotionSettings.patchPromotionSettings(this.#context, id, body);
  }
  deletePromotionSettings(id: string): Promise<Deleted> {
    return promotionSettings.deletePromotionSettings(this.#context, id);
  }

  // API keys
  createApiKey(body: CreateApiKeyBody): Promise<CreatedApiKey> {
    return apiKeys.createApiKey(this.#context, body);
  }
  listApiKeys(): Promise<ApiKey[]> {
    return apiKeys.listApiKeys(this.#context);
  }
  revokeApiKey(id: string): Promise<Deleted> {
    return apiKeys.revokeApiKey(this.#context, id);
  }

  // hooks for the runtime driver and the reconciler

  /**
   * Variables to inject into an environment's replicas, secret values included, plus the names of
   * the secret ones so the runtime can redact them. Never return this through the API or log it.
   */
  async replicaVariables(
    modelId: string,
    environmentName: string,
  ): Promise<{ env: Record<string, string>; secretKeys: string[] } | undefined> {
    const environment = await findLiveEnvironment(this.#context.sql, modelId, environmentName);
    if (!environment) return undefined;
    const rows = environment.workspace_environment_id === null ? await listVariables(this.#context.sql, environment.id) : await effectiveVariables(this.#context.sql, environment);
    return {
      env: Object.fromEntries(rows.map((row) => [row.name, row.value])),
      secretKeys: rows.filter((row) => row.secret).map((row) => row.name),
    };
  }
}
