/**
 * examples/automation/rollout.ts against a real engine, real replicas and the real Pulumi CLI:
 * a healthy candidate goes staging → evaluation → production; a candidate that passes staging but
 * starts failing under production's traffic is canceled mid-rollout and production serves the
 * stable deployment again, with a non-zero exit code.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RolloutResult } from "../../examples/automation/rollout.js";
import { startTestEngine, type TestEngine } from "../../testing/index.js";
import { pulumiTestEnv, repoRoot } from "../support/pulumi.js";

const models = resolve(repoRoot, "examples/models");
const v1Command = JSON.stringify(["node", `${models}/sentiment-v1/server.js`]);
const v2Command = JSON.stringify(["node", `${models}/sentiment-v2/server.js`]);
const rolloutScript = resolve(repoRoot, "examples/automation/dist/rollout.js");
let engine: TestEngine;

async function predictVersion(url: string): Promise<string> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Api-Key ${engine.apiKey}` },
    body: JSON.stringify({ text: "a good day" }),
  });
  const body = (await response.json()) as { version?: string };
  return `${response.status} ${body.version}`;
}

interface RolloutRun {
  exitCode: number;
  /** progress lines and the summary (stdout) */
  output: string;
  /** Pulumi's output (stderr), for failure messages */
  pulumiOutput: string;
  result: RolloutResult | undefined;
}

/**
 * Runs the compiled example as a CI job would: `node rollout.js …` with the engine and Pulumi in
 * its environment, so the argument parsing, the exit code and the `modelplane` self-import of the
 * built output are what is tested. (An in-process import of rollout.ts also used to hang: vitest
 * transformed the provider classes and Pulumi could not serialize their closures; vitest.config.ts
 * now loads dist/ natively.)
 */
async function rollout(name: string, args: string[]): Promise<RolloutRun> {
  const env = await pulumiTestEnv();
  const workDir = mkdtempSync(join(env.workRoot, `${name}-`));
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [rolloutScript, "--json", "--model", name, "--stack", name, "--work-dir", workDir, "--stable-command", v1Command, "--candidate-command", v2Command, ...args],
      { env: { ...process.env, ...env.envVars, MODELPLANE_ENDPOINT: engine.url, MODELPLANE_API_KEY: engine.apiKey }, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 },
      (error, stdout, stderr) => {
        const lastLine = stdout.trim().split("\n").at(-1) ?? "";
        const exitCode = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        const result = lastLine.startsWith("{") ? (JSON.parse(lastLine) as RolloutResult) : undefined;
        resolvePromise({ exitCode, output: stdout, pulumiOutput: stderr, result });
      },
    );
  });
}

beforeAll(async () => {
  if (!existsSync(resolve(repoRoot, "dist/provider/index.js"))) throw new Error("dist/ is missing: run `npx tsc -p tsconfig.json` first");
  // the example as a user builds it; `modelplane` resolves to dist/ through package.json exports
  execFileSync(process.execPath, [resolve(repoRoot, "node_modules/typescript/bin/tsc"), "-p", resolve(repoRoot, "examples/automation/tsconfig.json")], { stdio: "inherit" });
  engine = await startTestEngine({ runtime: { startupTimeoutMs: 5_000, crashLoopThreshold: 2, stopGracePeriodMs: 2_000 } });
});
// The engine stops every replica; the temporary Pulumi backend and work dirs go with the test env.
afterAll(async () => {
  await engine?.close();
  (await pulumiTestEnv()).cleanup();
});

describe("automation rollout example", { timeout: 300_000 }, () => {
  it("a healthy candidate passes the staging evaluation and is promoted to production with no failed request; exit code 0", async () => {
    const run = await rollout("rollout-pass", ["--stabilization-seconds", "1", "--bake-seconds", "2", "--max-error-rate", "0.1", "--window-seconds", "3"]);
    const why = `${run.output}\n${run.pulumiOutput}`;
    expect(run.exitCode, why).toBe(0);
    const result = run.result!;
    expect(result.outcome).toBe("promoted");
    expect(result.evaluation).toMatchObject({ total: 50, correct: 50, serverErrors: 0, passed: true });
    expect(result.production?.failed).toBe(0);
    expect(result.production?.sent).toBeGreaterThan(0);
    expect(result.productionDeploymentId).toBe(result.candidateDeploymentId);
    expect(result.candidateDeploymentId).not.toBe(result.stableDeploymentId);
    expect(await predictVersion(`${engine.url}/models/${result.modelId}/production/predict`)).toBe("200 v2");
    expect(run.output).toMatch(/staging evaluation: accuracy 100\.0% \(50\/50\)/);
    expect(run.output).toMatch(/ROLLOUT OK: .* serves staging and production/);
    expect(run.pulumiOutput).toMatch(/production: SUCCEEDED step 2\/2, 100 % to deployment-\d+ \(dep_\w+\)/);
  });

  it("a candidate below the accuracy threshold stops at staging: production is not touched, exit code 1", async () => {
    // v1's code as the candidate: a different deployment, but 40/50 on the negation sentences' set
    const run = await rollout("rollout-gate", ["--candidate-command", v1Command, "--candidate-env", "BUILD=rebuilt"]);
    expect(run.exitCode, `${run.output}\n${run.pulumiOutput}`).toBe(1);
    expect(run.result?.outcome).toBe("rejected-in-staging");
    expect(run.result?.evaluation).toMatchObject({ correct: 40, total: 50, serverErrors: 0, passed: false });
    expect(run.result?.production).toBeUndefined(); // no production update, no watch
    expect(run.result?.productionDeploymentId).toBe(run.result?.stableDeploymentId);
    expect(run.output).toMatch(/ROLLOUT FAILED \(rejected-in-staging\): evaluation failed: accuracy 80\.0% \(40\/50\) is below the threshold 90\.0%; production was not touched/);
    const { promotions } = await engine.client.call("listPromotions", { params: { model_id: String(run.result?.modelId), env_name: "production" } });
    expect(promotions.map((promotion) => promotion.deployment_id)).toEqual([run.result?.stableDeploymentId]);
  });

  it("a candidate that fails under production traffic is rolled back by the engine's analysis mid-rollout: production serves v1 again, exit code 1", async () => {
    // Degrades after 100 predictions per replica: the 50-sentence evaluation on staging passes,
    // production's request stream pushes it over and half of its answers become 500s.
    const run = await rollout("rollout-rollback", [
      "--candidate-env", "MODEL_ERROR_RATE=0.5",
      "--candidate-env", "MODEL_ERROR_AFTER_REQUESTS=100",
      "--max-error-rate", "0.1",
      "--window-seconds", "3",
      // long steps: the failing window must come while the rollout runs, not after it
      "--stabilization-seconds", "15",
      "--bake-seconds", "5",
    ]);
    const output = run.output;
    const result = run.result;
    expect(run.exitCode, `${output}\n${run.pulumiOutput}`).toBe(1);
    expect(result?.outcome).toBe("rolled-back");
    expect(result?.evaluation?.passed).toBe(true);
    expect(result?.production?.breachedDuring).toBe("rollout");
    expect(result?.productionDeploymentId).toBe(result?.stableDeploymentId);
    // the engine's reason, with the measured value under the 0.9 threshold
    const measured = /analysis failed at step \d+\/\d+: success_rate (0\.\d+) < 0\.9 /.exec(output);
    expect(measured, output).not.toBeNull();
    expect(Number(measured![1])).toBeLessThan(0.9);
    expect(output).toMatch(/ROLLOUT FAILED \(rolled-back\): the engine's analysis failed the candidate during the rollout: .*production serves .* again/);
    expect(await predictVersion(`${engine.url}/models/${result?.modelId}/production/predict`)).toBe("200 v1");
    const production = await engine.client.call("getEnvironment", { params: { model_id: String(result?.modelId), env_name: "production" } });
    expect(production.current_deployment?.id).toBe(result?.stableDeploymentId);
    const { promotions } = await engine.client.call("listPromotions", { params: { model_id: String(result?.modelId), env_name: "production" } });
    expect(promotions[0]?.status).toBe("FAILED");
    expect(promotions[0]?.error_message).toMatch(/analysis failed at step/);
  });
});
