/**
 * `modelplane deploy`: publish a directory as a new deployment of a model (created on first use),
 * like `truss push`: optionally straight into an environment, which starts a promotion there.
 * With --wait it follows the deployment until it serves (or the promotion to its end).
 */
import type { ModelplaneClient } from "../../sdk/client.js";
import { ModelplaneError } from "../../sdk/errors.js";
import { nameWithId } from "../../sdk/labels.js";
import type { Deployment } from "../../sdk/schemas/deployment.js";
import type { Model } from "../../sdk/schemas/model.js";
import { isTerminalPromotionStatus } from "../../sdk/schemas/promotion.js";
import { connect, namedPositionals, parseCommandLine, parseSeconds, printJson, printLine } from "../command-line.js";
import { resolveModel } from "../resolve.js";
import type { CliCommand } from "../usage-error.js";
import { COMMAND_HELP, commandInDirectory } from "./dev.js";
import { reportPromotion, WAIT_OPTIONS } from "./promote.js";

const POLL_MS = 250;

/** The model by id or name; a name nobody has yet creates it (ids are never invented here). */
async function modelFor(client: ModelplaneClient, idOrName: string): Promise<{ model: Model; created: boolean }> {
  try {
    return { model: await resolveModel(client, idOrName), created: false };
  } catch (error) {
    if (!(error instanceof ModelplaneError && error.code === "NOT_FOUND")) throw error;
    return { model: await client.call("createModel", { body: { name: idOrName } }), created: true };
  }
}

function describeDeployment(deployment: Deployment): string {
  const { ready, desired } = deployment.replicas;
  return `deployment ${nameWithId(deployment.name, deployment.id)}: ${deployment.status}, replicas ${ready}/${desired} ready`;
}

/** Polls until the deployment serves (ACTIVE) or fails; one line per change. */
async function waitUntilServing(client: ModelplaneClient, deployment: Deployment, deadline: number | undefined, progress: NodeJS.WritableStream): Promise<Deployment> {
  let current = deployment;
  let last = "";
  for (;;) {
    const line = describeDeployment(current);
    if (line !== last) progress.write(`${line}\n`);
    last = line;
    if (current.status === "ACTIVE") return current;
    if (current.status === "FAILED" || current.status === "UNHEALTHY" || current.status === "INACTIVE") {
      throw new ModelplaneError("CONFLICT", `deployment ${nameWithId(current.name, current.id)} is ${current.status}${current.error_message ? `: ${current.error_message}` : ""}`, {
        deployment_id: current.id,
        status: current.status,
      });
    }
    if (deadline !== undefined && Date.now() > deadline) {
      throw new ModelplaneError("CONFLICT", `deployment ${nameWithId(current.name, current.id)} is still ${current.status} after the --timeout`, { deployment_id: current.id });
    }
    await new Promise((wake) => setTimeout(wake, POLL_MS));
    current = await client.call("getDeployment", { params: { model_id: current.model_id, deployment_id: current.id } });
  }
}

export const deployCommand: CliCommand = {
  name: "deploy",
  summary: "publish a directory as a new deployment of a model (created if new), optionally into an environment",
  usage: 'modelplane deploy <model> <dir> [--command "node server.js"] [--name NAME] [--environment ENV] [--wait] [--timeout S] [--json]',
  help: [
    COMMAND_HELP,
    "  --name NAME      the deployment's name (default deployment-N)",
    "  --environment E  promote it into environment E at once (its promotion settings decide how)",
    "  --wait           follow it until it serves: with --environment the promotion to its end, else until a",
    "                   replica is ready (exit 1 if it fails)",
    "  --timeout S      stop waiting after S seconds (exit 1; a promotion goes on)",
    "  --json           print the deployment (or the promotion) as the API returns it; progress goes to stderr",
  ].join("\n"),
  async run(args) {
    const { values, positionals } = parseCommandLine(args, {
      ...WAIT_OPTIONS,
      command: { type: "string" },
      name: { type: "string" },
      environment: { type: "string" },
    });
    const { model: modelArg, dir } = namedPositionals(positionals, ["model", "dir"]);
    const { command, cwd } = await commandInDirectory(values.command, dir);
    const timeoutSeconds = values.timeout !== undefined ? parseSeconds("--timeout", values.timeout) : undefined;
    const deadline = timeoutSeconds !== undefined ? Date.now() + timeoutSeconds * 1000 : undefined;
    const json = values.json === true;
    // with --json, stdout carries only the JSON; what happens goes to stderr
    const say = (line: string) => (json ? process.stderr.write(`${line}\n`) : printLine(line));

    const client = connect(values);
    const { model, created } = await modelFor(client, modelArg);
    if (created) say(`created model ${nameWithId(model.name, model.id)}`);
    const deployment = await client.call("createDeployment", {
      params: { model_id: model.id },
      body: {
        command,
        cwd,
        ...(values.name !== undefined ? { name: values.name } : {}),
        ...(values.environment !== undefined ? { environment: values.environment } : {}),
      },
    });
    say(`created deployment ${nameWithId(deployment.name, deployment.id)}: ${command.join(" ")} in ${cwd}`);

    if (values.environment !== undefined) {
      const environment = await client.call("getEnvironment", { params: { model_id: model.id, env_name: values.environment } });
      const promotion = environment.in_progress_promotion;
      const ended = promotion !== null && isTerminalPromotionStatus(promotion.status);
      if (promotion === null || promotion.deployment_id !== deployment.id || (ended && values.wait !== true)) {
        // Already over (instant promotions can end before this read; the environment then shows
        // it with its terminal status): report where things stand. --wait reports how it ended.
        if (json) printJson(environment);
        else say(`${values.environment} serves ${environment.current_deployment?.id ?? "no deployment"}`);
        return environment.current_deployment?.id === deployment.id ? 0 : 1;
      }
      return reportPromotion(client, model.id, promotion, {
        wait: values.wait === true,
        json,
        timeoutSeconds: undefined,
        expectedStatus: "SUCCEEDED",
        ...(deadline !== undefined ? { deadline } : {}),
      });
    }

    const final = values.wait
      ? await waitUntilServing(client, deployment, deadline, json ? process.stderr : process.stdout)
      : deployment;
    if (json) printJson(final);
    else if (final.status === "ACTIVE") say(`predict: POST ${client.endpoint}/models/${model.id}/deployment/${final.id}/predict`);
    return 0;
  },
};
