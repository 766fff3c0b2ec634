/**
 * `modelplane environments show <env>` and `environments workspace`: a workspace environment
 * across models, as a user runs the compiled CLI; `promote --skip-chain`. An engine of its own: a
 * workspace environment reaches every model.
 */
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { waitForPromotion } from "../../testing/index.js";
import { cliTestBed } from "./cli-test-bed.js";

const v1Command = ["node", `${resolve(import.meta.dirname, "../../examples/models")}/sentiment-v1/server.js`];

const bed = cliTestBed();
const { modelplane } = bed;

describe("workspace environments in the CLI", () => {
  it("show lists what serves the environment in every model; promote --skip-chain overrides the chain", async () => {
    const { client } = bed.engine;
    await client.createWorkspaceEnvironment({ name: "staging", description: "pre-production", variables: { LOG_LEVEL: "info" }, secrets: { TOKEN: "never-printed" } });
    await client.createWorkspaceEnvironment({ name: "production", requires: "staging", min_soak_seconds: 600 });
    const served = await client.call("createModel", { body: { name: "served" } });
    await client.call("createModel", { body: { name: "idle" } });
    const deployment = await client.call("createDeployment", { params: { model_id: served.id }, body: { command: v1Command } });
    const promotion = await client.call("promote", { params: { model_id: served.id, env_name: "staging" }, body: { deployment_id: deployment.id } });
    await waitForPromotion(client, { modelId: served.id, environment: "staging", promotionId: promotion.id }, { deadline: Date.now() + 60_000 });

    const show = await modelplane("environments", "show", "staging");
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/description:\s+pre-production/);
    expect(show.stdout).toMatch(/variables:\s+LOG_LEVEL=info, TOKEN \(secret\)/);
    expect(show.stdout).toMatch(/models:\s+2\n/);
    expect(show.stdout).toMatch(/\nMODEL\s+CURRENT\s+STATUS\s+PROMOTION\s+CANDIDATE\s+SETTINGS/);
    expect(show.stdout).toMatch(new RegExp(`\\nserved\\s+${deployment.name}\\s+ACTIVE\\s+SUCCEEDED\\s+-\\s+workspace`));
    expect(show.stdout).toMatch(/\nidle\s+-\s+-\s+-\s+-\s+workspace/);
    expect(show.stdout).not.toContain("never-printed");
    const json = JSON.parse((await modelplane("environments", "show", "staging", "--json")).stdout) as { deployments: unknown[] };
    expect(json.deployments).toHaveLength(2);

    const workspace = await modelplane("environments", "workspace");
    expect(workspace.stdout).toMatch(/^NAME\s+REQUIRES\s+SOAK\s+VARIABLES\s+MODELS\n/);
    expect(workspace.stdout).toMatch(/\nstaging\s+-\s+-\s+2\s+2\n/);
    expect(workspace.stdout).toMatch(/\nproduction\s+staging\s+600s\s+0\s+2/);
    const listed = await modelplane("deployments", "list", "served", "--environment", "staging", "--json");
    expect((JSON.parse(listed.stdout) as { deployments: { id: string }[] }).deployments.map((entry) => entry.id)).toEqual([deployment.id]);
    const none = await modelplane("deployments", "list", "served", "--environment", "production", "--json");
    expect((JSON.parse(none.stdout) as { deployments: unknown[] }).deployments).toEqual([]);
    const models = await modelplane("models", "list", "--environment", "staging", "--json");
    expect((JSON.parse(models.stdout) as { models: unknown[] }).models).toHaveLength(2);
    const missing = await modelplane("environments", "show", "nowhere");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: workspace environment nowhere not found/);

    // production requires 600 s in staging: refused with the chain message, then the override
    const refused = await modelplane("promote", "served", "production", deployment.id);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/has not passed staging, which production requires: it has soaked in staging for \d+ s of the 600 s required/);
    const skipped = await modelplane("promote", "served", "production", deployment.id, "--skip-chain", "--wait");
    expect(skipped.code, skipped.stderr).toBe(0);
    const { audit_logs } = await client.call("listAuditLogs", { params: { model_id: served.id } });
    expect(audit_logs.find((entry) => entry.kind === "promotion.chain_skipped")).toMatchObject({ details: { required_environment: "staging", reason: "soaking" } });
  });
});
