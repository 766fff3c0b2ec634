/**
 * Issue 17 in the CLI, as a user runs the compiled `modelplane` against a real engine:
 * `environments get` shows an environment's shadow and header routing; `predict --candidate` (and
 * `--header` for a configured cookie) reaches the candidate of a promotion paused at 0 % and says
 * so, while a plain predict stays on the current deployment.
 */
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { waitFor, waitForPromotion } from "../../testing/index.js";
import { cliTestBed } from "./cli-test-bed.js";

const models = resolve(import.meta.dirname, "../../examples/models");
const command = (version: "v1" | "v2") => ["node", `${models}/sentiment-${version}/server.js`];

const bed = cliTestBed();
const { modelplane } = bed;
const DATA = ["--data", JSON.stringify({ text: "a great and wonderful day" })];

describe("shadow and header routing in the CLI", () => {
  it("environments get shows both; predict --candidate and --header reach the paused candidate and say so", async () => {
    const { client } = bed.engine;
    const model = await client.call("createModel", { body: { name: "cli-header-routing" } });
    const params = { model_id: model.id, env_name: "production" };
    const v1 = await client.call("createDeployment", { params: { model_id: model.id }, body: { command: command("v1") } });
    const first = await client.call("promote", { params, body: { deployment_id: v1.id } });
    await waitForPromotion(client, { modelId: model.id, environment: "production", promotionId: first.id }, { deadline: Date.now() + 60_000 });

    const before = await modelplane("environments", "get", "cli-header-routing", "production");
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toMatch(/\nshadow:\s+-\n/);
    expect(before.stdout).toMatch(/\nheader routing:\s+off\n/);
    // header routing off: --candidate is answered by the usual traffic, and the CLI says why
    const off = await modelplane("predict", "cli-header-routing", "--candidate", ...DATA);
    expect(off.code, off.stderr).toBe(0);
    expect(off.stderr).toBe(`deployment: ${v1.name} (${v1.id}) (not the candidate: header routing is off in production; set its header_routing)\n`);

    const v2 = await client.call("createDeployment", { params: { model_id: model.id }, body: { command: command("v2") } });
    await client.call("patchEnvironment", {
      params,
      body: {
        promotion_settings: { confirm_promotion: true },
        header_routing: { cookie: "mp-target", allowed_deployments: [v2.id] },
        shadow: {
          deployment: v2.id,
          percent: 50,
          match: { header: { name: "x-team", value: "ml" } },
          comparison: { mode: "json", numeric_tolerance: 0.05, fields: ["label", "score"] },
          keep_bodies: true,
        },
      },
    });
    const got = await modelplane("environments", "get", "cli-header-routing", "production");
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toMatch(new RegExp(`\\nshadow:\\s+${v2.name} \\(${v2.id}\\), 50% of requests\\n`));
    expect(got.stdout).toMatch(/\nshadow match:\s+header x-team: ml\n/);
    expect(got.stdout).toMatch(/\nshadow comparison:\s+status and json, numeric tolerance 0.05, fields label, score\n/);
    expect(got.stdout).toMatch(/\nshadow limits:\s+bodies up to 65536 bytes, 8 at once, 64 queued, timeout 10000 ms; keeps bodies\n/);
    expect(got.stdout).toMatch(new RegExp(`\\nheader routing:\\s+x-modelplane-target: candidate; cookie mp-target=candidate; also as the value: ${v2.id}\\n`));
    const json = JSON.parse((await modelplane("environments", "get", "cli-header-routing", "production", "--json")).stdout) as { shadow: { percent: number } };
    expect(json.shadow.percent).toBe(50);

    // a promotion to v2 waiting at its manual gate, 0 % of the traffic
    const started = await client.call("promote", { params, body: { deployment_id: v2.id } });
    await waitFor(
      async () => (await client.call("getPromotion", { params: { ...params, promotion_id: started.id } })).status === "PAUSED",
      { timeoutMs: 90_000, message: "the promotion to wait at its gate" },
    );
    const candidate = await modelplane("predict", "cli-header-routing", "--env", "production", "--candidate", ...DATA);
    expect(candidate.code, candidate.stderr).toBe(0);
    expect(candidate.stderr).toBe(`deployment: ${v2.name} (${v2.id}) (the candidate)\n`);
    const cookie = await modelplane("predict", "cli-header-routing", "--header", "cookie: theme=dark; mp-target=candidate", ...DATA);
    expect(cookie.code, cookie.stderr).toBe(0);
    expect(cookie.stderr).toBe(`deployment: ${v2.name} (${v2.id})\n`);
    const plain = await modelplane("predict", "cli-header-routing", "--header", "x-team: ml", ...DATA);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toBe(`deployment: ${v1.name} (${v1.id})\n`);
    expect(JSON.parse(plain.stdout)).toMatchObject({ label: "positive" });
    // a value the environment does not route: 403, with the engine's reason
    const refused = await modelplane("predict", "cli-header-routing", "--header", "x-modelplane-target:dep_000000000000", ...DATA);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/predict answered 403: environment "production" does not route "dep_000000000000" by header/);
  }, 240_000);
});
