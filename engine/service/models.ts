import {
  AUTOSCALING_DEFAULTS,
  defaultPromotionSettings,
  PRODUCTION_ENVIRONMENT_NAME,
  type AuditLogEntry,
  type CreateModelBody,
  type Model,
} from "../../sdk/index.js";
import { listAuditLogs } from "../store/audit-log.js";
import { insertEnvironment, listModelIdsWithEnvironment } from "../store/environments.js";
import { listLiveDeployments } from "../store/deployments.js";
import {
  findLiveModelSummary,
  insertModel,
  listLiveModelSummaries,
  modelEverExisted,
  softDeleteModelCascade,
  summarizeModel,
  type ModelRow,
  type ModelSummaryRow,
} from "../store/models.js";
import type { SqlExecutor } from "../store/sql.js";
import { inTransaction, type ServiceContext } from "./context.js";
import { withConflictMessages } from "./database-conflicts.js";
import { newObjectId } from "./ids.js";
import { requireModel } from "./lookups.js";
import { presentAuditLog, presentModel } from "./presenters.js";
import { attachWorkspaceEnvironmentsToModel } from "./workspace-environments.js";

function present(row: ModelRow, summary: ModelSummaryRow): Model {
  return presentModel(row, {
    deploymentsCount: summary.deployments_count,
    productionDeploymentId: summary.production_deployment_id,
    developmentDeploymentId: summary.development_deployment_id,
  });
}

async function summarize(sql: SqlExecutor, row: ModelRow): Promise<Model> {
  return present(row, await summarizeModel(sql, row.id));
}

/** Create a model and its `production` environment (default autoscaling and promotion settings). */
export async function createModel(context: ServiceContext, body: CreateModelBody): Promise<Model> {
  return inTransaction(context, async (work) => {
    const model = await withConflictMessages(
      () => insertModel(work.tx, { id: newObjectId("mdl"), name: body.name, at: work.at }),
      { models_name_live: `a model named '${body.name}' already exists; choose another name or use that model` },
    );
    const production = await insertEnvironment(work.tx, {
      id: newObjectId("env"),
      modelId: model.id,
      name: PRODUCTION_ENVIRONMENT_NAME,
      autoscalingSettings: { ...AUTOSCALING_DEFAULTS },
      inlinePromotionSettings: defaultPromotionSettings(),
      promotionSettingsId: null,
      at: work.at,
    });
    work.audit({ modelId: model.id, kind: "model.created", objectId: model.id, objectName: model.name });
    work.audit({
      modelId: model.id,
      kind: "environment.created",
      objectId: production.id,
      objectName: production.name,
    });
    work.emit({ type: "model.created", modelId: model.id });
    work.emit({ type: "environment.changed", modelId: model.id, environmentName: production.name, deleted: false });
    // an environment of every workspace environment (its production joins `production`, if defined)
    await attachWorkspaceEnvironmentsToModel(work, model.id);
    return summarize(work.tx, model);
  });
}

export async function listModels(context: ServiceContext, environment?: string): Promise<Model[]> {
  const rows = await listLiveModelSummaries(context.sql);
  if (environment === undefined) return rows.map((row) => present(row, row));
  const having = await listModelIdsWithEnvironment(context.sql, environment);
  return rows.filter((row) => having.has(row.id)).map((row) => present(row, row));
}

export async function getModel(context: ServiceContext, modelId: string): Promise<Model> {
  const row = await findLiveModelSummary(context.sql, modelId);
  // requireModel says the 404 (or, created meanwhile, finds it after all)
  return row === undefined ? summarize(context.sql, await requireModel(context.sql, modelId)) : present(row, row);
}

/**
 * Delete a model and everything under it: deployments, environments (production included),
 * in-progress promotions (canceled). Rows are soft-deleted so the audit log keeps its history.
 */
export async function deleteModel(context: ServiceContext, modelId: string): Promise<{ id: string; deleted: true }> {
  return inTransaction(context, async (work) => {
    const model = await requireModel(work.tx, modelId, true);
    const deployments = await listLiveDeployments(work.tx, modelId);
    await softDeleteModelCascade(work.tx, modelId, work.at);
    work.audit({
      modelId,
      kind: "model.deleted",
      objectId: modelId,
      objectName: model.name,
      details: { deployments_deleted: deployments.length },
    });
    work.emit({ type: "model.deleted", modelId });
    for (const deployment of deployments) {
      work.emit({ type: "deployment.changed", modelId, deploymentId: deployment.id, deleted: true });
    }
    return { id: modelId, deleted: true as const };
  });
}

/** A model's audit log, newest first; still readable after the model was deleted. */
export async function listModelAuditLogs(context: ServiceContext, modelId: string): Promise<AuditLogEntry[]> {
  if (!(await modelEverExisted(context.sql, modelId))) await requireModel(context.sql, modelId);
  return (await listAuditLogs(context.sql, modelId)).map(presentAuditLog);
}
