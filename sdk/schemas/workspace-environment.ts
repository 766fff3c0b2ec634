import { z } from "zod";
import { ALWAYS_CHECK, ObjectId, Timestamp, VariableName, withoutNul } from "./common.js";
import { Deployment } from "./deployment.js";
import { EnvironmentName, ValueSource, Variable } from "./environment.js";
import { PromotionStatus } from "./promotion.js";
import { PromotionSettings, PromotionSettingsPatch } from "./promotion-settings.js";

/**
 * Workspace environments: defined once (`POST /v1/environments`), every model has an environment
 * of each (models created later too). A model's environment inherits the workspace environment's
 * variables, secrets and default promotion settings; the model's own values override them. The
 * promotion chain: a deployment is promoted into an environment that `requires` another only after
 * it SUCCEEDED in the model's environment of that other one and served there `min_soak_seconds`.
 */

/** Longest soak a chain may ask for: 30 days. */
export const MAX_SOAK_SECONDS = 30 * 86_400;

const VariableValue = withoutNul(z.string().max(65_536));

/** A workspace environment as read back: secret values are write-only and never returned. */
export const WorkspaceEnvironment = z.object({
  id: ObjectId,
  name: EnvironmentName,
  description: z.string().max(1_000),
  /** its variables and secrets (secrets without their value), inherited by every model's environment of this name */
  variables: z.array(Variable),
  /** effective default promotion settings of the models' environments that do not set their own */
  promotion_settings: PromotionSettings,
  promotion_settings_id: ObjectId.nullable(),
  /** the workspace environment a deployment must have passed first (production requires staging), or null */
  requires: EnvironmentName.nullable(),
  /** how long a deployment must have served in `requires` (after its promotion there SUCCEEDED) */
  min_soak_seconds: z.int().min(0).max(MAX_SOAK_SECONDS),
  /** live models that have an environment of this one (all of them) */
  models_count: z.int().min(0),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type WorkspaceEnvironment = z.infer<typeof WorkspaceEnvironment>;

export const WorkspaceEnvironmentList = z.object({ environments: z.array(WorkspaceEnvironment) });
export type WorkspaceEnvironmentList = z.infer<typeof WorkspaceEnvironmentList>;

/** Variables and secrets given as maps: `{"LOG_LEVEL": "info"}`. A name is a variable or a secret, not both. */
function checkNamesOnce(
  body: { variables?: Record<string, unknown> | undefined; secrets?: Record<string, unknown> | undefined },
  ctx: z.RefinementCtx,
): void {
  if (typeof body.variables !== "object" || body.variables === null || typeof body.secrets !== "object" || body.secrets === null) return;
  for (const name of Object.keys(body.secrets)) {
    if (Object.hasOwn(body.variables, name)) {
      ctx.addIssue({
        code: "custom",
        path: ["secrets", name],
        message: `${name} is given both in variables and in secrets; a name is one or the other`,
        params: { rule: "variable_or_secret" },
      });
    }
  }
}

const workspaceFields = {
  description: z.string().max(1_000),
  promotion_settings: PromotionSettingsPatch,
  promotion_settings_id: ObjectId,
  min_soak_seconds: z.int().min(0).max(MAX_SOAK_SECONDS),
};

/** POST /v1/environments */
export const CreateWorkspaceEnvironmentBody = z
  .object({
    name: EnvironmentName,
    description: workspaceFields.description.optional(),
    /** plain variables, readable back */
    variables: z.record(VariableName, VariableValue).optional(),
    /** secrets: write-only, given only to the replicas of this environment */
    secrets: z.record(VariableName, VariableValue).optional(),
    /** default promotion settings of the models' environments: inline (defaults for unset fields) … */
    promotion_settings: workspaceFields.promotion_settings.optional(),
    /** … or a named settings object; not both */
    promotion_settings_id: workspaceFields.promotion_settings_id.optional(),
    /** the workspace environment a deployment must have passed first */
    requires: EnvironmentName.optional(),
    /** seconds the deployment must have served in `requires`; default 0 (SUCCEEDED there is enough) */
    min_soak_seconds: workspaceFields.min_soak_seconds.optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    checkNamesOnce(body, ctx);
    if (body.promotion_settings !== undefined && body.promotion_settings_id !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["promotion_settings_id"],
        message: "give either promotion_settings (inline) or promotion_settings_id (named object), not both",
        params: { rule: "mutually_exclusive" },
      });
    }
    if (body.min_soak_seconds !== undefined && body.requires === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["min_soak_seconds"],
        message: "a soak needs the environment to soak in: give requires too",
        params: { rule: "needs_requires" },
      });
    }
    if (body.requires !== undefined && body.requires === body.name) {
      ctx.addIssue({
        code: "custom",
        path: ["requires"],
        message: "an environment cannot require itself",
        params: { rule: "not_itself" },
      });
    }
  }, ALWAYS_CHECK);
export type CreateWorkspaceEnvironmentBody = z.infer<typeof CreateWorkspaceEnvironmentBody>;

/**
 * PATCH /v1/environments/{name}. `variables` and `secrets` are merged by name: a value sets (a
 * name given in `variables` becomes plain, in `secrets` secret), null deletes. Every model
 * environment whose effective variables change rolls its replicas onto them (follow each with
 * GET /v1/models/{model_id}/environments/{name}/variables_rollout).
 */
export const PatchWorkspaceEnvironmentBody = z
  .object({
    description: workspaceFields.description.optional(),
    variables: z.record(VariableName, VariableValue.nullable()).optional(),
    secrets: z.record(VariableName, VariableValue.nullable()).optional(),
    /** merges into the inline default settings; while a named object is used, also send promotion_settings_id: null */
    promotion_settings: workspaceFields.promotion_settings.optional(),
    promotion_settings_id: workspaceFields.promotion_settings_id.nullable().optional(),
    /** null: no chain rule any more */
    requires: EnvironmentName.nullable().optional(),
    min_soak_seconds: workspaceFields.min_soak_seconds.optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    checkNamesOnce(body, ctx);
    if (body.promotion_settings !== undefined && typeof body.promotion_settings_id === "string") {
      ctx.addIssue({
        code: "custom",
        path: ["promotion_settings_id"],
        message: "give either promotion_settings (inline) or a promotion_settings_id, not both",
        params: { rule: "mutually_exclusive" },
      });
    }
  }, ALWAYS_CHECK);
export type PatchWorkspaceEnvironmentBody = z.infer<typeof PatchWorkspaceEnvironmentBody>;

/**
 * Where one deployment stands in one environment of the chain (GET /v1/models/{model_id}/chain).
 * - `serving`: it is the environment's current deployment
 * - `promotion_status`: its newest promotion into the environment (null: never promoted there)
 * - `passed_at`: when that promotion SUCCEEDED (null: not yet)
 * - `can_promote`: a promotion into this environment would pass the chain rule now
 * - `blocked_by`: why not (the 409's message), null when it can
 * - `soaking_since` / `soak_ready_at`: while the deployment soaks in the required environment
 */
export const ChainStage = z.object({
  environment: EnvironmentName,
  requires: EnvironmentName.nullable(),
  serving: z.boolean(),
  promotion_status: PromotionStatus.nullable(),
  passed_at: Timestamp.nullable(),
  can_promote: z.boolean(),
  blocked_by: z.string().max(2_000).nullable(),
  soaking_since: Timestamp.nullable(),
  soak_ready_at: Timestamp.nullable(),
});
export type ChainStage = z.infer<typeof ChainStage>;

export const ModelChain = z.object({
  model_id: ObjectId,
  /** the workspace environments in chain order: those that require nothing first */
  environments: z.array(
    z.object({ name: EnvironmentName, requires: EnvironmentName.nullable(), min_soak_seconds: z.int().min(0) }),
  ),
  /** every published deployment, newest first, with its stage in each environment */
  deployments: z.array(
    z.object({
      deployment_id: ObjectId,
      deployment_name: z.string().max(100),
      stages: z.array(ChainStage),
    }),
  ),
});
export type ModelChain = z.infer<typeof ModelChain>;

/** GET /v1/environments/{name}/deployments: what serves that environment in every model. */
export const EnvironmentDeployment = z.object({
  model_id: ObjectId,
  model_name: z.string().max(100),
  environment: EnvironmentName,
  current_deployment: Deployment.nullable(),
  candidate_deployment_id: ObjectId.nullable(),
  /** the newest promotion's status (null before the first) */
  promotion_status: PromotionStatus.nullable(),
  promotion_settings_source: ValueSource,
});
export type EnvironmentDeployment = z.infer<typeof EnvironmentDeployment>;

export const EnvironmentDeploymentList = z.object({ deployments: z.array(EnvironmentDeployment) });
export type EnvironmentDeploymentList = z.infer<typeof EnvironmentDeploymentList>;
