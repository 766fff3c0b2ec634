import type { RouteBody, RouteName, RouteParams, RouteQuery, RouteResponse } from "../../sdk/contract.js";
import type { ControlPlane } from "../service/control-plane.js";

/** One handler per contract route; the mapped type makes a missing route a compile error. */
export type RouteHandlers = {
  [N in RouteName]: (input: { params: RouteParams<N>; body: RouteBody<N>; query: RouteQuery<N> }) => Promise<RouteResponse<N>>;
};

export function createRouteHandlers(service: ControlPlane): RouteHandlers {
  return {
    createModel: ({ body }) => service.createModel(body),
    listModels: async ({ query }) => ({ models: await service.listModels(query.environment) }),
    getModel: ({ params }) => service.getModel(params.model_id),
    deleteModel: ({ params }) => service.deleteModel(params.model_id),

    createDeployment: ({ params, body }) => service.createDeployment(params.model_id, body),
    listDeployments: async ({ params, query }) => ({ deployments: await service.listDeployments(params.model_id, query.environment) }),
    putDevelopmentDeployment: async ({ params, body }) =>
      (await service.putDevelopmentDeployment(params.model_id, body)).deployment,
    getDeployment: ({ params }) => service.getDeployment(params.model_id, params.deployment_id),
    patchDeployment: ({ params, body }) => service.patchDeployment(params.model_id, params.deployment_id, body),
    deleteDeployment: ({ params }) => service.deleteDeployment(params.model_id, params.deployment_id),
    activateDeployment: ({ params }) => service.activateDeployment(params.model_id, params.deployment_id),
    deactivateDeployment: ({ params }) => service.deactivateDeployment(params.model_id, params.deployment_id),
    updateDeploymentAutoscalingSettings: ({ params, body }) =>
      service.updateDeploymentAutoscaling(params.model_id, params.deployment_id, body),
    promoteDeploymentToProduction: ({ params, body }) =>
      service.promoteToProduction(params.model_id, params.deployment_id, body.timeout_seconds),

    createEnvironment: ({ params, body }) => service.createEnvironment(params.model_id, body),
    listEnvironments: async ({ params }) => ({ environments: await service.listEnvironments(params.model_id) }),
    getEnvironment: ({ params }) => service.getEnvironment(params.model_id, params.env_name),
    patchEnvironment: ({ params, body }) => service.patchEnvironment(params.model_id, params.env_name, body),
    deleteEnvironment: ({ params }) => service.deleteEnvironment(params.model_id, params.env_name),
    putVariable: ({ params, body }) => service.putVariable(params.model_id, params.env_name, params.name, body),
    deleteVariable: ({ params }) => service.deleteVariable(params.model_id, params.env_name, params.name),
    getVariablesRollout: ({ params }) => service.variablesRollout(params.model_id, params.env_name),
    getShadow: ({ params }) => service.getShadow(params.model_id, params.env_name),

    createWorkspaceEnvironment: ({ body }) => service.createWorkspaceEnvironment(body),
    listWorkspaceEnvironments: async () => ({ environments: await service.listWorkspaceEnvironments() }),
    getWorkspaceEnvironment: ({ params }) => service.getWorkspaceEnvironment(params.env_name),
    patchWorkspaceEnvironment: ({ params, body }) => service.patchWorkspaceEnvironment(params.env_name, body),
    deleteWorkspaceEnvironment: ({ params }) => service.deleteWorkspaceEnvironment(params.env_name),
    listWorkspaceEnvironmentDeployments: async ({ params }) => ({
      deployments: await service.listWorkspaceEnvironmentDeployments(params.env_name),
    }),
    getModelChain: ({ params }) => service.getModelChain(params.model_id),

    promote: ({ params, body }) => service.promote(params.model_id, params.env_name, body),
    pausePromotion: ({ params }) => service.requestPromotionAction(params.model_id, params.env_name, "pause"),
    resumePromotion: ({ params }) => service.requestPromotionAction(params.model_id, params.env_name, "resume"),
    approvePromotion: ({ params }) => service.requestPromotionAction(params.model_id, params.env_name, "approve"),
    cancelPromotion: ({ params }) => service.requestPromotionAction(params.model_id, params.env_name, "cancel"),
    forceCancelPromotion: ({ params }) =>
      service.requestPromotionAction(params.model_id, params.env_name, "force_cancel"),
    forceRollForwardPromotion: ({ params }) =>
      service.requestPromotionAction(params.model_id, params.env_name, "force_roll_forward"),
    rollback: ({ params, body }) => service.rollback(params.model_id, params.env_name, body.timeout_seconds),
    listPromotions: async ({ params }) => ({ promotions: await service.listPromotions(params.model_id, params.env_name) }),
    getPromotion: ({ params }) => service.getPromotion(params.model_id, params.env_name, params.promotion_id),

    createPromotionSettings: ({ body }) => service.createPromotionSettings(body),
    listPromotionSettings: async () => ({ promotion_settings: await service.listPromotionSettings() }),
    getPromotionSettings: ({ params }) => service.getPromotionSettings(params.promotion_settings_id),
    patchPromotionSettings: ({ params, body }) => service.patchPromotionSettings(params.promotion_settings_id, body),
    deletePromotionSettings: ({ params }) => service.deletePromotionSettings(params.promotion_settings_id),

    createApiKey: ({ body }) => service.createApiKey(body),
    listApiKeys: async () => ({ api_keys: await service.listApiKeys() }),
    revokeApiKey: ({ params }) => service.revokeApiKey(params.api_key_id),

    listAuditLogs: async ({ params }) => ({ audit_logs: await service.listAuditLogs(params.model_id) }),
  };
}
