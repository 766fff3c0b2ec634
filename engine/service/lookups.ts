import type { Deployment, Environment, PromotionSettings } from "../../sdk/index.js";
import { notFound } from "../errors.js";
import { findLiveDeployment, findLiveDeploymentServing, type DeploymentRow } from "../store/deployments.js";
import { findEnvironmentView, listEnvironmentViews } from "../store/environment-views.js";
import { findLiveEnvironment, listServingEnvironments, type EnvironmentRow } from "../store/environments.js";
import { findLiveModel, type ModelRow } from "../store/models.js";
import { findLivePromotionSettings, type PromotionSettingsRow } from "../store/promotion-settings.js";
import type { SqlExecutor } from "../store/sql.js";
import { listVariables } from "../store/variables.js";
import { findWorkspaceEnvironmentById, listWorkspaceVariables, type WorkspaceEnvironmentRow } from "../store/workspace-environments.js";
import { presentDeployment, presentEnvironment } from "./presenters.js";

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
  return environment ?? environmentNotFound(sql, modelId, environmentName);
}

/** The 404 of an environment that is not there: the model's when the model is not there either. */
async function environmentNotFound(sql: SqlExecutor, modelId: string, environmentName: string): Promise<never> {
  await requireModel(sql, modelId);
  throw notFound(
    `environment ${environmentName} not found in model ${modelId} (create it with POST /v1/models/${modelId}/environments)`,
    { model_id: modelId, env_name: environmentName },
  );
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

/** A live environment as the API shows it, read in one statement (requireEnvironment's 404s when there is none). */
export async function requirePresentedEnvironment(sql: SqlExecutor, modelId: string, environmentName: string): Promise<Environment> {
  const view = await findEnvironmentView(sql, modelId, environmentName);
  if (!view) return environmentNotFound(sql, modelId, environmentName);
  return presentEnvironment(view, promotionSettingsSource(view.environment));
}

/** A live model's environments as the API shows them, in one statement (production first, then by name); 404 without the model. */
export async function listPresentedEnvironments(sql: SqlExecutor, modelId: string): Promise<Environment[]> {
  const views = await listEnvironmentViews(sql, modelId);
  // every live model has its production environment: none, no model
  if (views.length === 0) await requireModel(sql, modelId);
  return views.map((view) => presentEnvironment(view, promotionSettingsSource(view.environment)));
}
