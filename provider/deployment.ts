import * as pulumi from "@pulumi/pulumi";
import { ownUrn, RESOURCE_URN_INPUT } from "./resource-urn.js";
import { providerShim } from "./shim.js";

/** Baseten's autoscaling fields, camelCased. Unset fields take the engine's defaults. */
export interface AutoscalingSettingsArgs {
  /** 0 allows scale to zero (default 0) */
  minReplica?: pulumi.Input<number>;
  /** default 1; at least minReplica */
  maxReplica?: pulumi.Input<number>;
  /** in-flight requests per replica to aim for (default 1) */
  concurrencyTarget?: pulumi.Input<number>;
  /** 1–100 (default 70) */
  targetUtilizationPercentage?: pulumi.Input<number>;
  /** seconds of traffic per scaling decision, 10–3600 (default 60) */
  autoscalingWindow?: pulumi.Input<number>;
  /** seconds of low traffic before scaling down, 0–3600 (default 900) */
  scaleDownDelay?: pulumi.Input<number>;
}

export interface DeploymentArgs {
  /** The model's id (`Model.id`). */
  modelId: pulumi.Input<string>;
  /** Optional name, unique per model (default `deployment-N`). Lowercase letters, digits, `-`. */
  name?: pulumi.Input<string>;
  /** argv of a replica for the process runtime, e.g. `["node", "server.js"]`; it listens on `PORT`. */
  command?: pulumi.Input<pulumi.Input<string>[]>;
  /** working directory of a replica, as seen by the engine (absolute paths recommended) */
  cwd?: pulumi.Input<string>;
  /** container image, for the Kubernetes runtime */
  image?: pulumi.Input<string>;
  /** fixed container port (Kubernetes runtime) */
  port?: pulumi.Input<number>;
  /** answers 200 when a replica is ready (default `/health`) */
  readinessPath?: pulumi.Input<string>;
  /** where predict requests are forwarded (default `/predict`) */
  predictPath?: pulumi.Input<string>;
  /** plain environment variables for every replica */
  env?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** `{ cpu: "500m", memory: "512Mi", extended: { "nvidia.com/gpu": "1" } }` (Kubernetes notation) */
  resources?: pulumi.Input<{ cpu?: pulumi.Input<string>; memory?: pulumi.Input<string>; extended?: pulumi.Input<Record<string, pulumi.Input<string>>> }>;
  /** used until the deployment serves an environment, whose settings then apply */
  autoscalingSettings?: pulumi.Input<AutoscalingSettingsArgs>;
}

/**
 * An immutable, runnable version of a model. Changing how it runs (command, cwd, image, env, …)
 * replaces it: the new deployment is created and started first, the old one deleted afterwards —
 * so an `Environment` pointing at it performs a promotion in between. Creation waits until the
 * deployment has started (or fails with the replica's output).
 */
export class Deployment extends pulumi.dynamic.Resource {
  declare readonly deploymentId: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  /** DEPLOYING, ACTIVE, SCALED_TO_ZERO, … at the last create/update/refresh */
  declare readonly status: pulumi.Output<string>;
  /** Predict URL of this deployment */
  declare readonly endpoint: pulumi.Output<string>;

  constructor(name: string, args: DeploymentArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("deployment"),
      name,
      { name: undefined, ...args, [RESOURCE_URN_INPUT]: ownUrn("Deployment", name, opts), deploymentId: undefined, status: undefined, endpoint: undefined },
      opts,
      "modelplane",
      "Deployment",
    );
  }
}
