// A user's Automation API program, run by the consumer test from this project's directory with an
// inline program (so Pulumi works in a temporary directory of its own): create a model with two
// deployments, promotion settings and two environments; promote production; a promotion that
// fails; revert the program to what serves; destroy. One JSON line per phase on stdout.
import { resolve } from "node:path";
import { LocalWorkspace, type OutputMap } from "@pulumi/pulumi/automation/index.js";
import { Deployment, Environment, Model, PromotionSettings } from "modelplane";

type Version = "v1" | "v2" | "v3";
const server = resolve("model/server.js");
const endpoint = process.env.ENGINE_URL ?? "http://127.0.0.1:7070";
const apiKey = process.env.ENGINE_API_KEY ?? "";

let production: Version = "v1";
let withV3 = false;

const program = async () => {
  const model = new Model("sentiment", { name: "consumer-sentiment" });
  const deployment = (name: Version, env: Record<string, string> = {}) =>
    new Deployment(name, { modelId: model.id, name, command: ["node", server], env: { VERSION: name, ...env } });
  const deployments: Partial<Record<Version, Deployment>> = { v1: deployment("v1"), v2: deployment("v2") };
  // v3 starts (the deployment is created) but exits at once in production: its promotion fails.
  if (withV3) deployments.v3 = deployment("v3", { CRASH_IN: "production" });
  const rolling = new PromotionSettings("rolling", {
    name: "consumer-rolling",
    rollingDeploy: true,
    rollingDeployConfig: { maxSurgePercent: 50, maxUnavailablePercent: 0, stabilizationTimeSeconds: 0 },
  });
  const staging = new Environment("staging", { modelId: model.id, name: "staging", deploymentId: deployments.v2!.id, variables: { TIER: "staging" } });
  const prod = new Environment("production", {
    modelId: model.id,
    name: "production",
    deploymentId: deployments[production]!.id,
    promotionSettings: rolling,
    autoscalingSettings: { minReplica: 2, maxReplica: 2 },
    promotionTimeoutSeconds: 120,
  });
  return {
    modelId: model.id,
    v1: deployments.v1!.id,
    v2: deployments.v2!.id,
    production: prod.currentDeploymentId,
    productionEndpoint: prod.endpoint,
    stagingEndpoint: staging.endpoint,
    lastPromotion: prod.lastPromotion,
  };
};

const report = (phase: string, data: Record<string, unknown>) => console.log(JSON.stringify({ phase, ...data }));
const values = (outputs: OutputMap) => Object.fromEntries(Object.entries(outputs).map(([key, output]) => [key, output.value]));
const pulumiOutput = (text: string) => process.stderr.write(text);

const stack = await LocalWorkspace.createOrSelectStack({ stackName: "consumer", projectName: "consumer", program });
report("workspace", { workDir: stack.workspace.workDir, cwd: process.cwd() });
await stack.setAllConfig({
  "modelplane:endpoint": { value: endpoint },
  "modelplane:apiKey": { value: apiKey, secret: true },
});
let exitCode = 0;
try {
  const created = await stack.up({ onOutput: pulumiOutput });
  report("create", { result: created.summary.result, changes: created.summary.resourceChanges, outputs: values(created.outputs) });

  production = "v2";
  const promoted = await stack.up({ onOutput: pulumiOutput });
  const outputs = values(promoted.outputs);
  const answer = await fetch(String(outputs.productionEndpoint), {
    method: "POST",
    headers: { authorization: `Api-Key ${apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ text: "good" }),
  });
  report("promote", { result: promoted.summary.result, changes: promoted.summary.resourceChanges, outputs, predict: { status: answer.status, body: await answer.json() } });

  withV3 = true;
  production = "v3";
  const failed = await stack.up({ onOutput: pulumiOutput }).then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error.message : String(error)),
  );
  const environment = await fetch(`${endpoint}/v1/models/${String(outputs.modelId)}/environments/production`, { headers: { authorization: `Api-Key ${apiKey}` } });
  const serving = ((await environment.json()) as { current_deployment?: { id: string } | null }).current_deployment?.id;
  report("fail", { failed: failed !== undefined, errors: (failed ?? "").split("\n").filter((line) => /error:/.test(line)).map((line) => line.trim()), serving });

  production = "v2"; // what serves: the reviewer's revert of the failed change
  const preview = await stack.preview({ diff: true });
  report("revert-preview", { changes: preview.changeSummary, stdout: preview.stdout });
  const reverted = await stack.up({ onOutput: pulumiOutput });
  report("revert", { result: reverted.summary.result, changes: reverted.summary.resourceChanges, outputs: values(reverted.outputs) });
} catch (error) {
  report("error", { message: error instanceof Error ? error.message : String(error) });
  exitCode = 1;
} finally {
  const destroyed = await stack.destroy({ onOutput: pulumiOutput });
  report("destroy", { result: destroyed.summary.result, changes: destroyed.summary.resourceChanges });
  await stack.workspace.removeStack("consumer");
}
process.exit(exitCode);
