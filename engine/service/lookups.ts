import { isTerminalPromotionStatus, type Deployment, type Environment, type PromotionSettings } from "../../sdk/index.js";
import { notFound } from "../errors.js";
import { findLiveDeployment, findLiveDeploymentServing, type DeploymentRow } from "../store/deployments.js";
import { findLiveEnvironment, listServingEnvironments, type EnvironmentRow } from "../store/environments.js";
import { findLiveModel, type ModelRow } from "../store/models.js";
import { findLivePromotionSettings, type PromotionSettingsRow } from "../store/promotion-settings.js";
import { findLatestPromotion } from "../store/promotions.js";
import type { SqlExecutor } from "../store/sql.js";
import { toIsoTimestamp } from "../store/timestamps.js";
import { listVariables } from "../store/variables.js";
import { findWorkspaceEnvironmentById, listWorkspaceVariables, type WorkspaceEnvironmentRow } from "../store/workspace-environments.js";
import { environmentEndpoint, presentDeployment, presentPromotion, presentVariable } from "./presenters.js";

/**
 * Loading rows by API identifiers, with the 404s every operation shares. A live deployment or
 * environment implies a live model (deleting a model soft-deletes what it holds), so reads look the
 * row up directly and read the model only to say which 404 it is: one statement fewer per request.
 */

export async function requireModel(sql: SqlExecutor, modelId: string, forUpdate = false): Promise<ModelRow> {
  const model = await findLiveModel(sql, modelId, forUpdate);
  if (!model) throw notFound(`model ${modelId} not found (list models with GET /v1/models)`, { model_id: modelId });
  return model;
}

export async function requireDeployment(
  sql: SqlExecutor,
  modelId: string,
  deploymentId: string,
  forUpdate = false,
): Promise<DeploymentRow> {
  const deployment = await findLiveDeployment(sql, modelId, deploymentId, forUpdate);
  if (!deployment) {
    await requireModel(sql, modelId);
    throw notFound(
      deploymentId === "development"
        ? `model ${modelId} has no development deployment (create it with PUT /v1/models/${modelId}/deployments/development)`
        : `deployment ${deploymentId} not found in model ${modelId}`,
      { model_id: modelId, deployment_id: deploymentId },
    );
  }
  return deployment;
}

export async function requireEnvironment(
  sql: SqlExecutor,
  modelId: string,
  environmentName: string,
  forUpdate = false,
): Promise<EnvironmentRow> {
  const environment = await findLiveEnvironment(sql, modelId, environmentName, forUpdate);
  if (!environment) {
    await requireModel(sql, modelId);
    throw notFound(
      `environment ${environmentName} not found in model ${modelId} (create it with POST /v1/models/${modelId}/environments)`,
      { model_id: modelId, env_name: environmentName },
    );
  }
  return environment;
}

/** Map deployment id → name of the environment it serves (production preferred) for one model. */
export async function servingEnvironmentNames(sql: SqlExecutor, modelId: string): Promise<Map<string, string>> {
  const rows = await listServingEnvironments(sql, modelId);
  const byDeployment = new Map<string, string>();
  for (const row of rows) if (!byDeployment.has(row.current_deployment_id)) byDeployment.set(row.current_deployment_id, row.name);
  return byDeployment;
}

export async function loadDeployment(sql: SqlExecutor, row: DeploymentRow): Promise<Deployment> {
  const serving = await servingEnvironmentNames(sql, row.model_id);
  return presentDeployment(row, serving.get(row.id) ?? null);
}

/** A live deployment as the API shows it, read in one statement (requireDeployment's 404s when there is none). */
export async function requirePresentedDeployment(sql: SqlExecutor, modelId: string, deploymentId: string): Promise<Deployment> {
  const row = await findLiveDeploymentServing(sql, modelId, deploymentId);
  if (row) return presentDeployment(row, row.serving_environment);
  // which 404 it is (or, created meanwhile, the row after all)
  return loadDeployment(sql, await requireDeployment(sql, modelId, deploymentId));
}

/** Inline settings, or the named object's when one is referred to. */
async function settingsOf(
  sql: SqlExecutor,
  row: Pick<EnvironmentRow | WorkspaceEnvironmentRow, "promotion_settings_id" | "inline_promotion_settings">,
): Promise<PromotionSettings> {
  const named = row.promotion_settings_id === null ? undefined : await findLivePromotionSettings(sql, row.promotion_settings_id);
  return settingsFrom(row, named);
}

/** settingsOf from rows already read: `named` is the live object `row.promotion_settings_id` refers to, if any. */
export function settingsFrom(
  row: Pick<EnvironmentRow | WorkspaceEnvironmentRow, "promotion_settings_id" | "inline_promotion_settings">,
  named: Pick<PromotionSettingsRow, "settings"> | undefined,
): PromotionSettings {
  if (row.promotion_settings_id === null) return row.inline_promotion_settings;
  // a referenced object cannot be deleted while used; fall back to inline settings if it somehow was
  return named?.settings ?? row.inline_promotion_settings;
}

/** The workspace environment's default settings (inline, or its named object's). */
export function workspacePromotionSettings(sql: SqlExecutor, workspace: WorkspaceEnvironmentRow): Promise<PromotionSettings> {
  return settingsOf(sql, workspace);
}

/** Where an environment's promotion settings come from: the workspace's while it inherits them. */
export function promotionSettingsSource(environment: EnvironmentRow): "model" | "workspace" {
  return environment.workspace_environment_id !== null && environment.inherit_promotion_settings ? "workspace" : "model";
}

/** The settings a promotion in this environment would use now: the model's own, or (inherited) the workspace environment's. */
export async function effectivePromotionSettings(
  sql: SqlExecutor,
  environment: EnvironmentRow,
): Promise<PromotionSettings> {
  const workspace = promotionSettingsSource(environment) === "workspace" ? await findWorkspaceEnvironmentById(sql, environment.workspace_environment_id!) : undefined;
  return settingsOf(sql, workspace ?? environment);
}

/** One effective variable of an environment, plain text (secret values included: never return it as is). */
export interface EffectiveVariable {
  name: string;
  value: string;
  secret: boolean;
  source: "model" | "workspace";
}

/**
 * An environment's effective variables and secrets, by name: its workspace environment's, each
 * overridden by the model's own of the same name. Secret values included (for the replicas only).
 */
export async function effectiveVariables(sql: SqlExecutor, environment: EnvironmentRow): Promise<EffectiveVariable[]> {
  const workspace = environment.workspace_environment_id === null ? [] : await listWorkspaceVariables(sql, environment.workspace_environment_id);
  return mergeEffectiveVariables(workspace, await listVariables(sql, environment.id));
}

/** effectiveVariables from rows already read: the workspace environment's, each overridden by the model's own of the same name, by name. */
export function mergeEffectiveVariables(
  workspace: readonly Pick<EffectiveVariable, "name" | "value" | "secret">[],
  model: readonly Pick<EffectiveVariable, "name" | "value" | "secret">[],
): EffectiveVariable[] {
  const byName = new Map<string, EffectiveVariable>();
  for (const row of workspace) byName.set(row.name, { name: row.name, value: row.value, secret: row.secret, source: "workspace" });
  for (const row of model) byName.set(row.name, { name: row.name, value: row.value, secret: row.secret, source: "model" });
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export async function loadEnvironment(sql: SqlExecutor, read: EnvironmentRow): Promise<Environment> {
  // each deployment with the environment it serves in one statement (not the model's serving environments once more)
  const present = async (deploymentId: string | null): Promise<Deployment | null> => {
    if (deploymentId === null) return null;
    const row = await findLiveDeploymentServing(sql, environment.model_id, deploymentId);
    return row ? presentDeployment(row, row.serving_environment) : null;
  };
  // The newest promotion stays in `in_progress_promotion` with its terminal status (and
  // finished_at) until the next one starts, as Baseten documents; only a running one has a candidate.
  const promotion = await findLatestPromotion(sql, read.id);
  // The row and the promotion are two statements: a promotion that succeeded in between (its terminal
  // write sets the environment's current deployment in the same transaction) would show SUCCEEDED
  // beside the deployment it replaced. Read again, the row has what that commit wrote.
  const environment =
    promotion?.status === "SUCCEEDED" && read.current_deployment_id !== promotion.deployment_id
      ? ((await findLiveEnvironment(sql, read.model_id, read.name)) ?? read)
      : read;
  const running = promotion !== undefined && !isTerminalPromotionStatus(promotion.status) ? promotion : undefined;
  return {
    name: environment.name,
    model_id: environment.model_id,
    created_at: toIsoTimestamp(environment.created_at),
    current_deployment: await present(environment.current_deployment_id),
    candidate_deployment: await present(running?.deployment_id ?? null),
    in_progress_promotion: promotion ? presentPromotion(promotion) : null,
    autoscaling_settings: environment.autoscaling_settings,
    promotion_settings: await effectivePromotionSettings(sql, environment),
    promotion_settings_id: environment.promotion_settings_id,
    // an environment of the model's own shows its variables as before; one of a workspace
    // environment says where each effective value comes from
    variables:
      environment.workspace_environment_id === null
        ? (await listVariables(sql, environment.id)).map(presentVariable)
        : (await effectiveVariables(sql, environment)).map((variable) => ({ ...presentVariable(variable), source: variable.source })),
    workspace_environment:
      environment.workspace_environment_id === null
        ? null
        : ((await findWorkspaceEnvironmentById(sql, environment.workspace_environment_id))?.name ?? null),
    promotion_settings_source: promotionSettingsSource(environment),
    endpoint: environmentEndpoint(environment.model_id, environment.name),
    public: environment.public,
    shadow: environment.shadow ?? null,
    header_routing: environment.header_routing ?? null,
  };
}
