/** Model: name → id. Its production environment exists from creation (the engine creates it). */
import { CreateModelBody } from "../../sdk/schemas/model.js";
import { NotFoundError } from "../../sdk/client-errors.js";
import { nameWithId } from "../../sdk/labels.js";
import { engineClient } from "./connection.js";
import { reportFor } from "./report.js";
import { changedProperties, checkFailures, withoutUnknowns, type Props, type ResourceImplementation } from "./resource.js";

const INPUTS = ["name"] as const;

function outputs(model: { id: string; name: string }, endpoint: string, resourceUrn: unknown): Props {
  return { name: model.name, modelId: model.id, productionEndpoint: `${endpoint}/models/${model.id}/production/predict`, resourceUrn };
}

export const modelImplementation: ResourceImplementation = {
  async check(_olds, news) {
    const known = withoutUnknowns(news);
    return { inputs: news, failures: "name" in known ? checkFailures(CreateModelBody, { name: known.name }) : [] };
  },
  async diff(_id, olds, news) {
    const changed = changedProperties(olds, news, INPUTS);
    // A model's name is unique: the replacement can only be created once the old one is gone.
    return { changes: changed.length > 0, replaces: changed, deleteBeforeReplace: true };
  },
  async create(inputs) {
    const client = engineClient();
    const model = await client.call("createModel", { body: { name: String(inputs.name) } });
    return { id: model.id, outs: outputs(model, client.endpoint, inputs.resourceUrn) };
  },
  async read(id, props) {
    const client = engineClient();
    const model = await client.call("getModel", { params: { model_id: id } });
    const outs = { ...props, ...outputs(model, client.endpoint, props.resourceUrn) };
    return { id, props: outs, inputs: { name: model.name } };
  },
  async update(_id, _olds, news) {
    // Every input change is a replacement (see diff); nothing to update in place.
    return { outs: news };
  },
  async delete(id, props) {
    const client = engineClient();
    try {
      // What goes with it, said before it is gone: deployments a stack could not delete on their
      // own (they still served production) are deleted here.
      const { deployments } = await client.call("listDeployments", { params: { model_id: id } });
      await client.call("deleteModel", { params: { model_id: id } });
      const label = nameWithId(typeof props.name === "string" ? props.name : undefined, id);
      const held = deployments.map((deployment) => nameWithId(deployment.name, deployment.id));
      await reportFor(props).note(`model ${label} deleted${held.length > 0 ? ` with its deployments ${held.join(", ")} and its environments` : ""}`);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  },
};
