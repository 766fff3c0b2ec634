import { z } from "zod";
import { AutoscalingSettings, AutoscalingSettingsInput, AutoscalingSettingsPatch } from "./autoscaling.js";
import { DnsLabelName, ObjectId, Timestamp, VariableName, withoutNul } from "./common.js";

export { VariableName };
import { Deployment } from "./deployment.js";
import { Promotion } from "./promotion.js";
import { PromotionSettings, PromotionSettingsPatch } from "./promotion-settings.js";
import { ShadowSettings } from "./shadow.js";
import { HeaderRouting } from "./header-routing.js";

export const PRODUCTION_ENVIRONMENT_NAME = "production";

export const EnvironmentName = DnsLabelName;

/**
 * Where an effective value of a model's environment comes from: the model's own environment
 * (`model`, which overrides) or the workspace environment it belongs to (`workspace`).
 */
export const ValueSource = z.enum(["model", "workspace"]);
export type ValueSource = z.infer<typeof ValueSource>;

/**
 * A variable as read back: secret values are write-only and never returned. `source` is given for
 * the environments of a workspace environment (where the effective value comes from); an
 * environment of the model's own has model variables only and leaves it out.
 */
export const Variable = z.object({
  name: z.string().max(128),
  secret: z.boolean(),
  value: z.string().max(65_536).optional(),
  source: ValueSource.optional(),
});
export type Variable = z.infer<typeof Variable>;

/**
 * PUT …/environments/{env_name}/variables/{name}. `secret` omitted: a new variable is plain, an
 * existing one keeps what it is — a secret stays secret (a value-only update must not make it
 * readable); only an explicit `"secret": false` turns a secret into a plain variable.
 */
export const PutVariableBody = z
  .object({
    value: withoutNul(z.string().max(65_536)),
    secret: z.boolean().optional(),
  })
  .strict();
export type PutVariableBody = z.infer<typeof PutVariableBody>;

export const Environment = z.object({
  name: EnvironmentName,
  model_id: ObjectId,
  created_at: Timestamp,
  /** the deployment serving this environment, or null before the first promotion */
  current_deployment: Deployment.nullable(),
  /** the deployment an in-progress promotion moves to, or null */
  candidate_deployment: Deployment.nullable(),
  /**
   * the newest promotion of this environment: while it runs, and after it ended with its terminal
   * status (SUCCEEDED, FAILED, CANCELED) and finished_at, until the next one starts (as Baseten
   * documents); null before the first promotion. Use `isTerminalPromotionStatus` to tell "done".
   */
  in_progress_promotion: Promotion.nullable(),
  autoscaling_settings: AutoscalingSettings,
  /** effective settings: the named object's when promotion_settings_id is set, else the inline ones */
  promotion_settings: PromotionSettings,
  promotion_settings_id: ObjectId.nullable(),
  /** effective variables: the workspace environment's, overridden by the model's own of the same name */
  variables: z.array(Variable),
  /**
   * the workspace environment (GET /v1/environments/{name}) this environment belongs to: it
   * inherits that one's variables, secrets and default promotion settings, and its chain rule
   * (`requires`, `min_soak_seconds`); null for an environment of the model's own
   */
  workspace_environment: EnvironmentName.nullable(),
  /** where `promotion_settings` come from: the model's environment (inline or named), or the workspace environment */
  promotion_settings_source: ValueSource,
  /** predict URL path of the environment on the engine's data plane */
  endpoint: z.string().max(512),
  /** true: its predict endpoint answers without an API key (opt-in, audited); default false */
  public: z.boolean(),
  /** the shadow that gets copies of this environment's requests (sdk/schemas/shadow.ts), or null */
  shadow: ShadowSettings.nullable(),
  /** which requests a header or cookie sends to the candidate (sdk/schemas/header-routing.ts), or null: off */
  header_routing: HeaderRouting.nullable(),
});
export type Environment = z.infer<typeof Environment>;

/** POST /v1/models/{model_id}/environments */
export const CreateEnvironmentBody = z
  .object({
    name: EnvironmentName,
    autoscaling_settings: AutoscalingSettingsInput.optional(),
    /** inline settings (defaults for unset fields) … */
    promotion_settings: PromotionSettingsPatch.optional(),
    /** … or a named settings object; not both */
    promotion_settings_id: ObjectId.optional(),
    /** serve predict without an API key; default false (every caller needs a key) */
    public: z.boolean().optional(),
    /** a shadow for the environment's requests (sdk/schemas/shadow.ts) */
    shadow: ShadowSettings.optional(),
    /** header routing to the candidate (sdk/schemas/header-routing.ts); off by default */
    header_routing: HeaderRouting.optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.promotion_settings !== undefined && body.promotion_settings_id !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["promotion_settings_id"],
        message: "give either promotion_settings (inline) or promotion_settings_id (named object), not both",
        params: { rule: "mutually_exclusive" },
      });
    }
  });
export type CreateEnvironmentBody = z.infer<typeof CreateEnvironmentBody>;

/**
 * PATCH /v1/models/{model_id}/environments/{env_name}. `promotion_settings` merges into the
 * environment's inline settings (as the reference's curl examples do); while the environment
 * refers to a named object, also send `promotion_settings_id: null` to detach it.
 */
export const PatchEnvironmentBody = z
  .object({
    autoscaling_settings: AutoscalingSettingsPatch.optional(),
    promotion_settings: PromotionSettingsPatch.optional(),
    promotion_settings_id: ObjectId.nullable().optional(),
    /** serve predict without an API key (true), or require one again (false) */
    public: z.boolean().optional(),
    /** the whole shadow (replaces the previous one), or null to remove it; traffic is not touched */
    shadow: ShadowSettings.nullable().optional(),
    /**
     * true: use the workspace environment's default promotion settings again (drops the model's
     * own); only for an environment of a workspace environment. Setting promotion_settings or
     * promotion_settings_id makes the model's own settings override the workspace's.
     */
    inherit_promotion_settings: z.literal(true).optional(),
    /** header routing (replaces the previous one), or null to turn it off; traffic is not touched */
    header_routing: HeaderRouting.nullable().optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.inherit_promotion_settings === true && (body.promotion_settings !== undefined || body.promotion_settings_id !== undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["inherit_promotion_settings"],
        message: "inherit the workspace's settings or give the model's own (promotion_settings, promotion_settings_id), not both",
        params: { rule: "mutually_exclusive" },
      });
    }
    if (body.promotion_settings !== undefined && typeof body.promotion_settings_id === "string") {
      ctx.addIssue({
        code: "custom",
        path: ["promotion_settings_id"],
        message: "give either promotion_settings (inline) or a promotion_settings_id, not both",
        params: { rule: "mutually_exclusive" },
      });
    }
  });
export type PatchEnvironmentBody = z.infer<typeof PatchEnvironmentBody>;

export const EnvironmentList = z.object({ environments: z.array(Environment) });
export type EnvironmentList = z.infer<typeof EnvironmentList>;
