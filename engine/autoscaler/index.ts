export { Autoscaler, type AutoscalerOptions, type LoadSource } from "./autoscaler.js";
export { recommendReplicas, type LoadSample, type Recommendation, type RecommendationInput } from "./recommend.js";
export { DEFAULT_AUTOSCALING_SETTINGS, resolveAutoscalingSettings, type AutoscalingSettings } from "./settings.js";
