export { ControlPlane } from "./control-plane.js";
export { DomainEvents, type DomainEvent, type DomainEventListener, type DomainEventType } from "./events.js";
export type { ServiceContext, UnitOfWork } from "./context.js";
export {
  validatePromotionRequest,
  type PromotionActionName,
  type PromotionExecutor,
  type ValidatedPromotionRequest,
} from "./promotions.js";
export { insertPublishedDeployment } from "./deployments.js";
export { effectivePromotionSettings, loadDeployment } from "./lookups.js";
export { newObjectId, type IdPrefix } from "./ids.js";
export * from "./presenters.js";
