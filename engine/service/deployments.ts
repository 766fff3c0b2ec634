import {
  AUTOSCALING_DEFAULTS,
  AutoscalingSettingsChecked,
  AutoscalingSettingsInput,
  DEVELOPMENT_DEPLOYMENT_NAME,
  mergeAutoscalingSettings,
  nameWithId,
  validationError,
  type AutoscalingSettings,
  type AutoscalingSettingsPatch,
  type CreateDeploymentBody,
  type Deployment,
  type PatchDeploymentBody,
  type PutDevelopmentDeploymentBody,
} from "../../sdk/index.js";
import { conflict, invalidField } from "../errors.js";
import {
  autoscalingUpdateIfUnchanged,
  deploymentInsertIfFree,
  deploymentNameTaken,
  findLiveDeployment,
  findLiveDeploymentServing,
  insertDeployment,
  listLiveDeploymentsServing,
  softDeleteDeployment,
  updateDeployment,
  type DeploymentRow,
  type DeploymentSpec,
  type NewDeployment,
  type ServingDeploymentRow,
} from "../store/deployments.js";
import { listEnvironmentsServing } from "../store/environments.js";
import { findLiveModel, takeDeploymentNumber } from "../store/models.js";
import { findInProgressPromotion, findInProgressPromotionInvolving } from "../store/promotions.js";
import { databaseErrorFields, SQLSTATE, writesCollector, type SqlExecutor } from "../store/sql.js";
import { committed, inTransaction, workOn, type PlannedWork, type ServiceContext, type UnitOfWork } from "./context.js";
import type { DomainEvent } from "./events.js";
import { withConflictMessages } from "./database-conflicts.js";
import { newObjectId } from "./ids.js";
import { loadDeployment, requireDeployment, requireEnvironment, requireModel, requirePresentedDeployment } from "./lookups.js";
import { presentDeployment } from "./presenters.js";
import { requireWorkingDirectory } from "./working-directory.js";

type RunnableBody = Pick<
  CreateDeploymentBody,
  "command" | "cwd" | "image" | "port" | "readiness_path" | "predict_path" | "env" | "resources"
>;

function specOf(body: RunnableBody): DeploymentSpec {
  requireWorkingDirectory(body.cwd);
  return {
    command: body.command ?? [],
    ...(body.cwd !== undefined ? { cwd: body.cwd } : {}),
    ...(body.image !== undefined ? { image: body.image } : {}),
    ...(body.port !== undefined ? { port: body.port } : {}),
    readiness_path: body.readiness_path,
    predict_path: body.predict_path,
    env: body.env,
    ...(body.resources !== undefined ? { resources: body.resources } : {}),
  };
}

/** The development deployment has at most one replica and always scales to zero (reference). */
function checkDevelopmentAutoscaling(settings: AutoscalingSettings, pathPrefix: string): void {
  if (settings.max_replica > 1) {
    throw invalidField(`${pathPrefix}max_replica`, "development_max_one_replica", "the development deployment has at most one replica");
  }
  if (settings.min_replica !== 0) {
    throw invalidField(`${pathPrefix}min_replica`, "development_scales_to_zero", "the development deployment always scales to zero: min_replica must be 0");
  }
}

const DEPLOYMENT_CONFLICTS = (name: string, modelId: string) => ({
  deployments_name_live: `a deployment named '${name}' already exists in model ${modelId}; choose another name`,
  deployments_one_development: `model ${modelId} already has a development deployment; patch it with PUT …/deployments/development`,
});

/** Next free `deployment-N` (a user may have taken one of these names explicitly). */
async function nextDefaultName(tx: SqlExecutor, modelId: string): Promise<string> {
  for (;;) {
    const name = `deployment-${await takeDeploymentNumber(tx, modelId)}`;
    if (!(await deploymentNameTaken(tx, modelId, name))) return name;
  }
}

/** Insert a published deployment; shared by create and by promoting the development deployment (a copy). */
export async function insertPublishedDeployment(
  work: UnitOfWork,
  modelId: string,
  input: { name?: string; spec: DeploymentSpec; autoscalingSettings: AutoscalingSettings; copiedFrom?: string },
): Promise<DeploymentRow> {
  const name = input.name ?? (await nextDefaultName(work.tx, modelId));
  const inserted = await withConflictMessages(
    () =>
      insertDeployment(work.tx, {
        id: newObjectId("dep"),
        modelId,
        name,
        isDevelopment: false,
        spec: input.spec,
        autoscalingSettings: input.autoscalingSettings,
        status: "DEPLOYING",
        at: work.at,
      }),
    DEPLOYMENT_CONFLICTS(name, modelId),
  );
  deploymentCreated(work, { id: inserted.id, name: inserted.name, modelId }, input.copiedFrom);
  return inserted;
}

/** A created deployment's audit entry and event. */
function deploymentCreated(work: PlannedWork, deployment: { id: string; name: string; modelId: string }, copiedFrom?: string): void {
  work.audit({
    modelId: deployment.modelId,
    kind: "deployment.created",
    objectId: deployment.id,
    objectName: deployment.name,
    details: copiedFrom ? { copied_from: copiedFrom } : {},
  });
  work.emit({ type: "deployment.changed", modelId: deployment.modelId, deploymentId: deployment.id, deleted: false });
}

/**
 * Create a published deployment. With `environment`, the caller (control plane) starts a promotion
 * into it after this returns; `beforeInsert` lets it validate that first so nothing is created on a 4xx.
 */
export async function createDeployment(
  context: ServiceContext,
  modelId: string,
  body: CreateDeploymentBody,
  beforeInsert?: (work: UnitOfWork) => Promise<void>,
): Promise<{ deployment: Deployment; row: DeploymentRow }> {
  const created = beforeInsert === undefined ? await createDeploymentAtOnce(context, modelId, body) : undefined;
  if (created) return created;
  return inTransaction(context, async (work) => {
    await requireModel(work.tx, modelId, true);
    if (beforeInsert) await beforeInsert(work);
    const row = await insertPublishedDeployment(work, modelId, {
      ...(body.name !== undefined ? { name: body.name } : {}),
      spec: specOf(body),
      autoscalingSettings: autoscalingSettingsOf(body),
    });
    return { deployment: await loadDeployment(work.tx, row), row };
  });
}

function autoscalingSettingsOf(body: CreateDeploymentBody): AutoscalingSettings {
  return body.autoscaling_settings ? AutoscalingSettingsInput.parse(body.autoscaling_settings) : { ...AUTOSCALING_DEFAULTS };
}

/**
 * A create as one decided transaction (sql.ts), the common case: the model read without its lock,
 * then one request that locks it and inserts — unnamed, as the `deployment-N` of the number read,
 * only if that number is still the next and the name free. The locked way held PGlite's one
 * session for six round trips and the event loop's turns between them. Undefined when it does not
 * apply: no live model (the locked way says which 404), a number taken or a name of that form
 * taken meanwhile (the locked way takes numbers until one is free).
 */
async function createDeploymentAtOnce(
  context: ServiceContext,
  modelId: string,
  body: CreateDeploymentBody,
): Promise<{ deployment: Deployment; row: DeploymentRow } | undefined> {
  const model = await findLiveModel(context.sql, modelId);
  if (!model) return undefined;
  const numberRead = body.name === undefined ? model.next_deployment_number : undefined;
  const events: DomainEvent[] = [];
  const work = workOn(writesCollector(), context.now().toISOString(), events);
  const deployment: NewDeployment = {
    id: newObjectId("dep"),
    modelId,
    name: body.name ?? `deployment-${numberRead}`,
    isDevelopment: false,
    spec: specOf(body),
    autoscalingSettings: autoscalingSettingsOf(body),
    status: "DEPLOYING",
    at: work.at,
  };
  deploymentCreated(work, deployment);
  const insert = () => context.sql.decidedTransaction<DeploymentRow>({ decide: deploymentInsertIfFree(deployment, numberRead), writes: work.tx.writes });
  const [row] =
    numberRead === undefined
      ? await withConflictMessages(insert, DEPLOYMENT_CONFLICTS(deployment.name, modelId))
      : // that name given to a deployment by another request since the read: the locked way takes another number
        await insert().catch((error: unknown) => {
          if (databaseErrorFields(error)?.code === SQLSTATE.uniqueViolation) return [];
          throw error;
        });
  if (!row) return undefined;
  await committed(context, events);
  // new: it serves no environment yet
  return { deployment: presentDeployment(row, null), row };
}

export async function listDeployments(context: ServiceContext, modelId: string, environmentName?: string): Promise<Deployment[]> {
  // each with the environment it serves, in the same statement
  let rows = await listLiveDeploymentsServing(context.sql, modelId);
  if (rows.length === 0) await requireModel(context.sql, modelId);
  if (environmentName !== undefined) {
    // what serves it, and the candidate of its promotion in progress
    const environment = await requireEnvironment(context.sql, modelId, environmentName);
    const inProgress = await findInProgressPromotion(context.sql, environment.id);
    const wanted = new Set([environment.current_deployment_id, inProgress?.deployment_id ?? null]);
    rows = rows.filter((row) => wanted.has(row.id));
  }
  return rows.map((row) => presentDeployment(row, row.serving_environment));
}

export async function getDeployment(context: ServiceContext, modelId: string, deploymentId: string): Promise<Deployment> {
  return requirePresentedDeployment(context.sql, modelId, deploymentId);
}

/**
 * Create the development deployment, or live-patch it: same id, new spec, revision + 1, so the
 * runtime replaces its replica in place. Returns whether it was created.
 */
export async function putDevelopmentDeployment(
  context: ServiceContext,
  modelId: string,
  body: PutDevelopmentDeploymentBody,
): Promise<{ deployment: Deployment; created: boolean }> {
  return inTransaction(context, async (work) => {
    await requireModel(work.tx, modelId, true);
    const existing = await findLiveDeployment(work.tx, modelId, DEVELOPMENT_DEPLOYMENT_NAME, true);
    const requestedAutoscaling = body.autoscaling_settings
      ? AutoscalingSettingsInput.parse(body.autoscaling_settings)
      : undefined;
    if (requestedAutoscaling) checkDevelopmentAutoscaling(requestedAutoscaling, "autoscaling_settings.");
    if (existing) {
      const row = await updateDeployment(
        work.tx,
        existing.id,
        {
          spec: specOf(body),
          ...(requestedAutoscaling ? { autoscalingSettings: requestedAutoscaling } : {}),
          bumpRevision: true,
          // a live patch restarts the replica from the new source
          ...(existing.active ? { status: "DEPLOYING" as const, errorMessage: null } : {}),
        },
        work.at,
      );
      work.audit({
        modelId,
        kind: "deployment.patched",
        objectId: row.id,
        objectName: row.name,
        details: { revision: row.revision },
      });
      work.emit({ type: "deployment.changed", modelId, deploymentId: row.id, deleted: false });
      return { deployment: await loadDeployment(work.tx, row), created: false };
    }
    const row = await withConflictMessages(
      () =>
        insertDeployment(work.tx, {
          id: newObjectId("dep"),
          modelId,
          name: DEVELOPMENT_DEPLOYMENT_NAME,
          isDevelopment: true,
          spec: specOf(body),
          autoscalingSettings: requestedAutoscaling ?? { ...AUTOSCALING_DEFAULTS, min_replica: 0, max_replica: 1 },
          status: "DEPLOYING",
          at: work.at,
        }),
      DEPLOYMENT_CONFLICTS(DEVELOPMENT_DEPLOYMENT_NAME, modelId),
    );
    work.audit({ modelId, kind: "deployment.created", objectId: row.id, objectName: row.name });
    work.emit({ type: "deployment.changed", modelId, deploymentId: row.id, deleted: false });
    return { deployment: await loadDeployment(work.tx, row), created: true };
  });
}

export async function patchDeployment(
  context: ServiceContext,
  modelId: string,
  deploymentId: string,
  body: PatchDeploymentBody,
): Promise<Deployment> {
  return inTransaction(context, async (work) => {
    const existing = await requireDeployment(work.tx, modelId, deploymentId, true);
    if (body.name === undefined || body.name === existing.name) return loadDeployment(work.tx, existing);
    if (existing.is_development) {
      throw conflict("the development deployment is always named 'development' and cannot be renamed");
    }
    const newName = body.name;
    const row = await withConflictMessages(
      () => updateDeployment(work.tx, existing.id, { name: newName }, work.at),
      DEPLOYMENT_CONFLICTS(newName, modelId),
    );
    work.audit({
      modelId,
      kind: "deployment.updated",
      objectId: row.id,
      objectName: row.name,
      details: { previous_name: existing.name },
    });
    work.emit({ type: "deployment.changed", modelId, deploymentId: row.id, deleted: false });
    return loadDeployment(work.tx, row);
  });
}

function promotionBlocks(
  modelId: string,
  deployment: DeploymentRow,
  promotion: { id: string; environment_name: string },
  what: string,
) {
  return conflict(
    `cannot ${what} deployment ${nameWithId(deployment.name, deployment.id)}: promotion ${promotion.id} in environment ` +
      `${promotion.environment_name} involves it; wait for it to finish or cancel it with ` +
      `POST /v1/models/${modelId}/environments/${promotion.environment_name}/cancel_promotion`,
    { promotion_id: promotion.id },
  );
}

export async function setDeploymentActive(
  context: ServiceContext,
  modelId: string,
  deploymentId: string,
  active: boolean,
): Promise<Deployment> {
  return inTransaction(context, async (work) => {
    const existing = await requireDeployment(work.tx, modelId, deploymentId, true);
    if (existing.active === active) return loadDeployment(work.tx, existing);
    if (!active) {
      const promotion = await findInProgressPromotionInvolving(work.tx, existing.id);
      if (promotion) throw promotionBlocks(modelId, existing, promotion, "deactivate");
    }
    const row = await updateDeployment(
      work.tx,
      existing.id,
      active
        ? { active: true, status: "DEPLOYING", errorMessage: null }
        : { active: false, status: "INACTIVE", replicas: { desired: 0, ready: 0, starting: 0 } },
      work.at,
    );
    work.audit({
      modelId,
      kind: active ? "deployment.activated" : "deployment.deactivated",
      objectId: row.id,
      objectName: row.name,
    });
    work.emit({ type: "deployment.changed", modelId, deploymentId: row.id, deleted: false });
    return loadDeployment(work.tx, row);
  });
}

export async function updateDeploymentAutoscaling(
  context: ServiceContext,
  modelId: string,
  deploymentId: string,
  patch: AutoscalingSettingsPatch,
): Promise<Deployment> {
  const updated = await updateDeploymentAutoscalingAtOnce(context, modelId, deploymentId, patch);
  if (updated) return updated;
  return inTransaction(context, async (work) => {
    const existing = await requireDeployment(work.tx, modelId, deploymentId, true);
    const merged = AutoscalingSettingsChecked.safeParse(mergeAutoscalingSettings(existing.autoscaling_settings, patch));
    if (!merged.success) throw validationError(merged.error, "body");
    if (existing.is_development) checkDevelopmentAutoscaling(merged.data, "");
    const row = await updateDeployment(work.tx, existing.id, { autoscalingSettings: merged.data }, work.at);
    autoscalingUpdated(work, modelId, row, merged.data);
    return loadDeployment(work.tx, row);
  });
}

/** A deployment's autoscaling settings changed: its audit entry and event. */
function autoscalingUpdated(work: PlannedWork, modelId: string, row: Pick<DeploymentRow, "id" | "name">, settings: AutoscalingSettings): void {
  work.audit({
    modelId,
    kind: "deployment.autoscaling_updated",
    objectId: row.id,
    objectName: row.name,
    details: { autoscaling_settings: settings },
  });
  work.emit({ type: "deployment.changed", modelId, deploymentId: row.id, deleted: false });
}

/**
 * An autoscaling patch as one decided transaction (sql.ts), the common case: the deployment read
 * without its lock, the settings merged and checked, then one request that writes them only if the
 * settings read are still the deployment's. Undefined when it does not apply: no live deployment,
 * settings the patch makes invalid, the development deployment (the locked way reads again under
 * the lock and says exactly why), or settings changed meanwhile.
 */
async function updateDeploymentAutoscalingAtOnce(
  context: ServiceContext,
  modelId: string,
  deploymentId: string,
  patch: AutoscalingSettingsPatch,
): Promise<Deployment | undefined> {
  const existing = await findLiveDeploymentServing(context.sql, modelId, deploymentId);
  if (!existing || existing.is_development) return undefined;
  const merged = AutoscalingSettingsChecked.safeParse(mergeAutoscalingSettings(existing.autoscaling_settings, patch));
  if (!merged.success) return undefined;
  const events: DomainEvent[] = [];
  const work = workOn(writesCollector(), context.now().toISOString(), events);
  autoscalingUpdated(work, modelId, existing, merged.data);
  const [row] = await context.sql.decidedTransaction<ServingDeploymentRow>({
    decide: autoscalingUpdateIfUnchanged(existing.id, existing.autoscaling_settings, merged.data, work.at),
    writes: work.tx.writes,
  });
  if (!row) return undefined;
  await committed(context, events);
  return presentDeployment(row, row.serving_environment);
}

/**
 * Delete a deployment: permanent, predict answers 404. Not while it serves an environment (the
 * reference: production deployments must be replaced first) or takes part in a promotion.
 */
export async function deleteDeployment(
  context: ServiceContext,
  modelId: string,
  deploymentId: string,
): Promise<{ id: string; deleted: true }> {
  return inTransaction(context, async (work) => {
    await requireModel(work.tx, modelId, true);
    const existing = await requireDeployment(work.tx, modelId, deploymentId, true);
    const serving = await listEnvironmentsServing(work.tx, existing.id);
    const servedEnvironment = serving[0];
    if (servedEnvironment) {
      throw conflict(
        servedEnvironment.name === "production"
          ? `deployment ${nameWithId(existing.name, existing.id)} serves production; promote another deployment to production first, or delete the whole model`
          : `deployment ${nameWithId(existing.name, existing.id)} serves environment ${servedEnvironment.name}; promote another ` +
              `deployment to ${servedEnvironment.name} or delete that environment first`,
        { environment: servedEnvironment.name },
      );
    }
    const promotion = await findInProgressPromotionInvolving(work.tx, existing.id);
    if (promotion) throw promotionBlocks(modelId, existing, promotion, "delete");
    await softDeleteDeployment(work.tx, existing.id, work.at);
    work.audit({ modelId, kind: "deployment.deleted", objectId: existing.id, objectName: existing.name });
    work.emit({ type: "deployment.changed", modelId, deploymentId: existing.id, deleted: true });
    return { id: existing.id, deleted: true as const };
  });
}
