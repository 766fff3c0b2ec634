/**
 * The Pulumi provider through the Automation API, against a real engine with real replicas:
 * a promotion is a resource diff. Runs the compiled provider (dist/), as users do: the dynamic
 * provider host loads the implementation by path.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { describe, expect, it } from "vitest";
import { startLoad, waitFor, waitForPromotion } from "../../testing/index.js";
import { providerTestBed, type Provider } from "../support/provider-test-bed.js";
import { repoRoot, withStack } from "../support/pulumi.js";

const models = resolve(repoRoot, "examples/models");
const SECRET = "s3cret-token-value-7f1c";

interface ProgramOptions {
  modelName: string;
  /** which deployment production points at */
  target: "v1" | "v2" | "v3";
  /** declare the broken v3 deployment */
  withBroken?: boolean;
  /** declare v2 */
  withV2?: boolean;
  surge?: number;
  unavailable?: number;
  replicas?: number;
  /** stabilization between rolling steps (default 1 s) */
  stabilizationSeconds?: number;
  /** custom name of v1 */
  deploymentName?: string;
  /** production points at this deployment id instead (one created outside the stack) */
  productionDeploymentId?: string;
  /** production's promotionTimeoutSeconds (default 120) */
  promotionTimeoutSeconds?: number;
}

function program(options: () => ProgramOptions) {
  return async () => {
    const o = options();
    const model = new bed.mp.Model("model", { name: o.modelName });
    const deployments: Record<string, InstanceType<Provider["Deployment"]>> = {
      v1: new bed.mp.Deployment("v1", { modelId: model.id, command: ["node", `${models}/sentiment-v1/server.js`], ...(o.deploymentName ? { name: o.deploymentName } : {}) }),
    };
    if (o.withV2 || o.target === "v2") {
      deployments.v2 = new bed.mp.Deployment("v2", { modelId: model.id, command: ["node", `${models}/sentiment-v2/server.js`] });
    }
    if (o.withBroken || o.target === "v3") {
      deployments.v3 = new bed.mp.Deployment("v3", { modelId: model.id, command: ["node", `${models}/sentiment-v2/server.js`], env: { MODEL_FAIL_READINESS: "1" } });
    }
    const rolling = new bed.mp.PromotionSettings("rolling", {
      name: `${o.modelName}-rolling`,
      rollingDeploy: true,
      rollingDeployConfig: { maxSurgePercent: o.surge ?? 50, maxUnavailablePercent: o.unavailable ?? 0, stabilizationTimeSeconds: o.stabilizationSeconds ?? 1 },
    });
    const staging = new bed.mp.Environment("staging", { modelId: model.id, name: "staging", deploymentId: deployments.v1!.id });
    const production = new bed.mp.Environment("production", {
      modelId: model.id,
      name: "production",
      deploymentId: o.productionDeploymentId ?? deployments[o.target]!.id,
      promotionSettings: rolling,
      autoscalingSettings: { minReplica: o.replicas ?? 2, maxReplica: o.replicas ?? 2 },
      variables: { GREETING: "hello" },
      secrets: { API_TOKEN: SECRET },
      promotionTimeoutSeconds: o.promotionTimeoutSeconds ?? 120,
    });
    return { modelId: model.id, endpoint: production.endpoint, current: production.currentDeploymentId, v1: deployments.v1!.id, v2: deployments.v2?.id, stagingEndpoint: staging.endpoint };
  };
}

/** Every file under the Pulumi backend (state, history, checkpoints). */
function backendText(dir: string): string {
  let text = "";
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    text += statSync(path).isDirectory() ? backendText(path) : readFileSync(path, "utf8");
  }
  return text;
}

const quiet = { onOutput: () => undefined };

const bed = providerTestBed({ runtime: { startupTimeoutMs: 6_000, crashLoopThreshold: 2, stopGracePeriodMs: 2_000 } });

describe("Pulumi provider", { timeout: 300_000 }, () => {
  it("up creates everything, a second up changes nothing; changing production's deployment is one update that performs a rolling deploy", async () => {
    let options: ProgramOptions = { modelName: "sentiment-a", target: "v1" };
    await withStack("provider", program(() => options), async (stack: Stack, env) => {
      const first = await stack.up(quiet);
      expect(first.summary.result).toBe("succeeded");
      // stack + model + v1 + settings + staging + production
      expect(first.summary.resourceChanges?.create).toBe(6);
      expect(first.outputs.current?.value).toBe(first.outputs.v1?.value);
      const second = await stack.up({ ...quiet, expectNoChanges: true });
      expect(second.summary.resourceChanges?.same).toBe(6);

      // the secret variable reached the replicas but is in no state file in plaintext, nor the API key
      const predict = `${first.outputs.endpoint?.value}`;
      expect(predict).toMatch(/\/models\/.+\/environments\/production\/predict$|\/production\/predict$/);
      const state = backendText(env.envVars.PULUMI_BACKEND_URL!.replace("file://", ""));
      expect(state).not.toContain(SECRET);
      expect(state).not.toContain(bed.engine.apiKey);

      options = { ...options, target: "v2" };
      const preview = await stack.preview(quiet);
      expect(preview.changeSummary.create).toBe(1); // v2
      expect(preview.changeSummary.update).toBe(1); // production: the promotion

      const load = startLoad({ apiKey: bed.engine.apiKey, url: predict, concurrency: 6 });
      let output = "";
      const up = await stack.up({ onOutput: (text) => (output += text) });
      const report = await load.stop();
      expect(up.summary.result).toBe("succeeded");
      expect(up.outputs.current?.value).toBe(up.outputs.v2?.value);
      // progress by name (id in brackets), on the environment's own row, each line once (not
      // repeated under Diagnostics)
      const v2Label = `deployment-\\d+ \\(${String(up.outputs.v2?.value)}\\)`;
      const rampingUp = `production: RAMPING_UP step 1/2, 50 % to ${v2Label} · rolling · `;
      expect(output).toMatch(new RegExp(`modelplane:Environment +production +updating[^\\n]*${rampingUp}`));
      // (the row's last line, "updated", shows its last status again)
      const progress = output.split("\n").flatMap((line) => /production updating .*(production: [A-Z_]+ step .*)$/.exec(line)?.[1] ?? []);
      expect(progress.length).toBeGreaterThanOrEqual(3);
      expect(new Set(progress).size, output).toBe(progress.length);
      expect(output.slice(output.indexOf("Diagnostics:"))).not.toMatch(/production: [A-Z_]+ step/);
      expect(output).toMatch(new RegExp(`production: SUCCEEDED step 2/2, 100 % to ${v2Label}`));
      expect(report.failures).toEqual([]);
      expect(report.byDeployment[String(up.outputs.v2?.value)]).toBeGreaterThan(0);
      const environment = await bed.engine.client.call("getEnvironment", { params: { model_id: String(up.outputs.modelId?.value), env_name: "production" } });
      expect(environment.current_deployment?.id).toBe(up.outputs.v2?.value);
      expect(environment.variables).toEqual(expect.arrayContaining([{ name: "API_TOKEN", secret: true }, { name: "GREETING", secret: false, value: "hello" }]));

      // destroy removes what may be removed; what only the model's deletion removes is said so,
      // and then said removed with it
      let destroyOutput = "";
      await stack.destroy({ onOutput: (text) => (destroyOutput += text) });
      expect(destroyOutput).toMatch(/production environment of model mdl_\w+ detached from this stack: production is deleted only with its model/);
      const kept = new RegExp(`deployment ${v2Label} kept on the engine: it serves production; it is deleted with its model, or once another deployment serves production`);
      const deleted = new RegExp(`model sentiment-a \\(${String(up.outputs.modelId?.value)}\\) deleted with its deployments [^\\n]*${v2Label}[^\\n]* and its environments`);
      expect(destroyOutput).toMatch(kept);
      expect(destroyOutput).toMatch(deleted);
      expect(destroyOutput.search(kept)).toBeLessThan(destroyOutput.search(deleted));
      expect(destroyOutput).not.toMatch(/promote another deployment/);
      await expect(bed.engine.client.call("getModel", { params: { model_id: String(up.outputs.modelId?.value) } })).rejects.toThrow(/not found/);
    }, bed.connection());
  });

  it("a candidate that fails readiness fails the up with the reason; production keeps serving v1; a fixed program then succeeds", async () => {
    let options: ProgramOptions = { modelName: "sentiment-b", target: "v1" };
    await withStack("provider", program(() => options), async (stack) => {
      const first = await stack.up(quiet);
      options = { ...options, target: "v3" };
      const failed = await stack.up(quiet).catch((error: unknown) => error as Error);
      expect(failed).toBeInstanceOf(Error);
      expect(String((failed as Error).message)).toMatch(/not ready|failed to start/);
      const modelId = String(first.outputs.modelId?.value);
      const environment = await bed.engine.client.call("getEnvironment", { params: { model_id: modelId, env_name: "production" } });
      expect(environment.current_deployment?.id).toBe(first.outputs.v1?.value);

      options = { ...options, target: "v2" };
      const fixed = await stack.up(quiet);
      expect(fixed.summary.result).toBe("succeeded");
      expect(fixed.outputs.current?.value).toBe(fixed.outputs.v2?.value);
    }, bed.connection());
  });

  it("after a failed promotion, the program put back previews clean and ups with no change; the state keeps what serves and the failed promotion; the same after a promotion canceled at promotionTimeoutSeconds", async () => {
    let options: ProgramOptions = { modelName: "sentiment-f", target: "v1", replicas: 1 };
    await withStack("provider", program(() => options), async (stack) => {
      const first = await stack.up(quiet);
      const modelId = String(first.outputs.modelId?.value);
      const v1 = String(first.outputs.v1?.value);
      // a candidate that crashes as soon as it starts, created outside the stack
      const broken = await bed.engine.client.call("createDeployment", {
        params: { model_id: modelId },
        body: { name: "crasher", command: ["node", `${models}/sentiment-v2/server.js`], env: { MODEL_CRASH_AFTER_MS: "1" } },
      });
      options = { ...options, productionDeploymentId: broken.id };
      const failed = await stack.up(quiet).catch((error: unknown) => error as Error);
      expect(failed).toBeInstanceOf(Error);
      // the reason, by names, as the environment's error
      expect(String((failed as Error).message)).toMatch(
        new RegExp(`promotion of crasher \\(${broken.id}\\) to production failed: candidate deployment crasher \\(${broken.id}\\) is failing: .*production is still served by deployment-\\d+ \\(${v1}\\)`, "s"),
      );

      // the reviewer's view of the program put back: nothing to do
      options = { ...options, productionDeploymentId: undefined };
      const preview = await stack.preview({ diff: true });
      expect(preview.changeSummary, preview.stdout).toEqual({ same: 6 });
      const again = await stack.up({ ...quiet, expectNoChanges: true });
      expect(again.summary.resourceChanges).toEqual({ same: 6 });

      const state = (await stack.exportStack()).deployment as { resources: Array<{ urn: string; outputs?: Record<string, unknown>; initErrors?: string[] }> };
      const production = state.resources.find((r) => r.urn.endsWith("modelplane:Environment::production"))!;
      expect(production.initErrors ?? []).toEqual([]);
      expect(production.outputs).toMatchObject({ deploymentId: v1, currentDeploymentId: v1 });
      expect(production.outputs?.lastPromotion).toMatchObject({ deploymentId: broken.id, status: "FAILED", errorMessage: expect.stringMatching(/is failing/) });

      // v2 takes longer than promotionTimeoutSeconds (a 30 s stabilization, 3 s allowed): canceled
      // gracefully, the update fails saying so; put back, the program again previews clean
      options = { ...options, withV2: true, stabilizationSeconds: 30 };
      const settled = await stack.up(quiet);
      const v2 = String(settled.outputs.v2?.value);
      options = { ...options, target: "v2", promotionTimeoutSeconds: 3 };
      const timedOut = await stack.up(quiet).catch((error: unknown) => error as Error);
      expect(String(timedOut)).toMatch(new RegExp(`promotion of deployment-\\d+ \\(${v2}\\) to production did not finish within promotionTimeoutSeconds=3; it was canceled gracefully \\(final status CANCELED`));
      options = { ...options, target: "v1" };
      const back = await stack.preview({ diff: true });
      expect(back.changeSummary, back.stdout).toEqual({ same: 7 });
      const canceled = ((await stack.exportStack()).deployment as typeof state).resources.find((r) => r.urn.endsWith("modelplane:Environment::production"))!;
      expect(canceled.outputs).toMatchObject({ deploymentId: v1, lastPromotion: { deploymentId: v2, status: "CANCELED" } });
    }, bed.connection());
  });

  it("bad input stops preview with the field and the rule, before anything is called", async () => {
    await withStack("provider", program(() => ({ modelName: "sentiment-c", target: "v1", surge: 25, unavailable: 25 })), async (stack) => {
      const error = await stack.preview(quiet).catch((e: unknown) => e as Error);
      expect(String(error)).toMatch(/rollingDeployConfig\.maxSurgePercent: exactly one of max_surge_percent and max_unavailable_percent/);
      const models = await bed.engine.client.call("listModels", {});
      expect(models.models.map((m) => m.name)).not.toContain("sentiment-c");
    }, bed.connection());
    await withStack("provider", program(() => ({ modelName: "sentiment-c", target: "v1", replicas: -1 })), async (stack) => {
      const error = String(await stack.preview(quiet).catch((e: unknown) => e));
      expect(error).toMatch(/autoscalingSettings\.minReplica: Too small: expected number to be >=0/);
    }, bed.connection());
    await withStack("provider", program(() => ({ modelName: "sentiment-c", target: "v1", deploymentName: "my deployment" })), async (stack) => {
      const error = String(await stack.preview(quiet).catch((e: unknown) => e));
      expect(error).toMatch(/name: lowercase letters, digits and '-' only/);
    }, bed.connection());
  });

  it("refresh shows a manual promotion as drift; the next up puts the program's deployment back", async () => {
    const options: ProgramOptions = { modelName: "sentiment-d", target: "v1", withV2: true };
    await withStack("provider", program(() => options), async (stack) => {
      const first = await stack.up(quiet);
      const modelId = String(first.outputs.modelId?.value);
      const params = { model_id: modelId, env_name: "production" };
      const manual = await bed.engine.client.call("promote", { params, body: { deployment_id: String(first.outputs.v2?.value) } });
      await waitForPromotion(bed.engine.client, { modelId, environment: "production", promotionId: manual.id });
      let refreshOutput = "";
      const refresh = await stack.refresh({ onOutput: (text) => (refreshOutput += text) });
      // the environment's drift (deployments' observed status may also have moved)
      expect(refresh.summary.resourceChanges?.update).toBeGreaterThanOrEqual(1);
      expect(refreshOutput).toMatch(/~ +pulumi-nodejs:dynamic\/modelplane:Environment production/);
      // the state now records what the engine serves (stack outputs only change on the next up)
      const state = (await stack.exportStack()).deployment as { resources: Array<{ urn: string; outputs?: Record<string, unknown> }> };
      const production = state.resources.find((r) => r.urn.endsWith("modelplane:Environment::production"));
      expect(production?.outputs?.currentDeploymentId).toBe(first.outputs.v2?.value);
      const preview = await stack.preview({ diff: true });
      if (preview.changeSummary.update !== 1) console.log(preview.stdout);
      expect(preview.changeSummary.update).toBe(1);
      const back = await stack.up(quiet);
      expect(back.outputs.current?.value).toBe(first.outputs.v1?.value);
    }, bed.connection());
  });

  it("two stacks promoting the same environment at once: the second fails with a clear conflict", async () => {
    // Stack A owns the model and moves production to v2 slowly (stabilization 20 s per step: stack B's `pulumi up` took over 16 s to reach the engine under load 28).
    let options: ProgramOptions = { modelName: "sentiment-e", target: "v1", withV2: true, stabilizationSeconds: 20 };
    await withStack("provider", program(() => options), async (stackA) => {
      const first = await stackA.up(quiet);
      const modelId = String(first.outputs.modelId?.value);
      const v1 = String(first.outputs.v1?.value);
      options = { ...options, target: "v2" };
      const upA = stackA.up(quiet);
      await waitFor(async () => (await bed.engine.client.call("getEnvironment", { params: { model_id: modelId, env_name: "production" } })).in_progress_promotion?.status.match(/RELEASING|RAMPING_UP/) != null, { timeoutMs: 60_000, message: "stack A's promotion to start" });
      // Stack B, another team's program, says production should serve v1.
      const programB = async () => {
        const production = new bed.mp.Environment("production", { modelId, name: "production", deploymentId: v1 });
        return { current: production.currentDeploymentId };
      };
      await withStack("provider-b", programB, async (stackB) => {
        const error = await stackB.up(quiet).catch((e: unknown) => e as Error);
        expect(String(error)).toMatch(/environment production already has a promotion in progress to deployment-\d+ \(dep_\w+\): (RELEASING|RAMPING_UP)/);
        expect(String(error)).toMatch(/cancel it \(modelplane cancel/);
      }, bed.connection());
      const resultA = await upA;
      expect(resultA.summary.result).toBe("succeeded");
      expect(resultA.outputs.current?.value).toBe(resultA.outputs.v2?.value);
    }, bed.connection());
  });
});
