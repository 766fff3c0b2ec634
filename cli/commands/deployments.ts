import type { Deployment } from "../../sdk/schemas/deployment.js";
import { connect, namedPositionals, parseCommandLine, printJson, printLine } from "../command-line.js";
import { formatFields, formatTable, formatTime, orDash } from "../format.js";
import { resolveDeployment, resolveModelId } from "../resolve.js";
import { UsageError, type CliCommand } from "../usage-error.js";

function replicaSummary(deployment: Deployment): string {
  const { ready, desired, starting } = deployment.replicas;
  return `${ready}/${desired}${starting > 0 ? ` (+${starting} starting)` : ""}`;
}

function deploymentFields(deployment: Deployment) {
  const autoscaling = deployment.autoscaling_settings;
  return [
    ["id", deployment.id],
    ["name", deployment.name],
    ["status", deployment.status + (deployment.active ? "" : " (deactivated)")],
    ["environment", orDash(deployment.environment)],
    ["revision", String(deployment.revision)],
    ["created", formatTime(deployment.created_at)],
    ["command", deployment.command.length > 0 ? JSON.stringify(deployment.command) : "-"],
    ["cwd", orDash(deployment.cwd)],
    ["image", orDash(deployment.image)],
    ["replicas ready/desired", replicaSummary(deployment)],
    ["autoscaling", `${autoscaling.min_replica}–${autoscaling.max_replica} replicas, concurrency target ${autoscaling.concurrency_target}`],
    ["readiness / predict", `${deployment.readiness_path} / ${deployment.predict_path}`],
    ...(deployment.error_message ? [["error", deployment.error_message] as const] : []),
  ] as const;
}

export const deploymentsCommand: CliCommand = {
  name: "deployments",
  summary: "list a model's deployments, or show one",
  usage: "modelplane deployments list <model> [--environment ENV] [--json] | modelplane deployments get <model> <deployment> [--json]",
  help: "  --environment ENV  list only what serves ENV or is being promoted into it",
  async run(args) {
    const { values, positionals } = parseCommandLine(args, { json: { type: "boolean" }, environment: { type: "string" } });
    const [action, ...rest] = positionals;
    if (action === "list") {
      const { model } = namedPositionals(rest, ["model"]);
      const client = connect(values);
      const list = await client.call("listDeployments", {
        params: { model_id: await resolveModelId(client, model) },
        ...(values.environment !== undefined ? { query: { environment: values.environment } } : {}),
      });
      if (values.json) printJson(list);
      else {
        printLine(formatTable(
          ["id", "name", "status", "environment", "replicas", "revision", "created"],
          list.deployments.map((deployment) => [
            deployment.id,
            deployment.name,
            deployment.status,
            orDash(deployment.environment),
            replicaSummary(deployment),
            String(deployment.revision),
            formatTime(deployment.created_at),
          ]),
        ));
      }
      return 0;
    }
    if (action === "get") {
      const { model, deployment: deploymentArgument } = namedPositionals(rest, ["model", "deployment"]);
      const client = connect(values);
      const modelId = await resolveModelId(client, model);
      const deployment = await resolveDeployment(client, modelId, deploymentArgument);
      if (values.json) printJson(deployment);
      else printLine(formatFields(deploymentFields(deployment)));
      return 0;
    }
    throw new UsageError(action === undefined ? "missing action: list or get" : `unknown action '${action}': list or get`);
  },
};
