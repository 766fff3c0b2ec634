/** PromotionSettings: the named settings object; updating it changes future promotions only. */
import { NotFoundError } from "../../sdk/client-errors.js";
import {
  CreatePromotionSettingsBody,
  PROMOTION_SETTINGS_DEFAULTS,
  type PromotionSettingsObject,
} from "../../sdk/schemas/promotion-settings.js";
import { engineClient } from "./connection.js";
import { camelKeys, camelToSnake, changedProperties, checkFailures, likeInputs, snakeKeys, withoutUnknowns, type Props, type ResourceImplementation } from "./resource.js";

const INPUTS = [
  "name",
  "rollingDeploy",
  "rollingDeployConfig",
  "promotionCleanupStrategy",
  "rampUpWhilePromoting",
  "rampUpDurationSeconds",
  "redeployOnPromotion",
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
};

/** The API body for the inputs (unset inputs are left to the engine's defaults). */
function body(inputs: Props): Props {
  const out: Props = {};
  for (const key of INPUTS) {
    const value = inputs[key];
    if (value === undefined) continue;
    out[camelToSnake(key)] = key === "rollingDeployConfig" ? snakeKeys(value) : value;
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
    };
    // Keep only the inputs the program set, so a refresh does not invent differences.
    const kept = likeInputs({ ...props, name: true }, inputs);
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

