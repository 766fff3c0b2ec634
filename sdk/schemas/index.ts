export * from "./common.js";
export * from "./autoscaling.js";
export * from "./promotion-settings.js";
export * from "./model.js";
export * from "./deployment.js";
export * from "./promotion.js";
export * from "./environment.js";
export * from "./audit-log.js";
