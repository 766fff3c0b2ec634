import {
  AUTOSCALING_DEFAULTS,
  defaultPromotionSettings,
  isTerminalPromotionStatus,
  PRODUCTION_ENVIRONMENT_NAME,
  PromotionSettings,
  validationError,
  type CreateWorkspaceEnvironmentBody,
  type EnvironmentDeployment,
  type PatchWorkspaceEnvironmentBody,
  type PromotionSettingsPatch,
  type WorkspaceEnvironment,
} from "../../sdk/index.js";
import { mergePromotionSettings } from "../../sdk/index.js";
import { conflict, invalidField, notFound } from "../errors.js";
import {
  insertEnvironment,
  listEnvironmentsOfWorkspace,
  listLiveEnvironments,
  updateEnvironment,
  type EnvironmentRow,
} from "../store/environments.js";
import { listLiveModels } from "../store/models.js";
import { findLivePromotionSettings } from "../store/promotion-settings.js";
import { listWorkspaceEnvironmentViews } from "../store/environment-views.js";
import { listVariables, upsertVariable } from "../store/variables.js";
import type { SqlExecutor } from "../store/sql.js";
import { toIsoTimestamp } from "../store/timestamps.js";
import {
  deleteWorkspaceVariable,
  findLiveWorkspaceEnvironment,
  insertWorkspaceEnvironment,
  listLiveWorkspaceEnvironments,
  listWorkspaceEnvironmentsRequiring,
  listShownWorkspaceVariables,
  listWorkspaceVariables,
  lockWorkspaceEnvironments,
  softDeleteWorkspaceEnvironment,
  updateWorkspaceEnvironment,
  upsertWorkspaceVariable,
  type WorkspaceEnvironmentChanges,
  type WorkspaceEnvironmentRow,
} from "../store/workspace-environments.js";
import { inTransaction, type ServiceContext, type UnitOfWork } from "./context.js";
import { withConflictMessages } from "./database-conflicts.js";
import { newObjectId } from "./ids.js";
import { promotionSettingsSource, workspacePromotionSettings } from "./lookups.js";
import { presentDeployment, presentVariable } from "./presenters.js";

/**
 * Workspace environments: one definition, an environment of it in every model. The models'
 * environments inherit its variables, secrets and default promotion settings (the model's own
 * override); a change of its variables rolls every model environment whose effective values
 * changed, through the same path as a model variable change (`environment.changed` → the
 * deployment controller gives the environment's sets a new revision → the runtime replaces their
 * replicas, new ones first).
 */

export async function requireWorkspaceEnvironment(sql: SqlExecutor, name: string, forUpdate = false): Promise<WorkspaceEnvironmentRow> {
  const row = await findLiveWorkspaceEnvironment(sql, name, forUpdate);
  if (!row) throw notFound(`workspace environment ${name} not found (list them with GET /v1/environments)`, { env_name: name });
  return row;
}

async function requirePromotionSettingsObject(tx: SqlExecutor, id: string): Promise<void> {
  if (!(await findLivePromotionSettings(tx, id))) {
    throw notFound(`promotion settings ${id} not found (list them with GET /v1/promotion_settings)`, { promotion_settings_id: id });
  }
}

function mergedPromotionSettings(base: PromotionSettings, patch: PromotionSettingsPatch): PromotionSettings {
  const merged = PromotionSettings.safeParse(mergePromotionSettings(base, patch));
  if (!merged.success) throw validationError(merged.error, "body", ["promotion_settings"]);
  return merged.data;
}

/** `requires` names a live workspace environment and makes no cycle (production → staging → production). */
async function checkRequires(tx: SqlExecutor, name: string, requires: string): Promise<void> {
  if (requires === name) throw invalidField("requires", "not_itself", "an environment cannot require itself");
  const all = new Map((await listLiveWorkspaceEnvironments(tx)).map((row) => [row.name, row]));
  if (!all.has(requires)) {
    throw invalidField("requires", "unknown_environment", `no workspace environment named ${requires} (list them with GET /v1/environments)`);
  }
  const path = [name, requires];
  for (let next = all.get(requires)?.requires ?? null; next !== null; next = all.get(next)?.requires ?? null) {
    path.push(next);
    if (next === name) throw invalidField("requires", "no_cycle", `the chain would be a cycle: ${path.join(" requires ")}`);
    if (path.length > all.size + 1) break;
  }
}

/** Key order does not matter (jsonb reorders keys). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/** An existing environment of a model joins a workspace environment: it inherits the workspace's
 * settings unless the model gave it settings of its own (anything but the defaults). */
function keepsOwnSettings(environment: EnvironmentRow): boolean {
  return environment.promotion_settings_id !== null || canonical(environment.inline_promotion_settings) !== canonical(defaultPromotionSettings());
}

export async function presentWorkspaceEnvironment(sql: SqlExecutor, row: WorkspaceEnvironmentRow): Promise<WorkspaceEnvironment> {
  const [count] = await sql.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM environments e JOIN models m ON m.id = e.model_id
     WHERE e.workspace_environment_id = $1 AND e.deleted_at IS NULL AND m.deleted_at IS NULL`,
    [row.id],
  );
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    variables: (await listShownWorkspaceVariables(sql, row.id)).map(presentVariable),
    promotion_settings: await workspacePromotionSettings(sql, row),
    promotion_settings_id: row.promotion_settings_id,
    requires: row.requires,
    min_soak_seconds: row.min_soak_seconds,
    models_count: count?.count ?? 0,
    created_at: toIsoTimestamp(row.created_at),
    updated_at: toIsoTimestamp(row.updated_at),
  };
}

/** Give one model its environment of a workspace environment: join an existing one of that name, or create it. */
async function attachModel(work: UnitOfWork, modelId: string, workspace: WorkspaceEnvironmentRow, existing: EnvironmentRow | undefined): Promise<void> {
  if (existing) {
    if (existing.workspace_environment_id === workspace.id) return;
    const inherit = !keepsOwnSettings(existing);
    const row = await updateEnvironment(work.tx, existing.id, { workspaceEnvironmentId: workspace.id, inheritPromotionSettings: inherit }, work.at);
    work.audit({
      modelId,
      kind: "environment.updated",
      objectId: row.id,
      objectName: row.name,
      details: { changed: ["workspace_environment"], workspace_environment: workspace.name, inherit_promotion_settings: inherit },
    });
  } else {
    const row = await insertEnvironment(work.tx, {
      id: newObjectId("env"),
      modelId,
      name: workspace.name,
      autoscalingSettings: { ...AUTOSCALING_DEFAULTS },
      inlinePromotionSettings: defaultPromotionSettings(),
      promotionSettingsId: null,
      workspaceEnvironmentId: workspace.id,
      inheritPromotionSettings: true,
      at: work.at,
    });
    work.audit({
      modelId,
      kind: "environment.created",
      objectId: row.id,
      objectName: row.name,
      details: { workspace_environment: workspace.name },
    });
  }
  work.emit({ type: "environment.changed", modelId, environmentName: workspace.name, deleted: false });
}

/** A new model gets an environment of every workspace environment (its production joins `production` if there is one). */
export async function attachWorkspaceEnvironmentsToModel(work: UnitOfWork, modelId: string): Promise<void> {
  await lockWorkspaceEnvironments(work.tx);
  const workspaces = await listLiveWorkspaceEnvironments(work.tx);
  if (workspaces.length === 0) return;
  const existing = new Map((await listLiveEnvironments(work.tx, modelId)).map((row) => [row.name, row]));
  for (const workspace of workspaces) await attachModel(work, modelId, workspace, existing.get(workspace.name));
}

export async function createWorkspaceEnvironment(context: ServiceContext, body: CreateWorkspaceEnvironmentBody): Promise<WorkspaceEnvironment> {
  return inTransaction(context, async (work) => {
    await lockWorkspaceEnvironments(work.tx);
    if (body.requires !== undefined) await checkRequires(work.tx, body.name, body.requires);
    if (body.promotion_settings_id !== undefined) await requirePromotionSettingsObject(work.tx, body.promotion_settings_id);
    const row = await withConflictMessages(
      () =>
        insertWorkspaceEnvironment(work.tx, {
          id: newObjectId("wse"),
          name: body.name,
          description: body.description ?? "",
          inlinePromotionSettings: mergedPromotionSettings(defaultPromotionSettings(), body.promotion_settings ?? {}),
          promotionSettingsId: body.promotion_settings_id ?? null,
          requires: body.requires ?? null,
          minSoakSeconds: body.min_soak_seconds ?? 0,
          at: work.at,
        }),
      { workspace_environments_name_live: `workspace environment ${body.name} already exists; patch it or choose another name` },
    );
    for (const [name, value] of Object.entries(body.variables ?? {})) {
      await upsertWorkspaceVariable(work.tx, { workspaceEnvironmentId: row.id, name, value, secret: false, at: work.at });
    }
    for (const [name, value] of Object.entries(body.secrets ?? {})) {
      await upsertWorkspaceVariable(work.tx, { workspaceEnvironmentId: row.id, name, value, secret: true, at: work.at });
    }
    work.audit({
      modelId: null,
      kind: "workspace_environment.created",
      objectId: row.id,
      objectName: row.name,
      // names only: a secret's value never reaches the audit log
      details: {
        requires: row.requires,
        min_soak_seconds: row.min_soak_seconds,
        promotion_settings_id: row.promotion_settings_id,
        variables: Object.keys(body.variables ?? {}),
        secrets: Object.keys(body.secrets ?? {}),
      },
    });
    for (const model of await listLiveModels(work.tx)) {
      const existing = (await listLiveEnvironments(work.tx, model.id)).find((environment) => environment.name === row.name);
      await attachModel(work, model.id, row, existing);
    }
    return presentWorkspaceEnvironment(work.tx, row);
  });
}

/** In chain order: those that require nothing first, then each after the one it requires; by name within a level. */
export function chainOrder<T extends { name: string; requires: string | null }>(rows: readonly T[]): T[] {
  const byName = new Map(rows.map((row) => [row.name, row]));
  const depth = (row: T, seen = new Set<string>()): number => {
    if (row.requires === null || seen.has(row.name)) return 0;
    seen.add(row.name);
    const required = byName.get(row.requires);
    return required ? 1 + depth(required, seen) : 0;
  };
  return [...rows].sort((a, b) => depth(a) - depth(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export async function listWorkspaceEnvironments(context: ServiceContext): Promise<WorkspaceEnvironment[]> {
  const rows = chainOrder(await listLiveWorkspaceEnvironments(context.sql));
  const out: WorkspaceEnvironment[] = [];
  for (const row of rows) out.push(await presentWorkspaceEnvironment(context.sql, row));
  return out;
}

export async function getWorkspaceEnvironment(context: ServiceContext, name: string): Promise<WorkspaceEnvironment> {
  return presentWorkspaceEnvironment(context.sql, await requireWorkspaceEnvironment(context.sql, name));
}

export async function patchWorkspaceEnvironment(
  context: ServiceContext,
  name: string,
  body: PatchWorkspaceEnvironmentBody,
): Promise<WorkspaceEnvironment> {
  return inTransaction(context, async (work) => {
    const existing = await requireWorkspaceEnvironment(work.tx, name, true);
    const changes: WorkspaceEnvironmentChanges = {};
    if (body.description !== undefined && body.description !== existing.description) changes.description = body.description;
    const nextSettingsId = body.promotion_settings_id === undefined ? existing.promotion_settings_id : body.promotion_settings_id;
    if (body.promotion_settings !== undefined) {
      if (nextSettingsId !== null) {
        throw conflict(
          `workspace environment ${name} uses promotion settings ${nextSettingsId}; patch that object ` +
            `(PATCH /v1/promotion_settings/${nextSettingsId}) or send promotion_settings_id: null with these inline settings`,
          { promotion_settings_id: nextSettingsId },
        );
      }
      changes.inlinePromotionSettings = mergedPromotionSettings(existing.inline_promotion_settings, body.promotion_settings);
    }
    if (body.promotion_settings_id !== undefined && body.promotion_settings_id !== existing.promotion_settings_id) {
      if (body.promotion_settings_id !== null) await requirePromotionSettingsObject(work.tx, body.promotion_settings_id);
      changes.promotionSettingsId = body.promotion_settings_id;
    }
    const nextRequires = body.requires === undefined ? existing.requires : body.requires;
    if (body.requires !== undefined && body.requires !== existing.requires) {
      if (body.requires !== null) {
        await lockWorkspaceEnvironments(work.tx);
        await checkRequires(work.tx, name, body.requires);
      }
      changes.requires = body.requires;
      // no chain rule, no soak
      if (body.requires === null && existing.min_soak_seconds !== 0) changes.minSoakSeconds = 0;
    }
    if (body.min_soak_seconds !== undefined && body.min_soak_seconds !== existing.min_soak_seconds) {
      if (nextRequires === null && body.min_soak_seconds > 0) {
        throw invalidField("min_soak_seconds", "needs_requires", "a soak needs the environment to soak in: set requires too");
      }
      changes.minSoakSeconds = body.min_soak_seconds;
    }
    const set: string[] = [];
    const deleted: string[] = [];
    for (const [entries, secret] of [
      [body.variables, false],
      [body.secrets, true],
    ] as const) {
      for (const [variable, value] of Object.entries(entries ?? {})) {
        if (value === null) {
          if (await deleteWorkspaceVariable(work.tx, existing.id, variable)) deleted.push(variable);
        } else {
          await upsertWorkspaceVariable(work.tx, { workspaceEnvironmentId: existing.id, name: variable, value, secret, at: work.at });
          set.push(variable);
        }
      }
    }
    const variablesChanged = set.length + deleted.length > 0;
    if (Object.keys(changes).length === 0 && !variablesChanged) return presentWorkspaceEnvironment(work.tx, existing);
    const row = await updateWorkspaceEnvironment(work.tx, existing.id, changes, work.at);
    const settingsChanged = changes.inlinePromotionSettings !== undefined || changes.promotionSettingsId !== undefined;
    work.audit({
      modelId: null,
      kind: "workspace_environment.updated",
      objectId: row.id,
      objectName: row.name,
      details: {
        changed: Object.keys(body),
        ...(set.length > 0 ? { variables_set: set } : {}),
        ...(deleted.length > 0 ? { variables_deleted: deleted } : {}),
        ...(changes.requires !== undefined ? { requires: changes.requires } : {}),
        ...(changes.minSoakSeconds !== undefined ? { min_soak_seconds: changes.minSoakSeconds } : {}),
        ...(changes.promotionSettingsId !== undefined ? { promotion_settings_id: changes.promotionSettingsId } : {}),
      },
    });
    // Each model environment re-reads its effective values; those whose values changed get a new
    // revision and roll (one roll per model environment, with that environment's own settings).
    if (variablesChanged || settingsChanged) {
      for (const environment of await listEnvironmentsOfWorkspace(work.tx, row.id)) {
        work.audit({
          modelId: environment.model_id,
          kind: "environment.updated",
          objectId: environment.id,
          objectName: environment.name,
          details: {
            changed: [...(variablesChanged ? ["workspace_variables"] : []), ...(settingsChanged ? ["workspace_promotion_settings"] : [])],
            workspace_environment: row.name,
            ...(set.length > 0 ? { variables_set: set } : {}),
            ...(deleted.length > 0 ? { variables_deleted: deleted } : {}),
          },
        });
        work.emit({ type: "environment.changed", modelId: environment.model_id, environmentName: environment.name, deleted: false });
      }
    }
    return presentWorkspaceEnvironment(work.tx, row);
  });
}

/**
 * Delete a workspace environment: refused while another requires it. Its models' environments
 * stay, as the models' own, with the values they had: the workspace's variables, secrets and (where
 * inherited) promotion settings are copied into each (a model's own values stay as they were), so
 * what they serve keeps its configuration.
 */
export async function deleteWorkspaceEnvironment(context: ServiceContext, name: string): Promise<{ id: string; deleted: true }> {
  return inTransaction(context, async (work) => {
    await lockWorkspaceEnvironments(work.tx);
    const existing = await requireWorkspaceEnvironment(work.tx, name, true);
    const requiring = await listWorkspaceEnvironmentsRequiring(work.tx, name);
    if (requiring.length > 0) {
      throw conflict(
        `workspace environment ${requiring.map((row) => row.name).join(", ")} requires ${name}; ` +
          `change its requires first (PATCH /v1/environments/${requiring[0]!.name} with "requires": null or another environment)`,
        { required_by: requiring.map((row) => row.name) },
      );
    }
    const inherited = await listWorkspaceVariables(work.tx, existing.id);
    const settings = await workspacePromotionSettings(work.tx, existing);
    for (const environment of await listEnvironmentsOfWorkspace(work.tx, existing.id)) {
      const own = new Set((await listVariables(work.tx, environment.id)).map((variable) => variable.name));
      for (const variable of inherited) {
        if (own.has(variable.name)) continue;
        await upsertVariable(work.tx, { environmentId: environment.id, name: variable.name, value: variable.value, secret: variable.secret, at: work.at });
      }
      await updateEnvironment(
        work.tx,
        environment.id,
        {
          workspaceEnvironmentId: null,
          inheritPromotionSettings: false,
          ...(environment.inherit_promotion_settings ? { inlinePromotionSettings: settings, promotionSettingsId: null } : {}),
        },
        work.at,
      );
      work.audit({
        modelId: environment.model_id,
        kind: "environment.updated",
        objectId: environment.id,
        objectName: environment.name,
        details: { changed: ["workspace_environment"], workspace_environment: null, workspace_environment_deleted: name },
      });
      work.emit({ type: "environment.changed", modelId: environment.model_id, environmentName: environment.name, deleted: false });
    }
    await softDeleteWorkspaceEnvironment(work.tx, existing.id, work.at);
    work.audit({ modelId: null, kind: "workspace_environment.deleted", objectId: existing.id, objectName: name, details: {} });
    return { id: name, deleted: true as const };
  });
}

/** What serves a workspace environment in every model, with the newest promotion's status (one statement for every model). */
export async function listWorkspaceEnvironmentDeployments(context: ServiceContext, name: string): Promise<EnvironmentDeployment[]> {
  const workspace = await requireWorkspaceEnvironment(context.sql, name);
  return (await listWorkspaceEnvironmentViews(context.sql, workspace.id)).map((view) => {
    const promotion = view.latestPromotion;
    const current = view.currentDeployment;
    return {
      model_id: view.environment.model_id,
      model_name: view.modelName,
      environment: view.environment.name,
      current_deployment: current ? presentDeployment(current, current.serving_environment) : null,
      candidate_deployment_id: promotion && !isTerminalPromotionStatus(promotion.status) ? promotion.deployment_id : null,
      promotion_status: promotion?.status ?? null,
      promotion_settings_source: promotionSettingsSource(view.environment),
    };
  });
}
