import { describe, expect, it } from "vitest";
import { CreateDeploymentBody, zodErrorToFieldErrors } from "../../sdk/index.js";

describe("deployment resources", () => {
  it("accepts cpu, memory and extended resources such as nvidia.com/gpu", () => {
    const body = CreateDeploymentBody.parse({ image: "localhost/m:1", resources: { cpu: "2", memory: "4Gi", extended: { "nvidia.com/gpu": "1" } } });
    expect(body.resources).toEqual({ cpu: "2", memory: "4Gi", extended: { "nvidia.com/gpu": "1" } });
  });

  it("names the field and the rule for a bad extended resource", () => {
    const unqualified = CreateDeploymentBody.safeParse({ image: "i", resources: { extended: { gpu: "1" } } });
    expect(zodErrorToFieldErrors(unqualified.error!)).toEqual([
      { path: "resources.extended.gpu", rule: "invalid_format:regex", message: "key 'gpu': a domain-qualified resource name, e.g. nvidia.com/gpu" },
    ]);
    const fractional = CreateDeploymentBody.safeParse({ image: "i", resources: { extended: { "nvidia.com/gpu": "0.5" } } });
    expect(zodErrorToFieldErrors(fractional.error!)).toEqual([
      { path: expect.stringContaining("nvidia.com/gpu"), rule: "invalid_format:regex", message: "a whole number, e.g. 1" },
    ]);
  });
});
