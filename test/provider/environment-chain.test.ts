/**
 * Environment.check asks the engine's chain (GET /v1/models/{id}/chain) when the model, the
 * deployment and the engine are known: a deployment that has not passed the required environment
 * fails preview with the engine's message; an engine that does not answer costs no more than one
 * quick attempt and leaves the rule to the engine's 409 at `up`.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configure } from "../../provider/impl/connection.js";
import { environmentImplementation } from "../../provider/impl/environment.js";

const BLOCKED = "deployment v2 (dep_2) has not passed staging, which production requires: it was never promoted to staging; promote it through staging first";
let server: Server;
let endpoint: string;
let asked = 0;

beforeAll(async () => {
  server = createServer((request, response) => {
    asked++;
    if (request.url !== "/v1/models/mdl_1/chain") {
      response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "NOT_FOUND", message: "no", details: {} } }));
      return;
    }
    const stage = (environment: string, requires: string | null, canPromote: boolean) => ({
      environment,
      requires,
      serving: false,
      promotion_status: null,
      passed_at: null,
      can_promote: canPromote,
      blocked_by: canPromote ? null : BLOCKED,
      soaking_since: null,
      soak_ready_at: null,
    });
    response.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        model_id: "mdl_1",
        environments: [
          { name: "staging", requires: null, min_soak_seconds: 0 },
          { name: "production", requires: "staging", min_soak_seconds: 60 },
        ],
        deployments: [{ deployment_id: "dep_2", deployment_name: "v2", stages: [stage("staging", null, true), stage("production", "staging", false)] }],
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  endpoint = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
});
afterAll(async () => {
  configure({});
  await new Promise((resolve) => server.close(resolve));
});

const production = { modelId: "mdl_1", name: "production", workspaceEnvironment: "production", deploymentId: "dep_2" };

describe("Environment.check and the promotion chain", () => {
  it("a deployment that has not passed the required environment fails check with the engine's message", async () => {
    configure({ endpoint, apiKey: "k" });
    const result = await environmentImplementation.check({}, production);
    expect(result.failures).toEqual([{ property: "deploymentId", reason: `deploymentId: ${BLOCKED}` }]);
    // promotable there, unchanged, or overridden: nothing to say
    expect((await environmentImplementation.check({}, { ...production, name: "staging", workspaceEnvironment: "staging" })).failures).toEqual([]);
    expect((await environmentImplementation.check({ deploymentId: "dep_2" }, production)).failures).toEqual([]);
    expect((await environmentImplementation.check({}, { ...production, skipChain: true })).failures).toEqual([]);
    // a model the engine does not know (created by this program): the engine decides at up
    expect((await environmentImplementation.check({}, { ...production, modelId: "mdl_new" })).failures).toEqual([]);
  });

  it("an unreachable engine costs one quick attempt, no failure", async () => {
    configure({ endpoint: "http://127.0.0.1:9", apiKey: "k" });
    const started = Date.now();
    expect((await environmentImplementation.check({}, production)).failures).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("the name of a workspace environment's environment is the workspace environment's", async () => {
    configure({ endpoint, apiKey: "k" });
    const before = asked;
    const result = await environmentImplementation.check({}, { ...production, name: "prod" });
    expect(result.failures).toEqual([{ property: "name", reason: expect.stringMatching(/^name: the model's environment of workspace environment production is named production/) }]);
    // bad input is reported before the engine is asked
    expect(asked).toBe(before);
  });
});
