import {
  isTerminalPromotionStatus,
  type AuditLogEntry,
  type Deployment,
  type Environment,
  type Model,
  type Promotion,
  type PromotionSettingsObject,
  type ValueSource,
  type Variable,
} from "../../sdk/index.js";
import { capErrorMessage } from "../runtime/error-message.js";
import type { AuditLogRow } from "../store/audit-log.js";
import type { DeploymentRow } from "../store/deployments.js";
import type { EnvironmentView } from "../store/environment-views.js";
import type { ModelRow } from "../store/models.js";
import type { PromotionRow } from "../store/promotions.js";
import type { PromotionSettingsRow } from "../store/promotion-settings.js";
import { toIsoTimestamp } from "../store/timestamps.js";
import { presentAnalysisStatus } from "../analysis/status.js";
import type { PromotionState } from "../rollout/types.js";
import { approvalOf } from "../rollout/approval.js";
import type { VariableRow } from "../store/variables.js";

/** Rows → API objects. The only place that decides what a read returns (secrets are stripped here). */

export function presentModel(
  row: ModelRow,
  summary: { deploymentsCount: number; productionDeploymentId: string | null; developmentDeploymentId: string | null },
): Model {
  return {
    id: row.id,
    name: row.name,
    created_at: toIsoTimestamp(row.created_at),
    deployments_count: summary.deploymentsCount,
    production_deployment_id: summary.productionDeploymentId,
    development_deployment_id: summary.developmentDeploymentId,
  };
}

/** `environmentName`: the environment this deployment serves (production preferred), or null. */
export function presentDeployment(row: DeploymentRow, environmentName: string | null): Deployment {
  const { spec } = row;
  return {
    id: row.id,
    model_id: row.model_id,
    name: row.name,
    created_at: toIsoTimestamp(row.created_at),
    status: row.status,
    active: row.active,
    is_development: row.is_development,
    environment: environmentName,
    command: spec.command,
    ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
    ...(spec.image !== undefined ? { image: spec.image } : {}),
    ...(spec.port !== undefined ? { port: spec.port } : {}),
    readiness_path: spec.readiness_path,
    predict_path: spec.predict_path,
    env: spec.env,
    ...(spec.resources !== undefined ? { resources: spec.resources } : {}),
    autoscaling_settings: row.autoscaling_settings,
    replicas: { desired: row.replicas_desired, ready: row.replicas_ready, starting: row.replicas_starting },
    ...(row.error_message !== null ? { error_message: capErrorMessage(row.error_message) } : {}),
    revision: row.revision,
  };
}

export function presentPromotion(row: PromotionRow): Promotion {
  // the planner's persisted state (engine/rollout/types.ts); only its analysis part is shown as is
  const plannerState = row.planner_state as unknown as Partial<PromotionState>;
  return {
    id: row.id,
    environment: row.environment_name,
    deployment_id: row.deployment_id,
    previous_deployment_id: row.previous_deployment_id,
    deployment_name: row.deployment_name,
    previous_deployment_name: row.previous_deployment_name,
    kind: row.kind,
    status: row.status,
    percent_traffic_to_new_version: row.percent_traffic_to_new_version,
    error_message: row.error_message === null ? null : capErrorMessage(row.error_message),
    step: row.step,
    total_steps: row.total_steps,
    phase: row.phase,
    replicas: row.replicas,
    analysis: presentAnalysisStatus(plannerState.analysis, plannerState.settings?.analysis?.dry_run ?? false),
    webhooks: [...(plannerState.preRollout?.results ?? []), ...(plannerState.webhookResults ?? [])].slice(-20),
    approval: plannerState.settings === undefined ? "not_required" : approvalOf({ settings: plannerState.settings, approval: plannerState.approval, previousDeploymentId: row.previous_deployment_id }),
    started_at: toIsoTimestamp(row.started_at),
    updated_at: toIsoTimestamp(row.updated_at),
    finished_at: toIsoTimestamp(row.finished_at),
  };
}

export function presentPromotionSettings(row: PromotionSettingsRow): PromotionSettingsObject {
  return {
    id: row.id,
    name: row.name,
    created_at: toIsoTimestamp(row.created_at),
    updated_at: toIsoTimestamp(row.updated_at),
    ...row.settings,
  };
}

/**
 * An environment read with everything it shows (engine/store/environment-views.ts).
 * `promotionSettingsSource`: where its promotion settings come from (lookups' promotionSettingsSource).
 */
export function presentEnvironment(view: EnvironmentView, promotionSettingsSource: ValueSource): Environment {
  const { environment, latestPromotion: promotion } = view;
  // The newest promotion stays in `in_progress_promotion` with its terminal status (and
  // finished_at) until the next one starts, as Baseten documents; only a running one has a candidate.
  const running = promotion !== undefined && !isTerminalPromotionStatus(promotion.status);
  const deployment = (row: EnvironmentView["currentDeployment"]) => (row ? presentDeployment(row, row.serving_environment) : null);
  return {
    name: environment.name,
    model_id: environment.model_id,
    created_at: toIsoTimestamp(environment.created_at),
    current_deployment: deployment(view.currentDeployment),
    candidate_deployment: running ? deployment(view.candidateDeployment) : null,
    in_progress_promotion: promotion ? presentPromotion(promotion) : null,
    autoscaling_settings: environment.autoscaling_settings,
    promotion_settings: view.promotionSettings,
    promotion_settings_id: environment.promotion_settings_id,
    // an environment of the model's own shows its variables as before; one of a workspace
    // environment says where each effective value comes from
    variables: view.variables.map((variable) =>
      environment.workspace_environment_id === null ? presentVariable(variable) : { ...presentVariable(variable), source: variable.source },
    ),
    workspace_environment: view.workspaceEnvironmentName,
    promotion_settings_source: promotionSettingsSource,
    endpoint: environmentEndpoint(environment.model_id, environment.name),
    public: environment.public,
    shadow: environment.shadow ?? null,
    header_routing: environment.header_routing ?? null,
  };
}

/** Secret values are write-only: never part of any read (a read may leave them out before they get here). */
export function presentVariable(row: Pick<VariableRow, "name" | "value" | "secret"> | { name: string; secret: true }): Variable {
  return row.secret ? { name: row.name, secret: true } : { name: row.name, secret: false, value: row.value };
}

export function presentAuditLog(row: AuditLogRow): AuditLogEntry {
  return {
    id: row.id,
    model_id: row.model_id,
    at: toIsoTimestamp(row.at),
    kind: row.kind,
    object_id: row.object_id,
    object_name: row.object_name,
    details: row.details,
  };
}

export function environmentEndpoint(modelId: string, environmentName: string): string {
  return `/models/${modelId}/environments/${environmentName}/predict`;
}
