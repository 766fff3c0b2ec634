import { z } from "zod";
import { AutoscalingSettings, AutoscalingSettingsInput } from "./autoscaling.js";
import { ALWAYS_CHECK, DnsLabelName, ObjectId, Timestamp, VariableName, withoutControlCharacters, withoutNul } from "./common.js";

/** Name of the one development deployment of a model; reserved. */
export const DEVELOPMENT_DEPLOYMENT_NAME = "development";

/**
 * Deployment status (reference: deployment lifecycle). BUILDING is not used: replicas start from a
 * command or a prebuilt image, nothing is built.
 */
export const DeploymentStatus = z.enum([
  /** activated; replicas starting for the first time (or after a live reload) */
  "DEPLOYING",
  /** at least one replica ready */
  "ACTIVE",
  /** active with zero replicas; the next request wakes it */
  "SCALED_TO_ZERO",
  /** a request arrived while scaled to zero; replicas starting */
  "WAKING_UP",
  /** was ready, now replicas keep failing their readiness check */
  "UNHEALTHY",
  /** replicas crash-loop or never became ready; see error_message */
  "FAILED",
  /** deactivated: keeps its record, no replicas, predict answers 404 */
  "INACTIVE",
]);
export type DeploymentStatus = z.infer<typeof DeploymentStatus>;

/** Plain key → value pairs given to every replica; at most 100, values up to 32 KiB. */
export const DeploymentEnv = z
  .record(VariableName, withoutNul(z.string().max(32_768)))
  .refine((env) => Object.keys(env).length <= 100, { message: "at most 100 variables", params: { rule: "max_entries" } });

const HttpPath = z
  .string()
  .min(1)
  .max(256)
  .regex(/^\/[\x21-\x7e]*$/, "an absolute URL path starting with '/', printable ASCII");

export const Resources = z
  .object({
    /** CPU in Kubernetes notation: "500m", "2" */
    cpu: z.string().max(32).regex(/^[0-9]+(\.[0-9]+)?m?$/, "e.g. 500m or 2").optional(),
    /** memory in Kubernetes notation: "512Mi", "2Gi" */
    memory: z.string().max(32).regex(/^[0-9]+(\.[0-9]+)?([KMGTPE]i?)?$/, "e.g. 512Mi or 2Gi").optional(),
    /** Extended resources by their Kubernetes name, whole numbers: {"nvidia.com/gpu": "1"}. The
     * Kubernetes runtime requests and limits them as given; the process runtime ignores them. */
    extended: z
      .record(
        z.string().max(253).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, "a domain-qualified resource name, e.g. nvidia.com/gpu"),
        z.string().max(32).regex(/^[0-9]+$/, "a whole number, e.g. 1"),
      )
      .refine((entries) => Object.keys(entries).length <= 16, { message: "at most 16 extended resources", params: { rule: "max_entries" } })
      .optional(),
  })
  .strict();
export type Resources = z.infer<typeof Resources>;

const commandArg = withoutNul(z.string().min(1).max(4096));
const Command = z.array(commandArg).max(256);

export const ReplicaCounts = z.object({
  desired: z.int().min(0),
  ready: z.int().min(0),
  starting: z.int().min(0),
});
export type ReplicaCounts = z.infer<typeof ReplicaCounts>;

export const Deployment = z.object({
  id: ObjectId,
  model_id: ObjectId,
  name: DnsLabelName,
  created_at: Timestamp,
  status: DeploymentStatus,
  /** false once deactivated */
  active: z.boolean(),
  is_development: z.boolean(),
  /** name of the environment this deployment currently serves, or null */
  environment: DnsLabelName.nullable(),
  /** argv for the process runtime; empty when only `image` is given */
  command: Command,
  cwd: z.string().max(4096).optional(),
  image: z.string().max(512).optional(),
  /** fixed replica port for images; the process runtime picks a free one and sets PORT */
  port: z.int().min(1).max(65_535).optional(),
  readiness_path: HttpPath,
  predict_path: HttpPath,
  env: z.record(z.string().max(128), z.string().max(32_768)),
  resources: Resources.optional(),
  autoscaling_settings: AutoscalingSettings,
  replicas: ReplicaCounts,
  error_message: z.string().max(8192).optional(),
  /** increases on each live patch of the development deployment; 1 for published ones */
  revision: z.int().min(1),
});
export type Deployment = z.infer<typeof Deployment>;

/** Fields that say how to run a replica; shared by create and the development PUT. */
const runnableFields = {
  command: Command.optional(),
  cwd: withoutControlCharacters(z.string().min(1).max(4096)).optional(),
  image: withoutControlCharacters(z.string().min(1).max(512)).optional(),
  port: z.int().min(1).max(65_535).optional(),
  readiness_path: HttpPath.default("/health"),
  predict_path: HttpPath.default("/predict"),
  env: DeploymentEnv.default({}),
  resources: Resources.optional(),
  autoscaling_settings: AutoscalingSettingsInput.optional(),
};

function commandOrImage(body: { command?: string[] | undefined; image?: string | undefined }, ctx: z.RefinementCtx) {
  if (typeof body.image !== "string" && (!Array.isArray(body.command) || body.command.length === 0)) {
    ctx.addIssue({
      code: "custom",
      path: ["command"],
      message: "command must be a non-empty argv (e.g. [\"node\", \"server.js\"]) unless image is given",
      params: { rule: "command_or_image_required" },
    });
  }
}

/** The deployment name users may choose; `development` is reserved for the development deployment. */
export const PublishedDeploymentName = DnsLabelName.refine((name) => name !== DEVELOPMENT_DEPLOYMENT_NAME, {
  message: "'development' is reserved for the development deployment (PUT …/deployments/development)",
  params: { rule: "reserved_name" },
});

/** POST /v1/models/{model_id}/deployments */
export const CreateDeploymentBody = z
  .object({
    /** defaults to deployment-N */
    name: PublishedDeploymentName.optional(),
    ...runnableFields,
    /** deploy straight into this environment by starting a promotion (truss push --environment) */
    environment: DnsLabelName.optional(),
  })
  .strict()
  .superRefine(commandOrImage, ALWAYS_CHECK);
export type CreateDeploymentBody = z.infer<typeof CreateDeploymentBody>;
export type CreateDeploymentInput = z.input<typeof CreateDeploymentBody>;

/**
 * PUT /v1/models/{model_id}/deployments/development: creates the development deployment, or
 * live-patches it (same id, revision + 1). Autoscaling is pinned: at most one replica, scales to zero.
 */
export const PutDevelopmentDeploymentBody = z.object({ ...runnableFields }).strict().superRefine(commandOrImage, ALWAYS_CHECK);
export type PutDevelopmentDeploymentBody = z.infer<typeof PutDevelopmentDeploymentBody>;

/** PATCH /v1/models/{model_id}/deployments/{deployment_id}: rename a published deployment. */
export const PatchDeploymentBody = z.object({ name: PublishedDeploymentName.optional() }).strict();
export type PatchDeploymentBody = z.infer<typeof PatchDeploymentBody>;

export const DeploymentList = z.object({ deployments: z.array(Deployment) });
export type DeploymentList = z.infer<typeof DeploymentList>;
