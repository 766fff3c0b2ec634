import type { Deployment } from "../../sdk/schemas/deployment.js";
import type { Environment } from "../../sdk/schemas/environment.js";
import type { PromotionSettings } from "../../sdk/schemas/promotion-settings.js";
import { describePromotion } from "../../sdk/wait.js";
import { connect, namedPositionals, parseCommandLine, printJson, printLine } from "../command-line.js";
import { formatFields, formatTable, formatTime, orDash } from "../format.js";
import { resolveModelId } from "../resolve.js";
import { UsageError, type CliCommand } from "../usage-error.js";

function deploymentLabel(deployment: Deployment | null): string {
  return deployment ? `${deployment.name} (${deployment.id})` : "-";
}

/** The kind of promotion these settings start, as the engine chooses it. */
function promotionMode(settings: PromotionSettings): string {
  if (settings.rolling_deploy) {
    const config = settings.rolling_deploy_config;
    const budget = config.max_unavailable_percent > 0 ? `max unavailable ${config.max_unavailable_percent}%` : `max surge ${config.max_surge_percent}%`;
    return `rolling, ${budget}, stabilization ${config.stabilization_time_seconds}s`;
  }
  if (settings.ramp_up_while_promoting) return `canary ramp over ${settings.ramp_up_duration_seconds}s`;
  return "instant";
}

/** `origin`: the engine URL, so the endpoint line is a URL to copy. */
function environmentFields(environment: Environment, origin: string) {
  const autoscaling = environment.autoscaling_settings;
  const variables = environment.variables.map((variable) => (variable.secret ? `${variable.name} (secret)` : variable.name));
  return [
    ["name", environment.name],
    ["model", environment.model_id],
    ["created", formatTime(environment.created_at)],
    ["endpoint", `POST ${origin}${environment.endpoint}`],
    ["current deployment", deploymentLabel(environment.current_deployment)],
    ["candidate deployment", deploymentLabel(environment.candidate_deployment)],
    ["promotion", environment.in_progress_promotion ? describePromotion(environment.in_progress_promotion) : "-"],
    ["autoscaling", `${autoscaling.min_replica}–${autoscaling.max_replica} replicas, concurrency target ${autoscaling.concurrency_target}`],
    ["promotion mode", promotionMode(environment.promotion_settings)],
    ["cleanup", environment.promotion_settings.promotion_cleanup_strategy],
    ["promotion settings", environment.promotion_settings_id ? `named ${environment.promotion_settings_id}` : "inline"],
    ["variables", variables.length > 0 ? variables.join(", ") : "-"],
  ] as const;
}

export const environmentsCommand: CliCommand = {
  name: "environments",
  summary: "list a model's environments, or show one with its promotion",
  usage: "modelplane environments list <model> [--json] | modelplane environments get <model> <env> [--json]",
  async run(args) {
    const { values, positionals } = parseCommandLine(args, { json: { type: "boolean" } });
    const [action, ...rest] = positionals;
    if (action === "list") {
      const { model } = namedPositionals(rest, ["model"]);
      const client = connect(values);
      const list = await client.call("listEnvironments", { params: { model_id: await resolveModelId(client, model) } });
      if (values.json) printJson(list);
      else {
        printLine(formatTable(
          ["name", "current", "candidate", "promotion", "traffic", "replicas", "mode"],
          list.environments.map((environment) => {
            const promotion = environment.in_progress_promotion;
            return [
              environment.name,
              orDash(environment.current_deployment?.name),
              orDash(environment.candidate_deployment?.name),
              orDash(promotion?.status),
              promotion ? `${promotion.percent_traffic_to_new_version}%` : "-",
              `${environment.autoscaling_settings.min_replica}–${environment.autoscaling_settings.max_replica}`,
              promotionMode(environment.promotion_settings),
            ];
          }),
        ));
      }
      return 0;
    }
    if (action === "get") {
      const { model, env } = namedPositionals(rest, ["model", "env"]);
      const client = connect(values);
      const environment = await client.call("getEnvironment", { params: { model_id: await resolveModelId(client, model), env_name: env } });
      if (values.json) printJson(environment);
      else printLine(formatFields(environmentFields(environment, client.endpoint)));
      return 0;
    }
    throw new UsageError(action === undefined ? "missing action: list or get" : `unknown action '${action}': list or get`);
  },
};
