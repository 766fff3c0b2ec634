/**
 * modelplane's Pulumi resources. Connection: stack config `modelplane:endpoint` and secret
 * `modelplane:apiKey`, else MODELPLANE_ENDPOINT / MODELPLANE_API_KEY in the environment of
 * `pulumi`.
 */
export { Model, type ModelArgs } from "./model.js";
export { Deployment, type DeploymentArgs, type AutoscalingSettingsArgs } from "./deployment.js";
export { PromotionSettings, type PromotionSettingsArgs, type RollingDeployConfigArgs } from "./promotion-settings.js";
export { Environment, type EnvironmentArgs, type LastPromotion } from "./environment.js";
export { WorkspaceEnvironment, type WorkspaceEnvironmentArgs } from "./workspace-environment.js";
