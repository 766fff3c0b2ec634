/** PromotionSettings: the named settings object; updating it changes future promotions only. */
import { NotFoundError } from "../../sdk/client-errors.js";
import {
  CreatePromotionSettingsBody,
  PROMOTION_SETTINGS_DEFAULTS,
  type PromotionSettingsObject,
} from "../../sdk/schemas/promotion-settings.js";
import { PromotionAnalysis } from "../../sdk/schemas/promotion-analysis.js";
import { engineClient } from "./connection.js";
import {
  camelKeys,
  camelToSnake,
  changedProperties,
  checkFailures,
  likeInputs,
  snakeKeys,
  snakeToCamel,
  stableJson,
  withoutUnknowns,
  type Props,
  type ResourceImplementation,
} from "./resource.js";

const INPUTS = [
  "name",
  "rollingDeploy",
  "rollingDeployConfig",
  "promotionCleanupStrategy",
  "rampUpWhilePromoting",
  "rampUpDurationSeconds",
  "redeployOnPromotion",
  "analysis",
  "confirmPromotion",
  "webhooks",
] as const;

/** What an input removed from the program goes back to. */
const DEFAULTS: Record<(typeof INPUTS)[number], unknown> = {
  name: undefined,
  rollingDeploy: PROMOTION_SETTINGS_DEFAULTS.rolling_deploy,
  rollingDeployConfig: PROMOTION_SETTINGS_DEFAULTS.rolling_deploy_config,
  promotionCleanupStrategy: PROMOTION_SETTINGS_DEFAULTS.promotion_cleanup_strategy,
  rampUpWhilePromoting: PROMOTION_SETTINGS_DEFAULTS.ramp_up_while_promoting,
  rampUpDurationSeconds: PROMOTION_SETTINGS_DEFAULTS.ramp_up_duration_seconds,
  redeployOnPromotion: PROMOTION_SETTINGS_DEFAULTS.redeploy_on_promotion,
  analysis: PROMOTION_SETTINGS_DEFAULTS.analysis,
  confirmPromotion: PROMOTION_SETTINGS_DEFAULTS.confirm_promotion,
  webhooks: [],
};

/** A webhook's camelCase fields → the API's; `metadata` is the user's own keys, passed as they are. */
function webhookBody(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  return value.map((hook: unknown) => {
    if (hook === null || typeof hook !== "object") return hook;
    const { metadata, ...fields } = hook as Props;
    return { ...(deepSnakeKeys(fields) as Props), ...(metadata !== undefined ? { metadata } : {}) };
  });
}

/**
 * camelCase keys → the API's snake_case, all the way down (the analysis has a list of metric
 * objects); values (a metric's `type: "success_rate"`) are left alone.
 */
function deepSnakeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(deepSnakeKeys);
  if (value === null || typeof value !== "object") return value;
  const out: Props = {};
  for (const [key, inner] of Object.entries(value)) if (inner !== undefined) out[camelToSnake(key)] = deepSnakeKeys(inner);
  return out;
}

/** The API's snake_case → camelCase, all the way down. */
function deepCamelKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(deepCamelKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [snakeToCamel(key), deepCamelKeys(inner)]));
}

/** The program's analysis and the engine's mean the same once the engine's defaults are filled in. */
function sameAnalysis(program: unknown, engine: unknown): boolean {
  const parsed = PromotionAnalysis.nullable().safeParse(deepSnakeKeys(program ?? null));
  return parsed.success && stableJson(parsed.data) === stableJson(engine ?? null);
}

/** The API body for the inputs (unset inputs are left to the engine's defaults). */
function body(inputs: Props): Props {
  const out: Props = {};
  for (const key of INPUTS) {
    const value = inputs[key];
    if (value === undefined) continue;
    out[camelToSnake(key)] =
      key === "rollingDeployConfig" ? snakeKeys(value) : key === "analysis" ? deepSnakeKeys(value) : key === "webhooks" ? webhookBody(value) : value;
  }
  return out;
}

function outputs(inputs: Props, settings: PromotionSettingsObject): Props {
  return { ...inputs, settingsId: settings.id, effective: camelKeys(settings) };
}

export const promotionSettingsImplementation: ResourceImplementation = {
  async check(_olds, news) {
    return { inputs: news, failures: checkFailures(CreatePromotionSettingsBody, body(withoutUnknowns(news))) };
  },
  async diff(_id, olds, news) {
    const changed = changedProperties(olds, news, INPUTS);
    return { changes: changed.length > 0, replaces: [], deleteBeforeReplace: false };
  },
  async create(inputs) {
    const settings = await engineClient().call("createPromotionSettings", { body: body(inputs) as never });
    return { id: settings.id, outs: outputs(inputs, settings) };
  },
  async read(id, props) {
    const settings = await engineClient().call("getPromotionSettings", { params: { promotion_settings_id: id } });
    const inputs: Props = {
      name: settings.name,
      rollingDeploy: settings.rolling_deploy,
      rollingDeployConfig: camelKeys(settings.rolling_deploy_config),
      promotionCleanupStrategy: settings.promotion_cleanup_strategy,
      rampUpWhilePromoting: settings.ramp_up_while_promoting,
      rampUpDurationSeconds: settings.ramp_up_duration_seconds,
      redeployOnPromotion: settings.redeploy_on_promotion,
      // the program's own spelling while it means what the engine has (defaults filled in are no drift)
      analysis: sameAnalysis(props.analysis, settings.analysis) ? props.analysis : deepCamelKeys(settings.analysis),
      confirmPromotion: settings.confirm_promotion,
      webhooks: settings.webhooks.map(({ metadata, ...fields }) => ({ ...(deepCamelKeys(fields) as Props), metadata })),
    };
    // Keep only the inputs the program set, so a refresh does not invent differences.
    const kept = likeInputs({ ...props, name: true }, inputs);
    if (props.analysis !== undefined) kept.analysis = inputs.analysis;
    return { id, props: outputs({ ...props, ...kept }, settings), inputs: kept };
  },
  async update(id, olds, news) {
    // An input removed from the program goes back to the engine's default.
    const patch = body(news);
    for (const key of INPUTS) {
      if (olds[key] !== undefined && news[key] === undefined && key !== "name") {
        patch[camelToSnake(key)] = DEFAULTS[key];
      }
    }
    const settings = await engineClient().call("patchPromotionSettings", { params: { promotion_settings_id: id }, body: patch as never });
    return { outs: outputs(news, settings) };
  },
  async delete(id) {
    try {
      await engineClient().call("deletePromotionSettings", { params: { promotion_settings_id: id } });
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  },
};

