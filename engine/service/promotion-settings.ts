import { listWorkspaceEnvironmentsUsingSettings } from "../store/workspace-environments.js";
import {
  defaultPromotionSettings,
  mergePromotionSettings,
  PromotionSettings,
  validationError,
  type CreatePromotionSettingsBody,
  type PatchPromotionSettingsBody,
  type PromotionSettingsObject,
} from "../../sdk/index.js";
import { conflict, notFound } from "../errors.js";
import { listEnvironmentsUsingSettings } from "../store/environments.js";
import {
  findLivePromotionSettings,
  insertPromotionSettings,
  listLivePromotionSettings,
  softDeletePromotionSettings,
  updatePromotionSettings,
  type PromotionSettingsRow,
} from "../store/promotion-settings.js";
import type { SqlExecutor } from "../store/sql.js";
import { inTransaction, type ServiceContext } from "./context.js";
import { newObjectId } from "./ids.js";
import { presentPromotionSettings } from "./presenters.js";

/** Named promotion settings live outside any model: their audit entries have no model_id. */

async function requireSettings(tx: SqlExecutor, id: string, forUpdate = false): Promise<PromotionSettingsRow> {
  const row = await findLivePromotionSettings(tx, id, forUpdate);
  if (!row) throw notFound(`promotion settings ${id} not found`, { promotion_settings_id: id });
  return row;
}

function checked(settings: PromotionSettings): PromotionSettings {
  const result = PromotionSettings.safeParse(settings);
  if (!result.success) throw validationError(result.error, "body");
  return result.data;
}

function settingsPart(body: CreatePromotionSettingsBody | PatchPromotionSettingsBody) {
  const { name: _name, ...settings } = body;
  return settings;
}

export async function createPromotionSettings(
  context: ServiceContext,
  body: CreatePromotionSettingsBody,
): Promise<PromotionSettingsObject> {
  return inTransaction(context, async (work) => {
    const settings = checked(mergePromotionSettings(defaultPromotionSettings(), settingsPart(body)));
    const row = await insertPromotionSettings(work.tx, {
      id: newObjectId("pst"),
      name: body.name,
      settings,
      at: work.at,
    });
    work.audit({
      modelId: null,
      kind: "promotion_settings.created",
      objectId: row.id,
      objectName: row.name,
      details: { settings },
    });
    work.emit({ type: "promotion_settings.changed", promotionSettingsId: row.id, deleted: false });
    return presentPromotionSettings(row);
  });
}

export async function listPromotionSettings(context: ServiceContext): Promise<PromotionSettingsObject[]> {
  return (await listLivePromotionSettings(context.sql)).map(presentPromotionSettings);
}

export async function getPromotionSettings(context: ServiceContext, id: string): Promise<PromotionSettingsObject> {
  return presentPromotionSettings(await requireSettings(context.sql, id));
}

/** Changes apply to promotions started afterwards; running ones keep their snapshot. */
export async function patchPromotionSettings(
  context: ServiceContext,
  id: string,
  body: PatchPromotionSettingsBody,
): Promise<PromotionSettingsObject> {
  return inTransaction(context, async (work) => {
    const existing = await requireSettings(work.tx, id, true);
    const settings = checked(mergePromotionSettings(existing.settings, settingsPart(body)));
    const row = await updatePromotionSettings(work.tx, id, { name: body.name ?? existing.name, settings }, work.at);
    work.audit({
      modelId: null,
      kind: "promotion_settings.updated",
      objectId: row.id,
      objectName: row.name,
      details: { settings },
    });
    work.emit({ type: "promotion_settings.changed", promotionSettingsId: row.id, deleted: false });
    return presentPromotionSettings(row);
  });
}

export async function deletePromotionSettings(context: ServiceContext, id: string): Promise<{ id: string; deleted: true }> {
  return inTransaction(context, async (work) => {
    const existing = await requireSettings(work.tx, id, true);
    const users = await listEnvironmentsUsingSettings(work.tx, id);
    const firstUser = users[0];
    if (firstUser) {
      throw conflict(
        `promotion settings ${id} are used by environment ${firstUser.name} of model ${firstUser.model_id}` +
          (users.length > 1 ? ` and ${users.length - 1} more` : "") +
          `; set their promotion_settings_id to another object or null first`,
        { environments: users.map((user) => ({ model_id: user.model_id, name: user.name })) },
      );
    }
    const workspaceUsers = await listWorkspaceEnvironmentsUsingSettings(work.tx, id);
    if (workspaceUsers.length > 0) {
      throw conflict(
        `promotion settings ${id} are used by workspace environment ${workspaceUsers.map((user) => user.name).join(", ")}; ` +
          `set its promotion_settings_id to another object or null first (PATCH /v1/environments/${workspaceUsers[0]!.name})`,
        { workspace_environments: workspaceUsers.map((user) => user.name) },
      );
    }
    await softDeletePromotionSettings(work.tx, id, work.at);
    work.audit({ modelId: null, kind: "promotion_settings.deleted", objectId: id, objectName: existing.name });
    work.emit({ type: "promotion_settings.changed", promotionSettingsId: id, deleted: true });
    return { id, deleted: true as const };
  });
}
