/** Model: name → id. Its production environment exists from creation (the engine creates it). */
import { CreateModelBody } from "../../sdk/schemas/model.js";
import { NotFoundError } from "../../sdk/client-errors.js";
import { engineClient } from "./connection.js";
import { changedProperties, checkFailures, withoutUnknowns, type Props, type ResourceImplementation } from "./resource.js";

const INPUTS = ["name"] as const;

function outputs(model: { id: string; name: string }, endpoint: string): Props {
  return { name: model.name, modelId: model.id, productionEndpoint: `${endpoint}/models/${model.id}/production/predict` };
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
    return { id: model.id, outs: outputs(model, client.endpoint) };
  },
  async read(id, props) {
    const client = engineClient();
    const model = await client.call("getModel", { params: { model_id: id } });
    const outs = { ...props, ...outputs(model, client.endpoint) };
    return { id, props: outs, inputs: { name: model.name } };
  },
  async update(_id, _olds, news) {
    // Every input change is a replacement (see diff); nothing to update in place.
    return { outs: news };
  },
  async delete(id) {
    try {
      await engineClient().call("deleteModel", { params: { model_id: id } });
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  },
};
