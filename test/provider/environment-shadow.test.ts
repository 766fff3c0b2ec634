/** The provider's Environment takes `shadow` (camelCase in, the API's schema at preview, snake_case out); a change of it is an update, never a replacement. */
import { describe, expect, it } from "vitest";
import { environmentImplementation } from "../../provider/impl/environment.js";

describe("Environment.shadow in the provider", () => {
  it("accepts a camelCase shadow and stops preview on a bad one naming the field and the rule", async () => {
    const good = await environmentImplementation.check({}, {
      modelId: "mdl_1",
      name: "production",
      shadow: { deployment: "candidate", percent: 25, maxQueue: 10, comparison: { mode: "json", numericTolerance: 0.05, fields: ["label", "score"] }, match: { pathPrefix: "/models/" } },
    });
    expect(good.failures).toEqual([]);
    const bad = await environmentImplementation.check({}, { modelId: "mdl_1", name: "production", shadow: { deployment: "candidate", percent: 120, maxBodyBytes: 1_000_000 } });
    expect((bad.failures ?? []).map((failure) => failure.property)).toEqual(["shadow", "shadow"]);
    expect((bad.failures ?? []).map((failure) => failure.reason)).toEqual([expect.stringMatching(/^shadow\.percent: /), expect.stringMatching(/^shadow\.maxBodyBytes: /)]);
  });

  it("adding, changing and removing a shadow is an update, not a replacement", async () => {
    const base = { modelId: "mdl_1", name: "production", deploymentId: "dep_1" };
    const added = await environmentImplementation.diff!("mdl_1/production", base, { ...base, shadow: { deployment: "dep_2" } });
    expect(added).toMatchObject({ changes: true, replaces: [] });
    const changed = await environmentImplementation.diff!("mdl_1/production", { ...base, shadow: { deployment: "dep_2" } }, { ...base, shadow: { deployment: "dep_2", percent: 50 } });
    expect(changed).toMatchObject({ changes: true, replaces: [] });
    const removed = await environmentImplementation.diff!("mdl_1/production", { ...base, shadow: { deployment: "dep_2" } }, base);
    expect(removed).toMatchObject({ changes: true, replaces: [] });
    const same = await environmentImplementation.diff!("mdl_1/production", { ...base, shadow: { deployment: "dep_2" } }, { ...base, shadow: { deployment: "dep_2" } });
    expect(same.changes).toBe(false);
  });
});
