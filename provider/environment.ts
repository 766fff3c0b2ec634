import * as pulumi from "@pulumi/pulumi";
import type { AutoscalingSettingsArgs } from "./deployment.js";
import type { PromotionSettings } from "./promotion-settings.js";
import { ownUrn, RESOURCE_URN_INPUT } from "./resource-urn.js";
import { providerShim } from "./shim.js";
import { WorkspaceEnvironment } from "./workspace-environment.js";

export interface EnvironmentArgs {
  /** The model's id (`Model.id`). */
  modelId: pulumi.Input<string>;
  /**
   * `production` adopts the model's production environment; any other name creates a custom one.
   * With `workspaceEnvironment`, its name (the default) adopts the model's environment of it.
   */
  name?: pulumi.Input<string>;
  /**
   * The workspace environment (a `WorkspaceEnvironment` or its name) this is the model's
   * environment of: adopted, never created or deleted (every model has one). It inherits the
   * workspace's variables, secrets and default promotion settings (those set here override them),
   * and its chain: a `deploymentId` that has not passed the required environment (and soaked
   * there) fails at preview with the engine's message.
   */
  workspaceEnvironment?: pulumi.Input<string> | WorkspaceEnvironment;
  /** Promote although the deployment has not passed the required environment (audited on the engine). */
  skipChain?: pulumi.Input<boolean>;
  /** What should serve. Changing it promotes that deployment: `pulumi up` blocks until the promotion ends. */
  deploymentId?: pulumi.Input<string>;
  /** A `PromotionSettings` resource (or its id): how promotions into this environment run. */
  promotionSettings?: pulumi.Input<string> | PromotionSettings;
  /** The environment's autoscaling, applied to the deployment that serves it. */
  autoscalingSettings?: pulumi.Input<AutoscalingSettingsArgs>;
  /** Plain variables given to the environment's replicas. */
  variables?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Secret variables: write-only on the engine, encrypted in the Pulumi state. */
  secrets?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** A promotion still running after this long is canceled gracefully and the update fails (default 1800). */
  promotionTimeoutSeconds?: pulumi.Input<number>;
  /** true: the environment's predict endpoint answers without an API key (audited on the engine).
   * Default false: every caller needs a key. */
  public?: pulumi.Input<boolean>;
  /** Copies of the environment's requests go to another deployment and its answers are compared
   * (`modelplane shadow`). Adding, changing or removing it is an update that moves no traffic. */
  shadow?: pulumi.Input<ShadowArgs>;
  /** Requests naming a deployment in a header or cookie are served by it: the in-progress
   * candidate ("candidate") or one of `allowedDeployments`. Off when absent. Changing it moves no traffic. */
  headerRouting?: pulumi.Input<HeaderRoutingArgs>;
}

/** Header routing (sdk/schemas/header-routing.ts), camelCase. */
export interface HeaderRoutingArgs {
  /** the request header read (default x-modelplane-target); its value is "candidate" or a deployment id */
  header?: pulumi.Input<string>;
  /** also this cookie, read when the header is absent */
  cookie?: pulumi.Input<string>;
  /** deployment ids of this model a request may name, besides "candidate" (at most 16) */
  allowedDeployments?: pulumi.Input<pulumi.Input<string>[]>;
}

/** A shadow (sdk/schemas/shadow.ts), camelCase: copies of the environment's requests go to
 * `deployment` and its answers are compared with the primary's. Adding, changing or removing it
 * is an update that does not touch the environment's traffic. */
export interface ShadowArgs {
  /** "candidate" (the in-progress promotion's candidate) or a deployment id of the model */
  deployment: pulumi.Input<string>;
  /** share of the (matching) requests copied, 0–100 (default 100) */
  percent?: pulumi.Input<number>;
  /** only requests matching all of these */
  match?: pulumi.Input<{ method?: string; pathPrefix?: string; header?: { name: string; value?: string } }>;
  /** bodies larger than this are not mirrored, ≤ 65536 (default 65536) */
  maxBodyBytes?: pulumi.Input<number>;
  /** "exact" (default) or "json" field by field, numbers within numericTolerance, only `fields` if given */
  comparison?: pulumi.Input<{ mode: "exact" } | { mode: "json"; numericTolerance?: number; fields?: string[] }>;
  /** keep request and answer bodies in the disagreement samples (default false) */
  keepBodies?: pulumi.Input<boolean>;
  /** mirror requests carrying an Idempotency-Key too (default false) */
  mirrorNonIdempotent?: pulumi.Input<boolean>;
  /** copies in flight at once (default 8) and waiting (default 64); beyond them copies are shed */
  maxConcurrency?: pulumi.Input<number>;
  maxQueue?: pulumi.Input<number>;
  /** a shadow answer slower than this is given up (default 10000) */
  timeoutMs?: pulumi.Input<number>;
}

export interface LastPromotion {
  id: string;
  deploymentId: string;
  status: "SUCCEEDED" | "FAILED" | "CANCELED";
  kind: "INSTANT" | "CANARY" | "ROLLING";
  durationSeconds: number;
  errorMessage?: string;
}

/**
 * An environment of a model: a stable endpoint, autoscaling, variables, and the deployment that
 * serves it. Deleting `production` from the program detaches it without deleting it.
 */
export class Environment extends pulumi.dynamic.Resource {
  /** what the engine says is serving now */
  declare readonly currentDeploymentId: pulumi.Output<string | null>;
  /** predict URL */
  declare readonly endpoint: pulumi.Output<string>;
  declare readonly lastPromotion: pulumi.Output<LastPromotion | null>;
  /** true for production, which was adopted rather than created */
  declare readonly adopted: pulumi.Output<boolean>;

  constructor(name: string, args: EnvironmentArgs, opts?: pulumi.CustomResourceOptions) {
    const { promotionSettings, secrets, workspaceEnvironment, name: environmentName, ...rest } = args;
    const workspaceName =
      workspaceEnvironment === undefined ? undefined
      : workspaceEnvironment instanceof WorkspaceEnvironment ? workspaceEnvironment.environmentName
      : workspaceEnvironment;
    const promotionSettingsId =
      promotionSettings === undefined ? undefined
      : typeof promotionSettings === "object" && "settingsId" in promotionSettings ? promotionSettings.id
      : promotionSettings;
    super(
      providerShim("environment"),
      name,
      {
        ...rest,
        name: environmentName ?? workspaceName,
        workspaceEnvironment: workspaceName,
        [RESOURCE_URN_INPUT]: ownUrn("Environment", name, opts),
        promotionSettingsId,
        secrets: secrets === undefined ? undefined : pulumi.secret(secrets),
        currentDeploymentId: undefined,
        endpoint: undefined,
        effectivePromotionSettings: undefined,
        lastPromotion: undefined,
        adopted: undefined,
      },
      // `secrets` stays encrypted in the state's outputs too.
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "secrets"] },
      "modelplane",
      "Environment",
    );
  }
}
