/** The provider's Environment takes `headerRouting` (camelCase in, the API's schema at preview, snake_case out); a change of it is an update, never a replacement. */
import { describe, expect, it } from "vitest";
import { environmentImplementation } from "../../provider/impl/environment.js";

const DEPLOYMENT_ID = "dep_0123456789abcdef";

describe("Environment.headerRouting in the provider", () => {
  it("accepts a camelCase header routing and stops preview on a bad one naming the field and the rule", async () => {
    const good = await environmentImplementation.check({}, {
      modelId: "mdl_1",
      name: "production",
      headerRouting: { header: "x-try", cookie: "try_candidate", allowedDeployments: [DEPLOYMENT_ID] },
    });
    expect(good.failures).toEqual([]);
    const bad = await environmentImplementation.check({}, {
      modelId: "mdl_1",
      name: "production",
      headerRouting: { cookie: "not a token", allowedDeployments: Array.from({ length: 17 }, () => DEPLOYMENT_ID) },
    });
    expect((bad.failures ?? []).map((failure) => failure.property)).toEqual(["headerRouting", "headerRouting"]);
    expect((bad.failures ?? []).map((failure) => failure.reason)).toEqual([
      expect.stringMatching(/^headerRouting\.cookie: /),
      expect.stringMatching(/^headerRouting\.allowedDeployments: /),
    ]);
  });

  it("adding, changing and removing header routing is an update, not a replacement", async () => {
    const base = { modelId: "mdl_1", name: "production", deploymentId: "dep_1" };
    const on = { ...base, headerRouting: {} };
    expect(await environmentImplementation.diff!("mdl_1/production", base, on)).toMatchObject({ changes: true, replaces: [] });
    const changed = { ...base, headerRouting: { allowedDeployments: [DEPLOYMENT_ID] } };
    expect(await environmentImplementation.diff!("mdl_1/production", on, changed)).toMatchObject({ changes: true, replaces: [] });
    expect(await environmentImplementation.diff!("mdl_1/production", changed, base)).toMatchObject({ changes: true, replaces: [] });
    expect((await environmentImplementation.diff!("mdl_1/production", changed, { ...changed })).changes).toBe(false);
  });
});
