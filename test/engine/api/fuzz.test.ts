import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contract, ErrorBody } from "../../../sdk/index.js";
import { createPgliteTemplate, type PgliteTemplate } from "../../support/pglite-template.js";
import { startTestEngine, TEST_API_KEY, type TestEngine } from "../../support/test-engine.js";

/**
 * Property: whatever arrives — random or malformed bodies, paths, methods, headers — the API
 * never answers 5xx (501 for promotion routes without an executor aside) and every 4xx has the
 * error shape.
 */
let template: PgliteTemplate;
let api: TestEngine;
const known = { model_id: "", deployment_id: "", env_name: "staging", promotion_settings_id: "" };

beforeAll(async () => {
  template = await createPgliteTemplate();
  api = await startTestEngine({ dataDir: await template.freshDataDir() });
  known.model_id = (await api.call("POST", "/v1/models", { name: "fuzz" })).body.id;
  known.deployment_id = (await api.call("POST", `/v1/models/${known.model_id}/deployments`, { command: ["x"] })).body.id;
  await api.call("POST", `/v1/models/${known.model_id}/environments`, { name: "staging" });
  known.promotion_settings_id = (await api.call("POST", "/v1/promotion_settings", { name: "fuzz" })).body.id;
});
afterAll(async () => {
  await api?.close();
  await template?.cleanup();
});

const routes = Object.values(contract);
const fieldNames = [
  ...new Set(
    routes.flatMap((route) => {
      const shape = (route.body as { shape?: Record<string, unknown> } | undefined)?.shape;
      return shape ? Object.keys(shape) : [];
    }),
  ),
];

const paramValue = (name: string) =>
  fc.oneof(
    fc.constant((known as Record<string, string>)[name] ?? "x"),
    fc.constantFrom("development", "production", "PORT", "A_B", "dep_missing", "", "..", "%", "%zz", "a/b"),
    fc.string({ maxLength: 80 }).map(encodeURIComponent),
    fc.string({ unit: "binary", maxLength: 20 }).map(encodeURIComponent),
  );

const anyMethod = fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE");

/** Mostly a contract route with its own method (so bodies reach validation), sometimes anything. */
const target = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(...routes).chain((route) => {
      const names = [...route.path.matchAll(/\{([a-z_]+)\}/g)].map((match) => match[1]!);
      return fc
        .tuple(fc.oneof({ weight: 4, arbitrary: fc.constant(route.method as string) }, { weight: 1, arbitrary: anyMethod }), ...names.map(paramValue))
        .map(([method, ...values]) => {
          let path = route.path;
          names.forEach((name, index) => (path = path.replace(`{${name}}`, values[index]!)));
          return { method, path };
        });
    }),
  },
  { weight: 1, arbitrary: fc.record({ method: anyMethod, path: fc.webPath().map((path) => `/v1${path}`) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      method: anyMethod,
      path: fc.constantFrom("/v1", "/v1/", "/v1//models", "/v1/models/", "/v1/models?x=1", "/openapi.json", "/healthz"),
    }),
  },
);

const valueOfAnyShape = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.constantFrom(0, 1, 10, 50, 51, 100, 3600, -1, 1.5, "", "x", null, true, [], {}, ["node"], "DEACTIVATE"),
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.dictionary(fc.constantFrom(...fieldNames, "unknown_field"), valueOfAnyShape, { maxKeys: 6 }).map((value) => JSON.stringify(value)),
  fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom("{", "[", "null", '"x"', "{}", '{"__proto__": {"x": 1}}', "\u0000"),
);
const authorization = fc.oneof(
  { weight: 5, arbitrary: fc.constant(`Api-Key ${TEST_API_KEY}`) },
  { weight: 1, arbitrary: fc.constantFrom("", "Api-Key", "Api-Key  ", `api-key ${TEST_API_KEY}`, `Bearer ${TEST_API_KEY}`, "Api-Key \u00e9") },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).filter((value) => /^[\x20-\x7e]*$/.test(value)) },
);
const contentType = fc.constantFrom("application/json", "text/plain", "application/x-www-form-urlencoded", "");

const promotionRoutePattern = /\/(promote|pause_promotion|resume_promotion|approve_promotion|cancel_promotion|force_cancel_promotion|force_roll_forward_promotion|rollback)$/;

describe("API under random input", () => {
  it("never answers 5xx and always uses the error shape for 4xx", async () => {
    await fc.assert(
      fc.asyncProperty(target, body, authorization, contentType, async ({ method: verb, path }, payload, auth, type) => {
        const response = await api.call(verb, path, verb === "GET" || verb === "HEAD" ? undefined : payload, {
          authorization: auth,
          ...(type ? { "content-type": type } : {}),
        });
        const context = `${verb} ${path} ${String(payload).slice(0, 200)} → ${response.status} ${response.text.slice(0, 300)}`;
        if (response.status === 501) {
          expect(promotionRoutePattern.test(path.split("?")[0]!), context).toBe(true);
        } else {
          expect(response.status, context).toBeLessThan(500);
        }
        if (response.status >= 400 && verb !== "HEAD") {
          expect(ErrorBody.safeParse(response.body).success, context).toBe(true);
        }
      }),
      { numRuns: 400 },
    );
  });
});
