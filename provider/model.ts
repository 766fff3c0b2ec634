import * as pulumi from "@pulumi/pulumi";
import { ownUrn, RESOURCE_URN_INPUT } from "./resource-urn.js";
import { providerShim } from "./shim.js";

export interface ModelArgs {
  /** Display name, unique on the engine. Changing it replaces the model (and everything under it). */
  name: pulumi.Input<string>;
}

/**
 * A model on the modelplane engine. Its `production` environment exists from creation; manage it
 * with an `Environment` named `production`, which adopts it.
 */
export class Model extends pulumi.dynamic.Resource {
  /** The engine's id of the model (also the resource id). */
  declare readonly modelId: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  /** Predict URL of the production environment. */
  declare readonly productionEndpoint: pulumi.Output<string>;

  constructor(name: string, args: ModelArgs, opts?: pulumi.CustomResourceOptions) {
    super(providerShim("model"), name, { ...args, [RESOURCE_URN_INPUT]: ownUrn("Model", name, opts), modelId: undefined, productionEndpoint: undefined }, opts, "modelplane", "Model");
  }
}
