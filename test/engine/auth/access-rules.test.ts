import { describe, expect, it } from "vitest";
import { decideManagementAccess, decideMetricsAccess, decidePredictAccess, type KeyGrant } from "../../../engine/auth/access-rules.js";
import type { ApiKeyScope } from "../../../sdk/index.js";

const grant = (scope: ApiKeyScope): KeyGrant => ({ id: `key_${scope}`, scope, modelIds: null, environmentNames: null });
const target = { kind: "environment", modelId: "mdl_a", envName: "production" } as const;

describe("who may read GET /metrics (decideMetricsAccess)", () => {
  it.each([
    ["no credential", false, undefined, "UNAUTHORIZED"],
    ["a wrong or revoked key", true, undefined, "UNAUTHORIZED"],
    ["an inference key", true, grant("inference"), "FORBIDDEN"],
    ["a metrics key", true, grant("metrics"), "ok"],
    ["an admin key", true, grant("admin"), "ok"],
  ] as const)("%s → %s", (_name, credentialGiven, keyGrant, expected) => {
    const decision = decideMetricsAccess(credentialGiven, keyGrant);
    expect(decision.ok ? "ok" : decision.code).toBe(expected);
  });

  it("a metrics key may read /metrics and nothing else: predict and the management API are 403", () => {
    expect(decidePredictAccess(target, false, true, grant("metrics"))).toMatchObject({ ok: false, code: "FORBIDDEN" });
    expect(decideManagementAccess(true, grant("metrics"))).toMatchObject({ ok: false, code: "FORBIDDEN" });
    expect(decideMetricsAccess(true, grant("metrics")).ok).toBe(true);
  });

  it("an inference key is told which key it needs", () => {
    const decision = decideMetricsAccess(true, grant("inference"));
    expect(decision.ok ? "" : decision.message).toMatch(/metrics key .*--scope metrics.* or an admin key/);
  });
});
