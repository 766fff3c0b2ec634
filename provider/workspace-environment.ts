import * as pulumi from "@pulumi/pulumi";
import type { PromotionSettings } from "./promotion-settings.js";
import { ownUrn, RESOURCE_URN_INPUT } from "./resource-urn.js";
import { providerShim } from "./shim.js";

export interface WorkspaceEnvironmentArgs {
  /** The environment's name, the same in every model (`staging`, `production`). Changing it replaces it. */
  name: pulumi.Input<string>;
  description?: pulumi.Input<string>;
  /** Plain variables every model's environment of this name inherits (a model's own override them). */
  variables?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Secrets: write-only on the engine, encrypted in the Pulumi state, given to this environment's replicas only. */
  secrets?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** A `PromotionSettings` resource (or its id): the default settings of the models' environments. */
  promotionSettings?: pulumi.Input<string> | PromotionSettings;
  /** The workspace environment a deployment must have passed first (a `WorkspaceEnvironment` or its name). */
  requires?: pulumi.Input<string> | WorkspaceEnvironment;
  /** Seconds a deployment must have served in `requires` after its promotion there SUCCEEDED. */
  minSoakSeconds?: pulumi.Input<number>;
  /** How long an update waits for the models' environments to roll onto changed variables (default 1800). */
  rolloutTimeoutSeconds?: pulumi.Input<number>;
}

/**
 * An environment defined once for the workspace: every model has an environment of it (models
 * created later too), inheriting its variables, secrets and default promotion settings. With
 * `requires`, promotions into it follow the chain: an `Environment` pointing at a deployment that
 * has not passed `requires` (and soaked there `minSoakSeconds`) fails at preview.
 */
export class WorkspaceEnvironment extends pulumi.dynamic.Resource {
  /** The environment's name (also the resource id): give it to `Environment.workspaceEnvironment` or another's `requires`. */
  declare readonly environmentName: pulumi.Output<string>;
  /** How many models have an environment of it. */
  declare readonly modelsCount: pulumi.Output<number>;

  constructor(name: string, args: WorkspaceEnvironmentArgs, opts?: pulumi.CustomResourceOptions) {
    const { promotionSettings, requires, secrets, ...rest } = args;
    const promotionSettingsId =
      promotionSettings === undefined ? undefined
      : typeof promotionSettings === "object" && "settingsId" in promotionSettings ? promotionSettings.id
      : promotionSettings;
    const requiredName = requires === undefined ? undefined : requires instanceof WorkspaceEnvironment ? requires.environmentName : requires;
    super(
      providerShim("workspace-environment"),
      name,
      {
        ...rest,
        [RESOURCE_URN_INPUT]: ownUrn("WorkspaceEnvironment", name, opts),
        promotionSettingsId,
        requires: requiredName,
        secrets: secrets === undefined ? undefined : pulumi.secret(secrets),
        environmentName: undefined,
        modelsCount: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "secrets"] },
      "modelplane",
      "WorkspaceEnvironment",
    );
  }
}
