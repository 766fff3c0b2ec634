/**
 * A programmatic rollout for CI, with the Pulumi Automation API:
 *
 *   1. `up`: staging → the candidate (production keeps the stable deployment);
 *   2. evaluate the candidate on staging (labelled sentences: accuracy ≥ threshold, no 5xx);
 *   3. `up`: production → the candidate, a rolling deploy judged by the engine's own analysis
 *      (production's success rate over each window, promotion_settings.analysis): a candidate
 *      that breaks the budget is rolled back by the engine and the `up` fails with the measured
 *      value. Our own request stream gives the analysis traffic and reports what clients saw; then
 *      a short bake with the candidate serving everything;
 *   4. after a rollback (or a breach in the bake): `up` again with production → stable, so the
 *      program, the state and the engine all say "stable".
 *
 * Library: `runRollout(options) → RolloutResult`. CLI: `main(argv, env)`, run when this file is
 * the entry point (see README.md). Exit code 0 when the candidate serves production, 1 when it was
 * rejected or rolled back, 2 for bad arguments.
 */
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, type LocalWorkspaceOptions, type OutputMap, type Stack } from "@pulumi/pulumi/automation/index.js";
// The package's own public entry points, as a user imports them. Inside this repository they
// resolve through package.json `exports` (a package may import itself by name) to dist/, which is
// also what the dynamic-provider host needs: it loads the compiled implementation by path.
import { Deployment, Environment, Model, PromotionSettings } from "modelplane";
import { Environment as EnvironmentDetail } from "modelplane/sdk";
import { watchErrorRate, type ErrorBudget, type WatchReport } from "./error-rate.js";
import { evaluateEndpoint, type EvaluationReport } from "./evaluation.js";
import { evaluationSet, type LabelledSentence } from "./evaluation-set.js";

export interface ModelVersion {
  /** argv of a replica, e.g. `["node", "/srv/models/v2/server.js"]`; it listens on `PORT` */
  command: string[];
  env?: Record<string, string>;
}

export interface RolloutOptions {
  /** engine management endpoint, e.g. `http://modelplane:7070` */
  endpoint: string;
  apiKey: string;
  /** what production runs now (v1) */
  stable: ModelVersion;
  /** what should replace it (v2) */
  candidate: ModelVersion;
  /** working directory of replicas, as the engine sees it */
  cwd?: string;
  /** default `sentiment` */
  modelName?: string;
  /** default `modelplane-rollout` / `production` */
  projectName?: string;
  stackName?: string;
  /** production replicas (min = max; default 2) */
  productionReplicas?: number;
  /** rolling deploy step: default 50 % surge, 10 s stabilization between steps */
  maxSurgePercent?: number;
  stabilizationTimeSeconds?: number;
  /** staging gate (default: the 50 built-in sentences, accuracy ≥ 0.9) */
  evaluation?: { sentences?: readonly LabelledSentence[]; minAccuracy?: number };
  /** production watch (default: > 5 % errors over 5 s with ≥ 20 answers; 15 s bake) */
  errorBudget?: Partial<ErrorBudget> & { bakeSeconds?: number; concurrency?: number };
  /** a production promotion still running after this long fails the update (default 900) */
  promotionTimeoutSeconds?: number;
  /** where Pulumi finds the CLI, the backend and the work directory; defaults are Pulumi's */
  workspace?: Pick<LocalWorkspaceOptions, "workDir" | "envVars" | "pulumiCommand">;
  /** progress lines (default: console.log) */
  log?: (line: string) => void;
  /** the Pulumi engine's own output, e.g. to show `production: RAMPING_UP …` lines (default: dropped) */
  onPulumiOutput?: (text: string) => void;
}

export type RolloutOutcome =
  /** the candidate serves staging and production */
  | "promoted"
  /** staging did not come up with the candidate, or the evaluation failed; production was not touched */
  | "rejected-in-staging"
  /** production's error rate broke the budget; production is back on the stable deployment */
  | "rolled-back"
  /** the production update failed by itself (e.g. the candidate never got ready); the engine kept stable serving */
  | "production-failed";

export interface RolloutResult {
  outcome: RolloutOutcome;
  ok: boolean;
  /** one line for a CI log */
  message: string;
  modelId: string | undefined;
  stableDeploymentId: string | undefined;
  candidateDeploymentId: string | undefined;
  /** what the engine says production serves at the end */
  productionDeploymentId: string | undefined;
  evaluation: EvaluationReport | undefined;
  production: (WatchReport & { breachedDuring: "rollout" | "bake" | undefined }) | undefined;
  stackName: string;
}

type Version = "stable" | "candidate";
interface Targets {
  staging: Version;
  production: Version;
}

interface ProgramOutputs {
  modelId: string;
  stableDeploymentId: string;
  candidateDeploymentId: string;
  /** the deployments as people read them: `deployment-1 (dep_…)` */
  stableDeployment: string;
  candidateDeployment: string;
  stagingEndpoint: string;
  productionEndpoint: string;
}

/** The inline program; `targets()` is read on every run, so one stack serves every phase. */
function rolloutProgram(options: RolloutOptions, targets: () => Targets) {
  return async () => {
    const modelName = options.modelName ?? "sentiment";
    const replicas = options.productionReplicas ?? 2;
    const model = new Model("model", { name: modelName });
    const deploymentOf = (version: ModelVersion) => ({
      modelId: model.id,
      command: version.command,
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(version.env !== undefined ? { env: version.env } : {}),
    });
    const deployments: Record<Version, Deployment> = {
      stable: new Deployment("stable", deploymentOf(options.stable)),
      candidate: new Deployment("candidate", deploymentOf(options.candidate)),
    };
    const budget = errorBudgetOf(options);
    const rolling = new PromotionSettings("rolling", {
      name: `${modelName}-rolling`,
      rollingDeploy: true,
      rollingDeployConfig: {
        maxSurgePercent: options.maxSurgePercent ?? 50,
        maxUnavailablePercent: 0,
        stabilizationTimeSeconds: options.stabilizationTimeSeconds ?? 10,
      },
      // The engine judges each window of the candidate's traffic and rolls it back itself: no
      // watcher of ours has to win a race against the next traffic step.
      analysis: {
        intervalSeconds: Math.max(1, Math.ceil(budget.windowMs / 1000)),
        metrics: [{ type: "success_rate", min: 1 - budget.maxErrorRate, minRequests: budget.minRequests }],
        failureLimit: 0,
        // a quiet production is not a pass, but it should not stop a CI rollout at once either
        inconclusiveLimit: 10,
      },
    });
    const { staging: stagingTarget, production: productionTarget } = targets();
    // One replica that never scales to zero: the evaluation should measure the model, not a wake-up.
    const staging = new Environment("staging", {
      modelId: model.id,
      name: "staging",
      deploymentId: deployments[stagingTarget].id,
      autoscalingSettings: { minReplica: 1, maxReplica: 1 },
    });
    const production = new Environment("production", {
      modelId: model.id,
      name: "production",
      deploymentId: deployments[productionTarget].id,
      promotionSettings: rolling,
      autoscalingSettings: { minReplica: replicas, maxReplica: replicas },
      promotionTimeoutSeconds: options.promotionTimeoutSeconds ?? 900,
    });
    return {
      modelId: model.id,
      stableDeploymentId: deployments.stable.id,
      candidateDeploymentId: deployments.candidate.id,
      stableDeployment: pulumi.interpolate`${deployments.stable.name} (${deployments.stable.id})`,
      candidateDeployment: pulumi.interpolate`${deployments.candidate.name} (${deployments.candidate.id})`,
      stagingEndpoint: staging.endpoint,
      productionEndpoint: production.endpoint,
    };
  };
}

function programOutputs(outputs: OutputMap): ProgramOutputs {
  const text = (name: keyof ProgramOutputs): string => {
    const value: unknown = outputs[name]?.value;
    if (typeof value !== "string") throw new Error(`stack output ${name} is missing`);
    return value;
  };
  return {
    modelId: text("modelId"),
    stableDeploymentId: text("stableDeploymentId"),
    candidateDeploymentId: text("candidateDeploymentId"),
    stableDeployment: text("stableDeployment"),
    candidateDeployment: text("candidateDeployment"),
    stagingEndpoint: text("stagingEndpoint"),
    productionEndpoint: text("productionEndpoint"),
  };
}

/** The production budget: the engine's analysis threshold and our own watch's. */
function errorBudgetOf(options: RolloutOptions): ErrorBudget {
  return {
    maxErrorRate: options.errorBudget?.maxErrorRate ?? 0.05,
    windowMs: options.errorBudget?.windowMs ?? 5_000,
    minRequests: options.errorBudget?.minRequests ?? 20,
  };
}

/** The management call the rollout makes itself, typed by the engine's own response schema. */
function managementApi(endpoint: string, apiKey: string) {
  const base = new URL(endpoint).origin;
  const call = async (method: "GET" | "POST", path: string): Promise<{ status: number; body: unknown }> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Api-Key ${apiKey}`, accept: "application/json" },
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    return { status: response.status, body: text === "" ? undefined : (JSON.parse(text) as unknown) };
  };
  const environmentPath = (modelId: string, name: string) => `/v1/models/${encodeURIComponent(modelId)}/environments/${encodeURIComponent(name)}`;
  return {
    async getEnvironment(modelId: string, name: string): Promise<EnvironmentDetail> {
      const { status, body } = await call("GET", environmentPath(modelId, name));
      if (status !== 200) throw new Error(`GET environment ${name}: HTTP ${status} ${JSON.stringify(body)}`);
      return EnvironmentDetail.parse(body);
    },
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // Automation API errors carry the whole CLI output; the resources' own `error: …` lines say why,
  // the stack's closing "update failed" does not.
  const reasons = new Set<string>();
  const lines = text.split("\n").map((line) => line.trim());
  lines.forEach((line, index) => {
    const reason = /(?:^|\s)error: (.+)$/.exec(line)?.[1]?.trim();
    if (!reason || reason === "update failed" || /^\d+ errors?$/.test(reason)) return;
    if (/^\d+ errors? occurred:$/.test(reason)) {
      // Go's multierror: the reasons follow as "* …" lines
      for (const item of lines.slice(index + 1)) {
        if (!item.startsWith("* ")) break;
        reasons.add(item.slice(2));
      }
    } else reasons.add(reason);
  });
  return reasons.size > 0 ? [...reasons].join("; ") : (text.split("\n").find((line) => line.trim() !== "") ?? text).trim();
}

export async function runRollout(options: RolloutOptions): Promise<RolloutResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const onOutput = options.onPulumiOutput ?? (() => undefined);
  const stackName = options.stackName ?? "production";
  const api = managementApi(options.endpoint, options.apiKey);
  let targets: Targets = { staging: "candidate", production: "stable" };
  const stack: Stack = await LocalWorkspace.createOrSelectStack(
    { stackName, projectName: options.projectName ?? "modelplane-rollout", program: rolloutProgram(options, () => targets) },
    options.workspace,
  );
  await stack.setAllConfig({
    "modelplane:endpoint": { value: options.endpoint },
    "modelplane:apiKey": { value: options.apiKey, secret: true },
  });

  const result: RolloutResult = {
    outcome: "rejected-in-staging",
    ok: false,
    message: "",
    modelId: undefined,
    stableDeploymentId: undefined,
    candidateDeploymentId: undefined,
    productionDeploymentId: undefined,
    evaluation: undefined,
    production: undefined,
    stackName,
  };
  const finish = async (outcome: RolloutOutcome, message: string): Promise<RolloutResult> => {
    if (result.modelId) {
      result.productionDeploymentId = (await api.getEnvironment(result.modelId, "production")).current_deployment?.id ?? undefined;
    }
    Object.assign(result, { outcome, ok: outcome === "promoted", message });
    log(`${outcome}: ${message}`);
    return result;
  };

  // 1. staging → candidate. Production stays (or, on the first run, is created) on stable.
  log(`staging: deploying the candidate (${options.candidate.command.join(" ")})`);
  let outputs: ProgramOutputs;
  try {
    outputs = programOutputs((await stack.up({ onOutput })).outputs);
  } catch (error) {
    const partial = await stack.outputs().catch(() => ({}) as OutputMap);
    result.modelId = typeof partial.modelId?.value === "string" ? partial.modelId.value : undefined;
    return finish("rejected-in-staging", `staging update failed: ${errorMessage(error)}; production was not touched`);
  }
  Object.assign(result, { modelId: outputs.modelId, stableDeploymentId: outputs.stableDeploymentId, candidateDeploymentId: outputs.candidateDeploymentId });
  if (outputs.stableDeploymentId === outputs.candidateDeploymentId) {
    return finish("rejected-in-staging", "the stable and candidate versions are the same deployment: nothing to roll out");
  }

  // 2. evaluation on staging
  const minAccuracy = options.evaluation?.minAccuracy ?? 0.9;
  const sentences = options.evaluation?.sentences ?? evaluationSet;
  result.evaluation = await evaluateEndpoint(outputs.stagingEndpoint, sentences, { minAccuracy, apiKey: options.apiKey });
  log(`staging evaluation: ${result.evaluation.verdict}`);
  if (!result.evaluation.passed) {
    return finish("rejected-in-staging", `evaluation failed: ${result.evaluation.verdict}; production was not touched (staging keeps the candidate for inspection)`);
  }

  // 3. production → candidate, judged by the engine's analysis; our stream is its traffic
  const budget = errorBudgetOf(options);
  const watch = watchErrorRate({
    url: outputs.productionEndpoint,
    apiKey: options.apiKey,
    budget,
    bodies: sentences.map((sentence) => ({ text: sentence.text })),
    concurrency: options.errorBudget?.concurrency ?? 4,
  });
  log(`production: promoting ${outputs.candidateDeployment} (rolling), the engine's analysis judging each ${budget.windowMs / 1000}-s window`);
  targets = { staging: "candidate", production: "candidate" };
  let breachedDuring: "rollout" | "bake" | undefined;
  let analysisFailure: string | undefined;
  let productionError: unknown;
  try {
    await stack.up({ onOutput });
  } catch (error) {
    productionError = error;
    const reason = errorMessage(error);
    // The engine rolled the candidate back (FAILED, traffic on stable); the provider left the state on stable.
    if (/analysis failed/.test(reason)) {
      analysisFailure = reason;
      breachedDuring = "rollout";
      log(`production: the engine rolled the candidate back: ${reason}`);
    }
  }

  if (!breachedDuring && productionError === undefined) {
    // The candidate now takes all of production's traffic: a bake shows what clients see after the
    // analysis has passed (a breach our stream saw since the promotion began counts too).
    const bakeMs = (options.errorBudget?.bakeSeconds ?? 15) * 1000;
    log(`production: promoted; baking for ${bakeMs / 1000} s`);
    const bakeBreach = await Promise.race([watch.breached, sleep(bakeMs).then(() => undefined)]);
    if (bakeBreach) breachedDuring = "bake";
  }
  const watchReport = await watch.stop();
  result.production = { ...watchReport, breachedDuring };

  if (!breachedDuring && productionError !== undefined) {
    // The provider leaves the deployment that really serves in the state, so nothing to undo.
    return finish("production-failed", `production update failed: ${errorMessage(productionError)}`);
  }
  if (!breachedDuring) {
    return finish("promoted", `${outputs.candidateDeployment} serves staging and production (evaluation: ${result.evaluation.verdict}; production: ${watchReport.failed}/${watchReport.sent} failed requests, peak error rate ${(watchReport.peakErrorRate * 100).toFixed(1)}%)`);
  }

  // 4. roll back: the program says stable again. After the engine's rollback this update only
  // records what already serves; after a breach in the bake it promotes stable back.
  log(`production: rolling back to ${outputs.stableDeployment}`);
  targets = { staging: "candidate", production: "stable" };
  const breach = watchReport.breach;
  const why = analysisFailure !== undefined
    ? `the engine's analysis failed the candidate during the rollout: ${analysisFailure}`
    : breach
    ? `error rate ${(breach.errorRate * 100).toFixed(1)}% (${breach.failures}/${breach.requests} requests in ${budget.windowMs / 1000} s) exceeded ${(budget.maxErrorRate * 100).toFixed(1)}% during the ${breachedDuring}${breach.samples[0] ? `, e.g. ${breach.samples[0]}` : ""}`
    : `error budget broken during the ${breachedDuring}`;
  try {
    await stack.up({ onOutput });
  } catch (error) {
    return finish("rolled-back", `${why}; the candidate was rolled back but the rollback update failed: ${errorMessage(error)} — check production`);
  }
  return finish("rolled-back", `${why}; production serves ${outputs.stableDeployment} again`);
}

// ---- CLI -----------------------------------------------------------------------------------

const USAGE = `usage: rollout --stable-command CMD --candidate-command CMD [options]

  --endpoint URL              engine endpoint (or MODELPLANE_ENDPOINT)
                              API key: MODELPLANE_API_KEY (not a flag: it would land in shell history and CI logs)
  --stable-command CMD        what production runs now, e.g. "node /srv/v1/server.js" or a JSON array (or ROLLOUT_STABLE_COMMAND)
  --candidate-command CMD     the candidate (or ROLLOUT_CANDIDATE_COMMAND)
  --candidate-env KEY=VALUE   environment of the candidate's replicas (repeatable)
  --cwd DIR                   working directory of replicas, as the engine sees it
  --model NAME                model name (default sentiment)
  --stack NAME                Pulumi stack (default production)
  --work-dir DIR              Pulumi work directory (default: a temporary one)
  --min-accuracy X            staging gate (default 0.9)
  --max-error-rate X          production budget (default 0.05)
  --bake-seconds N            watch after the promotion (default 15)
  --stabilization-seconds N   rolling deploy stabilization (default 10)
  --window-seconds N          error-rate window (default 5)
  --replicas N                production replicas (default 2)
  --json                      print the result as one JSON line at the end
  --quiet                     do not copy Pulumi's output to stderr

exit code: 0 promoted, 1 rejected in staging / rolled back / failed, 2 bad arguments`;

class UsageError extends Error {}

function commandArgv(value: string | undefined, what: string): string[] {
  if (!value) throw new UsageError(`${what} is required`);
  if (value.trim().startsWith("[")) {
    const parsed: unknown = JSON.parse(value);
    if (!Array.isArray(parsed) || !parsed.every((part): part is string => typeof part === "string")) throw new UsageError(`${what}: a JSON command must be an array of strings`);
    return parsed;
  }
  return value.trim().split(/\s+/);
}

function numberFlag(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new UsageError(`--${name}: not a number: ${value}`);
  return parsed;
}

/** Parses `argv` (without node and the script), runs the rollout, prints a summary; returns the exit code. */
export async function main(
  argv: string[],
  env: Record<string, string | undefined>,
  io: { log?: (line: string) => void; pulumiOutput?: (text: string) => void; workspace?: RolloutOptions["workspace"] } = {},
): Promise<{ exitCode: number; result?: RolloutResult }> {
  const log = io.log ?? ((line: string) => console.log(line));
  let options: RolloutOptions;
  let json = false;
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        endpoint: { type: "string" },
        "stable-command": { type: "string" },
        "candidate-command": { type: "string" },
        "candidate-env": { type: "string", multiple: true },
        cwd: { type: "string" },
        model: { type: "string" },
        stack: { type: "string" },
        "work-dir": { type: "string" },
        "min-accuracy": { type: "string" },
        "max-error-rate": { type: "string" },
        "bake-seconds": { type: "string" },
        "stabilization-seconds": { type: "string" },
        "window-seconds": { type: "string" },
        replicas: { type: "string" },
        json: { type: "boolean" },
        quiet: { type: "boolean" },
        help: { type: "boolean" },
      },
    });
    if (values.help) {
      log(USAGE);
      return { exitCode: 0 };
    }
    const endpoint = values.endpoint ?? env.MODELPLANE_ENDPOINT;
    const apiKey = env.MODELPLANE_API_KEY;
    if (!endpoint) throw new UsageError("--endpoint or MODELPLANE_ENDPOINT is required");
    if (!apiKey) throw new UsageError("MODELPLANE_API_KEY is required");
    const candidateEnv: Record<string, string> = {};
    for (const pair of values["candidate-env"] ?? []) {
      const at = pair.indexOf("=");
      if (at <= 0) throw new UsageError(`--candidate-env: expected KEY=VALUE, got ${pair}`);
      candidateEnv[pair.slice(0, at)] = pair.slice(at + 1);
    }
    const minAccuracy = numberFlag(values["min-accuracy"], "min-accuracy");
    const maxErrorRate = numberFlag(values["max-error-rate"], "max-error-rate");
    const bakeSeconds = numberFlag(values["bake-seconds"], "bake-seconds");
    const windowSeconds = numberFlag(values["window-seconds"], "window-seconds");
    json = values.json === true;
    const workDir = values["work-dir"] ?? io.workspace?.workDir;
    options = {
      endpoint,
      apiKey,
      stable: { command: commandArgv(values["stable-command"] ?? env.ROLLOUT_STABLE_COMMAND, "--stable-command") },
      candidate: {
        command: commandArgv(values["candidate-command"] ?? env.ROLLOUT_CANDIDATE_COMMAND, "--candidate-command"),
        ...(Object.keys(candidateEnv).length > 0 ? { env: candidateEnv } : {}),
      },
      ...(values.cwd !== undefined ? { cwd: values.cwd } : {}),
      ...(values.model !== undefined ? { modelName: values.model } : {}),
      ...(values.stack !== undefined ? { stackName: values.stack } : {}),
      ...(minAccuracy !== undefined ? { evaluation: { minAccuracy } } : {}),
      errorBudget: {
        ...(maxErrorRate !== undefined ? { maxErrorRate } : {}),
        ...(bakeSeconds !== undefined ? { bakeSeconds } : {}),
        ...(windowSeconds !== undefined ? { windowMs: windowSeconds * 1000 } : {}),
      },
      ...(values["stabilization-seconds"] !== undefined ? { stabilizationTimeSeconds: numberFlag(values["stabilization-seconds"], "stabilization-seconds") } : {}),
      ...(values.replicas !== undefined ? { productionReplicas: numberFlag(values.replicas, "replicas") } : {}),
      workspace: { ...io.workspace, ...(workDir !== undefined ? { workDir } : {}) },
      log,
      // Pulumi's own lines (`production: RAMPING_UP step 1/2, 50 % to deployment-2 (dep_…) …`) belong in a CI log.
      ...(values.quiet ? {} : { onPulumiOutput: io.pulumiOutput ?? ((text: string) => process.stderr.write(text)) }),
    };
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof TypeError) && !(error instanceof SyntaxError)) throw error;
    log(`${error.message}\n\n${USAGE}`);
    return { exitCode: 2 };
  }
  const result = await runRollout(options);
  log(result.ok ? `ROLLOUT OK: ${result.message}` : `ROLLOUT FAILED (${result.outcome}): ${result.message}`);
  if (json) log(JSON.stringify(result));
  return { exitCode: result.ok ? 0 : 1, result };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2), process.env).then(
    ({ exitCode }) => (process.exitCode = exitCode),
    (error: unknown) => {
      console.error(`rollout crashed: ${(error as Error).stack ?? String(error)}`);
      process.exitCode = 1;
    },
  );
}
