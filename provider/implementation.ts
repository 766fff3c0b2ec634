/**
 * What the provider shims load inside Pulumi's dynamic-provider host: the connection settings and
 * one implementation per resource kind. Never imported by user programs.
 */
import type { ResourceKind } from "./shim.js";
import type { ResourceImplementation } from "./impl/resource.js";
import { deploymentImplementation } from "./impl/deployment.js";
import { environmentImplementation } from "./impl/environment.js";
import { modelImplementation } from "./impl/model.js";
import { promotionSettingsImplementation } from "./impl/promotion-settings.js";

export { configure } from "./impl/connection.js";

const implementations: Record<ResourceKind, ResourceImplementation> = {
  model: modelImplementation,
  deployment: deploymentImplementation,
  "promotion-settings": promotionSettingsImplementation,
  environment: environmentImplementation,
};

export function providerFor(kind: ResourceKind): ResourceImplementation {
  return implementations[kind];
}
