/**
 * How many extra replicas a revision change (a redeploy, or a change of an environment's variables)
 * may start at once, and where an environment's set takes that from.
 */
import { describe, expect, it } from "vitest";
import { surgePercentOf } from "../../../engine/control/deployment-controller.js";
import { surgeReplicas } from "../../../engine/runtime/process/process-runtime.js";
import { PROMOTION_SETTINGS_DEFAULTS } from "../../../sdk/index.js";

describe("revision surge", () => {
  it.each([
    // desired, percent, extra replicas
    [4, undefined, 1],
    [8, undefined, 2],
    [1, undefined, 1],
    [4, 50, 2],
    [3, 100, 3],
    [3, 1, 1],
  ] as const)("%i desired at %s %% → %i at once (at least one, so a change always moves)", (desired, percent, expected) => {
    expect(surgeReplicas(desired, percent)).toBe(expected);
  });

  it("an environment rolls its configuration like its promotions: rolling max_surge_percent, else everything at once", () => {
    const rolling = { ...PROMOTION_SETTINGS_DEFAULTS, rolling_deploy: true, rolling_deploy_config: { ...PROMOTION_SETTINGS_DEFAULTS.rolling_deploy_config, max_surge_percent: 50 } };
    expect(surgePercentOf(rolling)).toBe(50);
    // max-unavailable mode (surge 0): still one new replica first, capacity never drops
    expect(surgePercentOf({ ...rolling, rolling_deploy_config: { ...rolling.rolling_deploy_config, max_surge_percent: 0, max_unavailable_percent: 25 } })).toBe(1);
    expect(surgePercentOf({ ...PROMOTION_SETTINGS_DEFAULTS, rolling_deploy: false })).toBe(100);
  });
});
