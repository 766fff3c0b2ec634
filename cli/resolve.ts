/**
 * Commands take a model or deployment by id (`mdl_…`, `dep_…`) or by name: ids are what the API
 * uses, names are what people remember. The id is tried first, so a lookup by id costs one call.
 */
import { NotFoundError, ValidationError } from "../sdk/client-errors.js";
import type { ModelplaneClient } from "../sdk/client.js";
import { ModelplaneError } from "../sdk/errors.js";
import type { Deployment } from "../sdk/schemas/deployment.js";
import type { Model } from "../sdk/schemas/model.js";

function isMissOrMalformed(error: unknown): boolean {
  return error instanceof NotFoundError || error instanceof ValidationError;
}

/** The model with this id, else the one model with this name. */
export async function resolveModel(client: ModelplaneClient, idOrName: string): Promise<Model> {
  try {
    return await client.call("getModel", { params: { model_id: idOrName } });
  } catch (error) {
    if (!isMissOrMalformed(error)) throw error;
    const { models } = await client.call("listModels", {});
    const named = models.filter((model) => model.name === idOrName);
    if (named.length === 1) return named[0]!;
    if (named.length > 1) {
      throw new ModelplaneError("CONFLICT", `${named.length} models are named '${idOrName}' (${named.map((model) => model.id).join(", ")}): give the id`);
    }
    throw new ModelplaneError("NOT_FOUND", `no model with id or name '${idOrName}'`);
  }
}

/** The model's deployment with this id or name (`development` names the development deployment). */
export async function resolveDeployment(client: ModelplaneClient, modelId: string, idOrName: string): Promise<Deployment> {
  try {
    return await client.call("getDeployment", { params: { model_id: modelId, deployment_id: idOrName } });
  } catch (error) {
    if (!isMissOrMalformed(error)) throw error;
    const { deployments } = await client.call("listDeployments", { params: { model_id: modelId } });
    const named = deployments.find((deployment) => deployment.name === idOrName);
    if (named) return named;
    throw new ModelplaneError("NOT_FOUND", `model ${modelId} has no deployment with id or name '${idOrName}'`);
  }
}

export async function resolveModelId(client: ModelplaneClient, idOrName: string): Promise<string> {
  return (await resolveModel(client, idOrName)).id;
}
