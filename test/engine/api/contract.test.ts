import { describe, expect, it } from "vitest";
import {
  contract,
  CreateDeploymentBody,
  CreatePromotionSettingsBody,
  fillPath,
  generateOpenApiDocument,
  PatchEnvironmentBody,
  PromotionSettings,
  PutVariableBody,
  zodErrorToDetails,
} from "../../../sdk/index.js";

function fieldsOf(result: { success: boolean; error?: unknown }) {
  if (result.success) throw new Error("expected a validation failure");
  return zodErrorToDetails(result.error as never).fields;
}

describe("sdk schemas", () => {
  it("fills deployment defaults", () => {
    expect(CreateDeploymentBody.parse({ command: ["node", "server.js"] })).toEqual({
      command: ["node", "server.js"],
      readiness_path: "/health",
      predict_path: "/predict",
      env: {},
    });
  });

  it("reports every failing deployment field with its path and rule", () => {
    const fields = fieldsOf(
      CreateDeploymentBody.safeParse({
        name: "development",
        command: [],
        surprise: 1,
        env: { PORT: "1" },
        autoscaling_settings: { min_replica: 3, max_replica: 2 },
      }),
    );
    const byPath = Object.fromEntries(fields.map((field) => [field.path, field.rule]));
    expect(byPath).toMatchObject({
      name: "reserved_name",
      surprise: "unrecognized_key",
      "autoscaling_settings.max_replica": "max_replica_at_least_min_replica",
      command: "command_or_image_required",
    });
    expect(fields.some((field) => field.path.startsWith("env"))).toBe(true);
  });

  it("accepts an image instead of a command", () => {
    expect(CreateDeploymentBody.safeParse({ image: "ghcr.io/x/y:1" }).success).toBe(true);
  });

  it("rejects both provisioning modes at once, naming both fields", () => {
    const fields = fieldsOf(
      PatchEnvironmentBody.safeParse({
        promotion_settings: { rolling_deploy_config: { max_surge_percent: 10, max_unavailable_percent: 10 } },
      }),
    );
    expect(fields).toHaveLength(1);
    expect(fields[0]?.path).toBe("promotion_settings.rolling_deploy_config.max_surge_percent");
    expect(fields[0]?.message).toContain("max_unavailable_percent");
    const zero = PromotionSettings.safeParse({
      rolling_deploy: true,
      rolling_deploy_config: {
        max_surge_percent: 0,
        max_unavailable_percent: 0,
        stabilization_time_seconds: 0,
        replica_overhead_percent: 0,
      },
      promotion_cleanup_strategy: "KEEP",
      ramp_up_while_promoting: false,
      ramp_up_duration_seconds: 600,
      redeploy_on_promotion: false,
    });
    expect(fieldsOf(zero)[0]?.message).toMatch(/max_surge_percent.*max_unavailable_percent/);
  });

  it("checks ranges of promotion settings", () => {
    const fields = fieldsOf(
      CreatePromotionSettingsBody.safeParse({
        name: "fast",
        ramp_up_duration_seconds: 5,
        rolling_deploy_config: { max_surge_percent: 51 },
        promotion_cleanup_strategy: "DELETE",
      }),
    );
    expect(fields.map((field) => field.path).sort()).toEqual([
      "promotion_cleanup_strategy",
      "ramp_up_duration_seconds",
      "rolling_deploy_config.max_surge_percent",
    ]);
  });

  it("leaves secret-ness unset when the body omits it: the engine keeps an existing secret secret", () => {
    expect(PutVariableBody.parse({ value: "x" })).toEqual({ value: "x" });
    expect(PutVariableBody.parse({ value: "x", secret: false })).toEqual({ value: "x", secret: false });
  });
});

describe("contract and OpenAPI", () => {
  it("has unique method+path pairs", () => {
    const keys = Object.values(contract).map((route) => `${route.method} ${route.path}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("documents every route", () => {
    const document = generateOpenApiDocument() as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(document.openapi).toBe("3.1.0");
    for (const [name, route] of Object.entries(contract)) {
      const operation = document.paths[route.path]?.[route.method.toLowerCase()] as { operationId: string } | undefined;
      expect(operation?.operationId, name).toBe(name);
    }
  });

  it("documents the event stream, which is outside the route table", () => {
    const document = generateOpenApiDocument() as { paths: Record<string, Record<string, { operationId: string; responses: Record<string, { content?: Record<string, unknown> }> }>> };
    const events = document.paths["/v1/events"]?.get;
    expect(events?.operationId).toBe("streamEvents");
    expect(Object.keys(events?.responses["200"]?.content ?? {})).toEqual(["text/event-stream"]);
  });

  it("body schemas reject non-objects without throwing (cross-field checks only run on objects)", () => {
    for (const [name, route] of Object.entries(contract)) {
      if (!route.body) continue;
      for (const value of [undefined, null, 1, "x", [], true]) {
        expect(() => route.body.safeParse(value), name).not.toThrow();
        expect(route.body.safeParse(value).success, `${name} ${JSON.stringify(value)}`).toBe(false);
      }
    }
  });

  it("fills path templates with encoded values", () => {
    expect(fillPath(contract.getEnvironment.path, { model_id: "m 1", env_name: "staging" })).toBe(
      "/v1/models/m%201/environments/staging",
    );
  });
});
