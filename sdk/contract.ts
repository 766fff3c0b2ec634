import { z } from "zod";
import {
  ApiKeyList,
  AuditLogList,
  CreateApiKeyBody,
  CreatedApiKey,
  AutoscalingSettingsPatch,
  CreateDeploymentBody,
  CreateEnvironmentBody,
  CreateModelBody,
  CreatePromotionSettingsBody,
  DeletedResponse,
  Deployment,
  DeploymentList,
  DnsLabelName,
  Environment,
  EnvironmentList,
  Model,
  ModelList,
  ObjectId,
  PatchDeploymentBody,
  PatchEnvironmentBody,
  PatchPromotionSettingsBody,
  PromoteBody,
  PromoteToProductionBody,
  Promotion,
  PromotionList,
  PromotionSettingsList,
  PromotionSettingsObject,
  PutDevelopmentDeploymentBody,
  PutVariableBody,
  VariableChange,
  DeletedVariable,
  VariableName,
  VariablesRollout,
  ShadowReport,
  CreateWorkspaceEnvironmentBody,
  EnvironmentDeploymentList,
  ModelChain,
  PatchWorkspaceEnvironmentBody,
  WorkspaceEnvironment,
  WorkspaceEnvironmentList,
} from "./schemas/index.js";

/**
 * The management API as one route table. The engine's router matches and validates with it, the
 * client derives its methods' types from it, and the OpenAPI document is generated from it.
 */

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface RouteDefinition<
  Params extends z.ZodType = z.ZodType,
  Body extends z.ZodType | undefined = z.ZodType | undefined,
  Response extends z.ZodType = z.ZodType,
> {
  method: HttpMethod;
  /** template with `{param}` segments, e.g. `/v1/models/{model_id}` */
  path: string;
  params: Params;
  /** undefined: the route takes no body (an empty body or `{}` is accepted) */
  body: Body;
  response: Response;
  /** HTTP status of a success */
  successStatus: 200 | 201;
  /** safe to retry after a network error without changing the outcome */
  idempotent: boolean;
  summary: string;
}

function route<P extends z.ZodType, B extends z.ZodType | undefined, R extends z.ZodType>(
  definition: RouteDefinition<P, B, R>,
): RouteDefinition<P, B, R> {
  return definition;
}

const NoParams = z.object({}).strict();
const ModelParams = z.object({ model_id: ObjectId }).strict();
/** `deployment_id` also accepts `development`, the development deployment's fixed name. */
const DeploymentParams = z.object({ model_id: ObjectId, deployment_id: ObjectId }).strict();
const EnvironmentParams = z.object({ model_id: ObjectId, env_name: DnsLabelName }).strict();
const PromotionParams = z.object({ model_id: ObjectId, env_name: DnsLabelName, promotion_id: ObjectId }).strict();
const VariableParams = z.object({ model_id: ObjectId, env_name: DnsLabelName, name: VariableName }).strict();
const PromotionSettingsParams = z.object({ promotion_settings_id: ObjectId }).strict();
const WorkspaceEnvironmentParams = z.object({ env_name: DnsLabelName }).strict();
const ApiKeyParams = z.object({ api_key_id: ObjectId }).strict();

const promotionAction = (action: string, summary: string) =>
  route({
    method: "POST",
    path: `/v1/models/{model_id}/environments/{env_name}/${action}`,
    params: EnvironmentParams,
    body: undefined,
    response: Promotion,
    successStatus: 200,
    idempotent: false,
    summary,
  });

export const contract = {
  // models
  createModel: route({
    method: "POST", path: "/v1/models", params: NoParams, body: CreateModelBody, response: Model,
    successStatus: 201, idempotent: false, summary: "Create a model and its production environment",
  }),
  listModels: route({
    method: "GET", path: "/v1/models", params: NoParams, body: undefined, response: ModelList,
    successStatus: 200, idempotent: true, summary: "List models",
  }),
  getModel: route({
    method: "GET", path: "/v1/models/{model_id}", params: ModelParams, body: undefined, response: Model,
    successStatus: 200, idempotent: true, summary: "Get a model",
  }),
  deleteModel: route({
    method: "DELETE", path: "/v1/models/{model_id}", params: ModelParams, body: undefined, response: DeletedResponse,
    successStatus: 200, idempotent: true, summary: "Delete a model with all its deployments and environments",
  }),

  // deployments
  createDeployment: route({
    method: "POST", path: "/v1/models/{model_id}/deployments", params: ModelParams, body: CreateDeploymentBody,
    response: Deployment, successStatus: 201, idempotent: false,
    summary: "Create a published deployment (optionally promoting it into an environment)",
  }),
  listDeployments: route({
    method: "GET", path: "/v1/models/{model_id}/deployments", params: ModelParams, body: undefined,
    response: DeploymentList, successStatus: 200, idempotent: true, summary: "List a model's deployments",
  }),
  putDevelopmentDeployment: route({
    method: "PUT", path: "/v1/models/{model_id}/deployments/development", params: ModelParams,
    // Not idempotent although a PUT: every patch is a new revision that restarts the replica (that
    // is how `modelplane dev` reloads changed files), so a blind retry would restart it twice.
    body: PutDevelopmentDeploymentBody, response: Deployment, successStatus: 200, idempotent: false,
    summary: "Create the development deployment, or live-patch it in place (same id, revision + 1)",
  }),
  getDeployment: route({
    method: "GET", path: "/v1/models/{model_id}/deployments/{deployment_id}", params: DeploymentParams,
    body: undefined, response: Deployment, successStatus: 200, idempotent: true,
    summary: "Get a deployment (`development` names the development deployment)",
  }),
  patchDeployment: route({
    method: "PATCH", path: "/v1/models/{model_id}/deployments/{deployment_id}", params: DeploymentParams,
    body: PatchDeploymentBody, response: Deployment, successStatus: 200, idempotent: true,
    summary: "Rename a published deployment",
  }),
  deleteDeployment: route({
    method: "DELETE", path: "/v1/models/{model_id}/deployments/{deployment_id}", params: DeploymentParams,
    body: undefined, response: DeletedResponse, successStatus: 200, idempotent: true,
    summary: "Delete a deployment (not while it serves an environment)",
  }),
  activateDeployment: route({
    method: "POST", path: "/v1/models/{model_id}/deployments/{deployment_id}/activate", params: DeploymentParams,
    body: undefined, response: Deployment, successStatus: 200, idempotent: true, summary: "Activate a deployment",
  }),
  deactivateDeployment: route({
    method: "POST", path: "/v1/models/{model_id}/deployments/{deployment_id}/deactivate", params: DeploymentParams,
    body: undefined, response: Deployment, successStatus: 200, idempotent: true,
    summary: "Deactivate a deployment: keeps its record, frees its replicas, predict answers 404",
  }),
  updateDeploymentAutoscalingSettings: route({
    method: "PATCH", path: "/v1/models/{model_id}/deployments/{deployment_id}/autoscaling_settings",
    params: DeploymentParams, body: AutoscalingSettingsPatch, response: Deployment, successStatus: 200,
    idempotent: true, summary: "Update a deployment's autoscaling settings",
  }),
  promoteDeploymentToProduction: route({
    method: "POST", path: "/v1/models/{model_id}/deployments/{deployment_id}/promote", params: DeploymentParams,
    body: PromoteToProductionBody, response: Promotion, successStatus: 200, idempotent: false,
    summary: "Promote a deployment to production (compatibility route for …/environments/production/promote)",
  }),

  // environments
  createEnvironment: route({
    method: "POST", path: "/v1/models/{model_id}/environments", params: ModelParams, body: CreateEnvironmentBody,
    response: Environment, successStatus: 201, idempotent: false, summary: "Create a custom environment",
  }),
  listEnvironments: route({
    method: "GET", path: "/v1/models/{model_id}/environments", params: ModelParams, body: undefined,
    response: EnvironmentList, successStatus: 200, idempotent: true, summary: "List a model's environments",
  }),
  getEnvironment: route({
    method: "GET", path: "/v1/models/{model_id}/environments/{env_name}", params: EnvironmentParams,
    body: undefined, response: Environment, successStatus: 200, idempotent: true,
    summary: "Get an environment with its current and candidate deployments and in-progress promotion",
  }),
  patchEnvironment: route({
    method: "PATCH", path: "/v1/models/{model_id}/environments/{env_name}", params: EnvironmentParams,
    body: PatchEnvironmentBody, response: Environment, successStatus: 200, idempotent: true,
    summary: "Update an environment's autoscaling and promotion settings",
  }),
  deleteEnvironment: route({
    method: "DELETE", path: "/v1/models/{model_id}/environments/{env_name}", params: EnvironmentParams,
    body: undefined, response: DeletedResponse, successStatus: 200, idempotent: true,
    summary: "Delete a custom environment (production cannot be deleted)",
  }),
  putVariable: route({
    method: "PUT", path: "/v1/models/{model_id}/environments/{env_name}/variables/{name}", params: VariableParams,
    body: PutVariableBody, response: VariableChange, successStatus: 200, idempotent: true,
    summary: "Set an environment variable or secret (secret values are write-only; without `secret` an existing secret stays secret); answers with the rollout of the environment's replicas it started",
  }),
  deleteVariable: route({
    method: "DELETE", path: "/v1/models/{model_id}/environments/{env_name}/variables/{name}", params: VariableParams,
    body: undefined, response: DeletedVariable, successStatus: 200, idempotent: true,
    summary: "Delete an environment variable or secret; answers with the rollout of the environment's replicas it started",
  }),
  getVariablesRollout: route({
    method: "GET", path: "/v1/models/{model_id}/environments/{env_name}/variables_rollout", params: EnvironmentParams,
    body: undefined, response: VariablesRollout, successStatus: 200, idempotent: true,
    summary: "Follow the roll of an environment's replicas onto its current variables and secrets",
  }),
  getShadow: route({
    method: "GET", path: "/v1/models/{model_id}/environments/{env_name}/shadow", params: EnvironmentParams,
    body: undefined, response: ShadowReport, successStatus: 200, idempotent: true,
    summary: "The live comparison of an environment's shadow with its primary: counts, agreement rates, latency percentiles, shed and skipped copies, sampled disagreements",
  }),

  // workspace environments
  createWorkspaceEnvironment: route({
    method: "POST", path: "/v1/environments", params: NoParams, body: CreateWorkspaceEnvironmentBody,
    response: WorkspaceEnvironment, successStatus: 201, idempotent: false,
    summary: "Create a workspace environment: every model gets an environment of it (models created later too)",
  }),
  listWorkspaceEnvironments: route({
    method: "GET", path: "/v1/environments", params: NoParams, body: undefined, response: WorkspaceEnvironmentList,
    successStatus: 200, idempotent: true, summary: "List workspace environments in chain order",
  }),
  getWorkspaceEnvironment: route({
    method: "GET", path: "/v1/environments/{env_name}", params: WorkspaceEnvironmentParams, body: undefined,
    response: WorkspaceEnvironment, successStatus: 200, idempotent: true, summary: "Get a workspace environment",
  }),
  patchWorkspaceEnvironment: route({
    method: "PATCH", path: "/v1/environments/{env_name}", params: WorkspaceEnvironmentParams,
    body: PatchWorkspaceEnvironmentBody, response: WorkspaceEnvironment, successStatus: 200, idempotent: true,
    summary: "Update a workspace environment; a change of its variables or secrets rolls every model environment whose effective values change",
  }),
  deleteWorkspaceEnvironment: route({
    method: "DELETE", path: "/v1/environments/{env_name}", params: WorkspaceEnvironmentParams, body: undefined,
    response: DeletedResponse, successStatus: 200, idempotent: true,
    summary: "Delete a workspace environment (not while another requires it or one of its model environments serves or promotes)",
  }),
  listWorkspaceEnvironmentDeployments: route({
    method: "GET", path: "/v1/environments/{env_name}/deployments", params: WorkspaceEnvironmentParams,
    body: undefined, response: EnvironmentDeploymentList, successStatus: 200, idempotent: true,
    summary: "What serves a workspace environment in every model, with the newest promotion's status",
  }),
  getModelChain: route({
    method: "GET", path: "/v1/models/{model_id}/chain", params: ModelParams, body: undefined, response: ModelChain,
    successStatus: 200, idempotent: true,
    summary: "Each deployment's position in the promotion chain: passed, soaking since, blocked by what",
  }),

  // promotions
  promote: route({
    method: "POST", path: "/v1/models/{model_id}/environments/{env_name}/promote", params: EnvironmentParams,
    body: PromoteBody, response: Promotion, successStatus: 200, idempotent: false,
    summary: "Start promoting a deployment to an environment",
  }),
  pausePromotion: promotionAction("pause_promotion", "Pause the in-progress promotion between steps"),
  resumePromotion: promotionAction("resume_promotion", "Resume a paused promotion"),
  approvePromotion: promotionAction("approve_promotion", "Pass the promotion's manual gate (confirm_promotion): the candidate may get all the traffic"),
  cancelPromotion: promotionAction("cancel_promotion", "Cancel: ramp back gracefully (rolling) or at once"),
  forceCancelPromotion: promotionAction("force_cancel_promotion", "Return all traffic to the previous deployment now"),
  forceRollForwardPromotion: promotionAction(
    "force_roll_forward_promotion",
    "Complete the promotion now, shifting all traffic to the candidate",
  ),
  rollback: route({
    method: "POST", path: "/v1/models/{model_id}/environments/{env_name}/rollback", params: EnvironmentParams,
    body: PromoteToProductionBody, response: Promotion, successStatus: 200, idempotent: false,
    summary: "Promote the environment's previous deployment again",
  }),
  listPromotions: route({
    method: "GET", path: "/v1/models/{model_id}/environments/{env_name}/promotions", params: EnvironmentParams,
    body: undefined, response: PromotionList, successStatus: 200, idempotent: true,
    summary: "List an environment's promotions, newest first",
  }),
  getPromotion: route({
    method: "GET", path: "/v1/models/{model_id}/environments/{env_name}/promotions/{promotion_id}",
    params: PromotionParams, body: undefined, response: Promotion, successStatus: 200, idempotent: true,
    summary: "Get one promotion",
  }),

  // named promotion settings
  createPromotionSettings: route({
    method: "POST", path: "/v1/promotion_settings", params: NoParams, body: CreatePromotionSettingsBody,
    response: PromotionSettingsObject, successStatus: 201, idempotent: false,
    summary: "Create a named promotion settings object",
  }),
  listPromotionSettings: route({
    method: "GET", path: "/v1/promotion_settings", params: NoParams, body: undefined,
    response: PromotionSettingsList, successStatus: 200, idempotent: true, summary: "List promotion settings",
  }),
  getPromotionSettings: route({
    method: "GET", path: "/v1/promotion_settings/{promotion_settings_id}", params: PromotionSettingsParams,
    body: undefined, response: PromotionSettingsObject, successStatus: 200, idempotent: true,
    summary: "Get promotion settings",
  }),
  patchPromotionSettings: route({
    method: "PATCH", path: "/v1/promotion_settings/{promotion_settings_id}", params: PromotionSettingsParams,
    body: PatchPromotionSettingsBody, response: PromotionSettingsObject, successStatus: 200, idempotent: true,
    summary: "Update promotion settings (affects promotions started afterwards)",
  }),
  deletePromotionSettings: route({
    method: "DELETE", path: "/v1/promotion_settings/{promotion_settings_id}", params: PromotionSettingsParams,
    body: undefined, response: DeletedResponse, successStatus: 200, idempotent: true,
    summary: "Delete promotion settings (not while an environment uses them)",
  }),

  // API keys (admin keys only)
  createApiKey: route({
    method: "POST", path: "/v1/api_keys", params: NoParams, body: CreateApiKeyBody, response: CreatedApiKey,
    successStatus: 201, idempotent: false,
    summary: "Create an API key (admin, inference or metrics); the answer holds its secret, shown this once",
  }),
  listApiKeys: route({
    method: "GET", path: "/v1/api_keys", params: NoParams, body: undefined, response: ApiKeyList,
    successStatus: 200, idempotent: true, summary: "List live API keys (never their secrets)",
  }),
  revokeApiKey: route({
    method: "DELETE", path: "/v1/api_keys/{api_key_id}", params: ApiKeyParams, body: undefined,
    response: DeletedResponse, successStatus: 200, idempotent: true,
    summary: "Revoke an API key: every engine refuses it within its resync period (5 s by default), this one at once",
  }),

  // audit
  listAuditLogs: route({
    method: "GET", path: "/v1/models/{model_id}/audit_logs", params: ModelParams, body: undefined,
    response: AuditLogList, successStatus: 200, idempotent: true, summary: "A model's audit log, newest first",
  }),
} as const;

export type Contract = typeof contract;
export type RouteName = keyof Contract;

type InferOr<T, Fallback> = T extends z.ZodType ? z.infer<T> : Fallback;
type InputOr<T, Fallback> = T extends z.ZodType ? z.input<T> : Fallback;

/** Validated path parameters of a route. */
export type RouteParams<N extends RouteName> = z.infer<Contract[N]["params"]>;
/** Validated body (defaults applied) as the engine sees it. */
export type RouteBody<N extends RouteName> = InferOr<Contract[N]["body"], undefined>;
/** Body as a client may send it (defaults optional). */
export type RouteBodyInput<N extends RouteName> = InputOr<Contract[N]["body"], undefined>;
export type RouteResponse<N extends RouteName> = z.infer<Contract[N]["response"]>;

export const routeNames = Object.keys(contract) as RouteName[];

/** `?environment=staging`: only what has (models) or serves and is promoted into (deployments) that environment. */
export const EnvironmentFilterQuery = z.object({ environment: DnsLabelName.optional() });

/**
 * Query parameters of the routes that take filters: a malformed value is a 400 naming it; other
 * parameters are ignored, as on every route before filters existed (cache busters keep working).
 */
export const routeQueries = {
  listModels: EnvironmentFilterQuery,
  listDeployments: EnvironmentFilterQuery,
} as const satisfies Partial<Record<RouteName, z.ZodType>>;

type RouteQueries = typeof routeQueries;
/** Validated query of a route (undefined for routes without filters). */
export type RouteQuery<N extends RouteName> = N extends keyof RouteQueries ? z.infer<RouteQueries[N]> : undefined;
/** Query as a client may send it. */
export type RouteQueryInput<N extends RouteName> = N extends keyof RouteQueries ? z.input<RouteQueries[N]> : undefined;

/** The query schema of a route, if it takes one. */
export function routeQuery(name: RouteName): z.ZodType | undefined {
  return (routeQueries as Partial<Record<RouteName, z.ZodType>>)[name];
}

/** Fill a path template: `fillPath("/v1/models/{model_id}", { model_id: "m1" })`; values are URL-encoded. */
export function fillPath(template: string, params: Record<string, string>): string {
  return template.replace(/\{([a-z_]+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`missing path parameter ${name} for ${template}`);
    return encodeURIComponent(value);
  });
}
