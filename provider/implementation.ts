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
import { workspaceEnvironmentImplementation } from "./impl/workspace-environment.js";

export { configure } from "./impl/connection.js";

const implementations: Record<ResourceKind, ResourceImplementation> = {
  model: modelImplementation,
  deployment: deploymentImplementation,
  "promotion-settings": promotionSettingsImplementation,
  environment: environmentImplementation,
  "workspace-environment": workspaceEnvironmentImplementation,
};

/**
 * Results cross to the engine as protobuf Structs, which reject `undefined` ("Unexpected struct
 * type"): every result leaves as plain JSON.
 */
function plain<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

function asPlainJson(implementation: ResourceImplementation): ResourceImplementation {
  return {
    check: async (olds, news) => {
      const result = await implementation.check(olds, news);
      return { ...result, inputs: plain(result.inputs) };
    },
    diff: (id, olds, news) => implementation.diff(id, olds, news),
    create: async (inputs) => plain(await implementation.create(inputs)),
    read: async (id, props) => plain(await implementation.read(id, props)),
    update: async (id, olds, news) => plain(await implementation.update(id, olds, news)),
    delete: (id, props) => implementation.delete(id, props),
  };
}

const plainImplementations = Object.fromEntries(
  Object.entries(implementations).map(([kind, implementation]) => [kind, asPlainJson(implementation)]),
) as Record<ResourceKind, ResourceImplementation>;

export function providerFor(kind: ResourceKind): ResourceImplementation {
  return plainImplementations[kind];
}
