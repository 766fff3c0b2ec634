import type { Promotion } from "../../sdk/schemas/promotion.js";
import { describePromotion } from "../../sdk/wait.js";
import type { ModelplaneClient } from "../../sdk/client.js";
import { connect, namedPositionals, parseCommandLine, parseSeconds, printJson, printLine } from "../command-line.js";
import { describeOutcome, followPromotion } from "../follow-promotion.js";
import { resolveDeployment, resolveModelId } from "../resolve.js";
import type { CliCommand } from "../usage-error.js";

/**
 * How long `--wait` outlasts the engine's own `timeout_seconds`: the engine fails the promotion at
 * the timeout, and the next poll (250 ms) shows it; 30 s covers a reconciler pass on a busy engine.
 */
const WAIT_GRACE_MS = 30_000;

export const WAIT_OPTIONS = {
  wait: { type: "boolean" },
  timeout: { type: "string" },
  json: { type: "boolean" },
} as const;

export const WAIT_HELP = [
  "  --wait           follow the promotion to its end with live progress (exit 1 unless it ends as asked)",
  "  --timeout S      the engine fails the promotion, traffic back on the previous deployment, if it has not",
  "                   succeeded after S seconds",
  "  --json           print the promotion as the API returns it (progress then goes to stderr)",
].join("\n");

/** After a promotion was started or changed: print it, or follow it to its end. */
export async function reportPromotion(
  client: ModelplaneClient,
  modelId: string,
  started: Promotion,
  options: {
    wait: boolean;
    json: boolean;
    /** the engine's `timeout_seconds` of this promotion, if one was given: the wait outlasts it a little */
    timeoutSeconds: number | undefined;
    expectedStatus: "SUCCEEDED" | "CANCELED";
    /** stop waiting at this time instead (ms since the epoch) */
    deadline?: number;
  },
): Promise<number> {
  if (!options.wait) {
    if (options.json) printJson(started);
    else printLine(`promotion ${started.id}: ${describePromotion(started)}`);
    return 0;
  }
  const final = await followPromotion(
    client,
    { modelId, environment: started.environment, promotionId: started.id },
    {
      expectedStatus: options.expectedStatus,
      progress: options.json ? process.stderr : process.stdout,
      ...(options.deadline !== undefined
        ? { deadline: options.deadline }
        : options.timeoutSeconds !== undefined
          ? { deadline: Date.now() + options.timeoutSeconds * 1000 + WAIT_GRACE_MS }
          : {}),
    },
  );
  if (options.json) printJson(final);
  else printLine(describeOutcome(final));
  return 0;
}

export const promoteCommand: CliCommand = {
  name: "promote",
  summary: "promote a deployment to an environment (instant, canary or rolling, by its settings)",
  usage: "modelplane promote <model> <env> <deployment> [--wait] [--timeout S] [--json] [--skip-chain]",
  help: `${WAIT_HELP}\n  --skip-chain     promote although the deployment has not passed the environment's required one (audited)`,
  async run(args) {
    const { values, positionals } = parseCommandLine(args, { ...WAIT_OPTIONS, "skip-chain": { type: "boolean" } });
    const { model, env, deployment } = namedPositionals(positionals, ["model", "env", "deployment"]);
    const timeoutSeconds = values.timeout !== undefined ? parseSeconds("--timeout", values.timeout) : undefined;
    const client = connect(values);
    const modelId = await resolveModelId(client, model);
    const candidate = await resolveDeployment(client, modelId, deployment);
    const started = await client.call("promote", {
      params: { model_id: modelId, env_name: env },
      body: {
        deployment_id: candidate.id,
        ...(timeoutSeconds !== undefined ? { timeout_seconds: timeoutSeconds } : {}),
        ...(values["skip-chain"] === true ? { skip_chain: true } : {}),
      },
    });
    return reportPromotion(client, modelId, started, {
      wait: values.wait === true,
      json: values.json === true,
      timeoutSeconds,
      expectedStatus: "SUCCEEDED",
    });
  },
};
