import {
  AUTOSCALING_DEFAULTS,
  AutoscalingSettingsChecked,
  AutoscalingSettingsInput,
  defaultPromotionSettings,
  mergeAutoscalingSettings,
  mergePromotionSettings,
  PRODUCTION_ENVIRONMENT_NAME,
  PromotionSettings,
  validationError,
  type CreateEnvironmentBody,
  type Environment,
  type PatchEnvironmentBody,
  type PromotionSettingsPatch,
  type HeaderRouting,
  type ShadowSettings,
} from "../../sdk/index.js";
import { conflict, invalidField, notFound } from "../errors.js";
import { findLiveDeployment } from "../store/deployments.js";
import {
  insertEnvironment,
  softDeleteEnvironment,
  updateEnvironment,
  type EnvironmentChanges,
} from "../store/environments.js";
import { findLivePromotionSettings } from "../store/promotion-settings.js";
import { findInProgressPromotion } from "../store/promotions.js";
import type { SqlExecutor } from "../store/sql.js";
import { inTransaction, type ServiceContext } from "./context.js";
import { withConflictMessages } from "./database-conflicts.js";
import { newObjectId } from "./ids.js";
import {
  effectivePromotionSettings,
  listPresentedEnvironments,
  promotionSettingsSource,
  requireEnvironment,
  requireModel,
  requirePresentedEnvironment,
} from "./lookups.js";

async function requirePromotionSettingsObject(tx: SqlExecutor, id: string): Promise<void> {
  const found = await findLivePromotionSettings(tx, id);
  if (!found) {
    throw notFound(`promotion settings ${id} not found (list them with GET /v1/promotion_settings)`, {
      promotion_settings_id: id,
    });
  }
}

/** Merge a partial onto settings and enforce the cross-field rules on the result (400 naming the field). */
function mergedPromotionSettings(base: PromotionSettings, patch: PromotionSettingsPatch): PromotionSettings {
  const merged = PromotionSettings.safeParse(mergePromotionSettings(base, patch));
  if (!merged.success) throw validationError(merged.error, "body", ["promotion_settings"]);
  return merged.data;
}

/** A shadow naming a deployment must name a live one of this model (400 on shadow.deployment). */
async function checkedShadow(tx: SqlExecutor, modelId: string, shadow: ShadowSettings): Promise<ShadowSettings> {
  if (shadow.deployment === "candidate") return shadow;
  const deployment = await findLiveDeployment(tx, modelId, shadow.deployment);
  if (!deployment) {
    throw invalidField(
      "shadow.deployment",
      "exists",
      `deployment ${shadow.deployment} not found in model ${modelId}; give a deployment id of this model or "candidate"`,
    );
  }
  return shadow;
}

/** Every allowed deployment must be a live one of this model (400 naming the element). */
async function checkedHeaderRouting(tx: SqlExecutor, modelId: string, routing: HeaderRouting): Promise<HeaderRouting> {
  for (const [index, deploymentId] of routing.allowed_deployments.entries()) {
    if (!(await findLiveDeployment(tx, modelId, deploymentId))) {
      throw invalidField(`header_routing.allowed_deployments.${index}`, "exists", `deployment ${deploymentId} not found in model ${modelId}`);
    }
  }
  return routing;
}

export async function createEnvironment(
  context: ServiceContext,
  modelId: string,
  body: CreateEnvironmentBody,
): Promise<Environment> {
  return inTransaction(context, async (work) => {
    await requireModel(work.tx, modelId, true);
    if (body.name === PRODUCTION_ENVIRONMENT_NAME) {
      throw conflict(`model ${modelId} already has its production environment; it cannot be created twice`);
    }
    if (body.promotion_settings_id !== undefined) await requirePromotionSettingsObject(work.tx, body.promotion_settings_id);
    const shadow = body.shadow === undefined ? null : await checkedShadow(work.tx, modelId, body.shadow);
    const headerRouting = body.header_routing === undefined ? null : await checkedHeaderRouting(work.tx, modelId, body.header_routing);
    const environment = await withConflictMessages(
      () =>
        insertEnvironment(work.tx, {
          id: newObjectId("env"),
          modelId,
          name: body.name,
          autoscalingSettings: body.autoscaling_settings
            ? AutoscalingSettingsInput.parse(body.autoscaling_settings)
            : { ...AUTOSCALING_DEFAULTS },
          inlinePromotionSettings: mergedPromotionSettings(defaultPromotionSettings(), body.promotion_settings ?? {}),
          promotionSettingsId: body.promotion_settings_id ?? null,
          public: body.public ?? false,
          shadow,
          headerRouting,
          at: work.at,
        }),
      {
        environments_name_live: `environment ${body.name} already exists in model ${modelId}; patch it or choose another name`,
      },
    );
    work.audit({
      modelId,
      kind: "environment.created",
      objectId: environment.id,
      objectName: environment.name,
      // public is audited: it opens the predict endpoint to callers without a key
      details: { promotion_settings_id: environment.promotion_settings_id, public: environment.public },
    });
    work.emit({ type: "environment.changed", modelId, environmentName: environment.name, deleted: false });
    return requirePresentedEnvironment(work.tx, modelId, environment.name);
  });
}

/** One statement (engine/store/environment-views.ts), the model's 404 aside. */
export async function listEnvironments(context: ServiceContext, modelId: string): Promise<Environment[]> {
  return listPresentedEnvironments(context.sql, modelId);
}

/** One statement (engine/store/environment-views.ts), the 404s aside. */
export async function getEnvironment(context: ServiceContext, modelId: string, name: string): Promise<Environment> {
  return requirePresentedEnvironment(context.sql, modelId, name);
}

/**
 * Patch autoscaling and promotion settings. Inline `promotion_settings` merge into the
 * environment's own settings; while it refers to a named object that would be silently ignored,
 * so it is a 409 unless the same patch detaches it (`promotion_settings_id: null`).
 */
export async function patchEnvironment(
  context: ServiceContext,
  modelId: string,
  name: string,
  body: PatchEnvironmentBody,
): Promise<Environment> {
  return inTransaction(context, async (work) => {
    const existing = await requireEnvironment(work.tx, modelId, name, true);
    const changes: EnvironmentChanges = {};
    if (body.autoscaling_settings !== undefined) {
      const merged = AutoscalingSettingsChecked.safeParse(
        mergeAutoscalingSettings(existing.autoscaling_settings, body.autoscaling_settings),
      );
      if (!merged.success) throw validationError(merged.error, "body", ["autoscaling_settings"]);
      changes.autoscalingSettings = merged.data;
    }
    if (body.inherit_promotion_settings === true) {
      if (existing.workspace_environment_id === null) {
        throw conflict(`environment ${name} is the model's own, not of a workspace environment: it has no workspace settings to inherit`);
      }
      if (!existing.inherit_promotion_settings) {
        changes.inheritPromotionSettings = true;
        if (existing.promotion_settings_id !== null) changes.promotionSettingsId = null;
      }
    }
    // While it inherits the workspace's settings, the model's own start from them (then override).
    const inheriting = promotionSettingsSource(existing) === "workspace";
    const settingsBase = inheriting ? await effectivePromotionSettings(work.tx, existing) : existing.inline_promotion_settings;
    if (inheriting && (body.promotion_settings !== undefined || body.promotion_settings_id !== undefined)) {
      changes.inheritPromotionSettings = false;
      // `promotion_settings_id: null` alone: the model's own inline settings, as the workspace's were
      if (body.promotion_settings === undefined && body.promotion_settings_id === null) changes.inlinePromotionSettings = settingsBase;
    }
    const nextSettingsId = body.promotion_settings_id === undefined ? existing.promotion_settings_id : body.promotion_settings_id;
    if (body.promotion_settings !== undefined) {
      if (nextSettingsId !== null) {
        throw conflict(
          `environment ${name} uses promotion settings ${nextSettingsId}; patch that object ` +
            `(PATCH /v1/promotion_settings/${nextSettingsId}) or send promotion_settings_id: null with these inline settings`,
          { promotion_settings_id: nextSettingsId },
        );
      }
      changes.inlinePromotionSettings = mergedPromotionSettings(settingsBase, body.promotion_settings);
    }
    if (body.promotion_settings_id !== undefined && body.promotion_settings_id !== existing.promotion_settings_id) {
      if (body.promotion_settings_id !== null) await requirePromotionSettingsObject(work.tx, body.promotion_settings_id);
      changes.promotionSettingsId = body.promotion_settings_id;
    }
    if (body.public !== undefined && body.public !== existing.public) changes.public = body.public;
    // The shadow is replaced whole; the environment's route and sets are not touched by it.
    if (body.shadow !== undefined && JSON.stringify(body.shadow) !== JSON.stringify(existing.shadow ?? null)) {
      changes.shadow = body.shadow === null ? null : await checkedShadow(work.tx, modelId, body.shadow);
    }
    if (body.header_routing !== undefined && JSON.stringify(body.header_routing) !== JSON.stringify(existing.header_routing ?? null)) {
      changes.headerRouting = body.header_routing === null ? null : await checkedHeaderRouting(work.tx, modelId, body.header_routing);
    }
    if (Object.keys(changes).length === 0) return requirePresentedEnvironment(work.tx, modelId, existing.name);
    const row = await updateEnvironment(work.tx, existing.id, changes, work.at);
    work.audit({
      modelId,
      kind: "environment.updated",
      objectId: row.id,
      objectName: row.name,
      details: {
        changed: Object.keys(body),
        ...(changes.autoscalingSettings ? { autoscaling_settings: changes.autoscalingSettings } : {}),
        ...(changes.inlinePromotionSettings ? { promotion_settings: changes.inlinePromotionSettings } : {}),
        ...(changes.promotionSettingsId !== undefined ? { promotion_settings_id: changes.promotionSettingsId } : {}),
        ...(changes.public !== undefined ? { public: changes.public } : {}),
        ...(changes.shadow !== undefined ? { shadow: changes.shadow } : {}),
        ...(changes.inheritPromotionSettings !== undefined ? { inherit_promotion_settings: changes.inheritPromotionSettings } : {}),
        ...(changes.headerRouting !== undefined ? { header_routing: changes.headerRouting } : {}),
      },
    });
    work.emit({ type: "environment.changed", modelId, environmentName: row.name, deleted: false });
    return requirePresentedEnvironment(work.tx, modelId, row.name);
  });
}

/** Delete a custom environment; production goes only with its model. Predict on it answers 404 after. */
export async function deleteEnvironment(
  context: ServiceContext,
  modelId: string,
  name: string,
): Promise<{ id: string; deleted: true }> {
  return inTransaction(context, async (work) => {
    await requireModel(work.tx, modelId);
    if (name === PRODUCTION_ENVIRONMENT_NAME) {
      throw conflict(
        `the production environment cannot be deleted; promote another deployment to production, or delete the whole model`,
      );
    }
    const existing = await requireEnvironment(work.tx, modelId, name, true);
    if (existing.workspace_environment_id !== null) {
      throw conflict(
        `environment ${name} is of the workspace environment ${name}: every model has one; ` +
          `delete the workspace environment (DELETE /v1/environments/${name}) or keep it`,
        { workspace_environment: name },
      );
    }
    const promotion = await findInProgressPromotion(work.tx, existing.id);
    if (promotion) {
      throw conflict(
        `environment ${name} has promotion ${promotion.id} in progress; cancel it with ` +
          `POST /v1/models/${modelId}/environments/${name}/cancel_promotion first`,
        { promotion_id: promotion.id },
      );
    }
    await withConflictMessages(() => softDeleteEnvironment(work.tx, existing.id, work.at), {
      environments_keep_production: "the production environment cannot be deleted; delete the whole model instead",
    });
    work.audit({
      modelId,
      kind: "environment.deleted",
      objectId: existing.id,
      objectName: existing.name,
      details: { current_deployment_id: existing.current_deployment_id },
    });
    work.emit({ type: "environment.changed", modelId, environmentName: name, deleted: true });
    return { id: name, deleted: true as const };
  });
}
