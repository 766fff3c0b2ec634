import type { Deployment } from "../../sdk/schemas/deployment.js";
import type { Environment } from "../../sdk/schemas/environment.js";
import type { HeaderRouting } from "../../sdk/schemas/header-routing.js";
import type { ShadowSettings } from "../../sdk/schemas/shadow.js";
import { nameWithId } from "../../sdk/labels.js";
import type { PromotionSettings } from "../../sdk/schemas/promotion-settings.js";
import type { WorkspaceEnvironment } from "../../sdk/schemas/workspace-environment.js";
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

/** The shadow as `environments get` shows it (four lines), or one dash line when there is none.
 * `deploymentName`: the shadow deployment's name when it is a deployment id (undefined: unknown). */
function shadowFields(shadow: ShadowSettings | null, deploymentName: string | undefined): [string, string][] {
  if (shadow === null) return [["shadow", "-"]];
  const target = shadow.deployment === "candidate" ? "the candidate" : nameWithId(deploymentName, shadow.deployment);
  const match = shadow.match;
  const parts = [
    match?.method !== undefined ? `method ${match.method}` : undefined,
    match?.path_prefix !== undefined ? `path prefix ${match.path_prefix}` : undefined,
    match?.header !== undefined ? `header ${match.header.name}${match.header.value !== undefined ? `: ${match.header.value}` : ""}` : undefined,
  ].filter((part) => part !== undefined);
  const comparison = shadow.comparison;
  const compared =
    comparison.mode === "exact"
      ? "exact bytes"
      : `json, numeric tolerance ${comparison.numeric_tolerance}, ${comparison.fields === undefined ? "all fields" : `fields ${comparison.fields.join(", ")}`}`;
  const flags = [shadow.keep_bodies ? "keeps bodies" : undefined, shadow.mirror_non_idempotent ? "mirrors Idempotency-Key requests" : undefined].filter(
    (flag) => flag !== undefined,
  );
  return [
    ["shadow", `${target}, ${shadow.percent}% of requests`],
    ["shadow match", parts.length > 0 ? parts.join(", ") : "every request"],
    ["shadow comparison", `status and ${compared}`],
    [
      "shadow limits",
      `bodies up to ${shadow.max_body_bytes} bytes, ${shadow.max_concurrency} at once, ${shadow.max_queue} queued, timeout ${shadow.timeout_ms} ms${flags.length > 0 ? `; ${flags.join(", ")}` : ""}`,
    ],
  ];
}

/** Header routing as `environments get` shows it. */
function headerRoutingText(routing: HeaderRouting | null): string {
  if (routing === null) return "off";
  const parts = [`${routing.header}: candidate`];
  if (routing.cookie !== undefined) parts.push(`cookie ${routing.cookie}=candidate`);
  if (routing.allowed_deployments.length > 0) parts.push(`also as the value: ${routing.allowed_deployments.join(", ")}`);
  return parts.join("; ");
}

/** `origin`: the engine URL, so the endpoint line is a URL to copy. `shadowDeploymentName`: see shadowFields. */
function environmentFields(environment: Environment, origin: string, shadowDeploymentName?: string) {
  const autoscaling = environment.autoscaling_settings;
  const variables = environment.variables.map(
    (variable) => `${variable.name}${variable.secret ? " (secret)" : ""}${variable.source === "workspace" ? " (workspace)" : ""}`,
  );
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
    ["workspace environment", orDash(environment.workspace_environment)],
    [
      "promotion settings",
      environment.promotion_settings_source === "workspace"
        ? `from workspace environment ${environment.workspace_environment ?? "-"}`
        : environment.promotion_settings_id
          ? `named ${environment.promotion_settings_id}`
          : "inline",
    ],
    ["variables", variables.length > 0 ? variables.join(", ") : "-"],
    ...shadowFields(environment.shadow, shadowDeploymentName),
    ["header routing", headerRoutingText(environment.header_routing)],
  ] as const;
}

function workspaceFields(environment: WorkspaceEnvironment) {
  const variables = environment.variables.map((variable) => (variable.secret ? `${variable.name} (secret)` : `${variable.name}=${variable.value ?? ""}`));
  return [
    ["name", environment.name],
    ["description", environment.description === "" ? "-" : environment.description],
    ["requires", environment.requires === null ? "-" : `${environment.requires}, soak ${environment.min_soak_seconds}s`],
    ["promotion mode", promotionMode(environment.promotion_settings)],
    ["promotion settings", environment.promotion_settings_id ? `named ${environment.promotion_settings_id}` : "inline"],
    ["variables", variables.length > 0 ? variables.join(", ") : "-"],
    ["models", String(environment.models_count)],
  ] as const;
}

export const environmentsCommand: CliCommand = {
  name: "environments",
  summary: "list a model's environments, or show one with its promotion; workspace environments across models",
  usage:
    "modelplane environments list <model> [--json] | modelplane environments get <model> <env> [--json]\n" +
    "       modelplane environments workspace [--json] | modelplane environments show <env> [--json]",
  help: [
    "  list <model>       a model's environments",
    "  get <model> <env>  one environment of a model, with its promotion",
    "  workspace          the workspace environments, in chain order",
    "  show <env>         a workspace environment and what serves it in every model",
  ].join("\n"),
  async run(args) {
    const { values, positionals } = parseCommandLine(args, { json: { type: "boolean" } });
    const [action, ...rest] = positionals;
    if (action === "workspace") {
      namedPositionals(rest, []);
      const client = connect(values);
      const list = await client.call("listWorkspaceEnvironments", { params: {} });
      if (values.json) printJson(list);
      else {
        printLine(formatTable(
          ["name", "requires", "soak", "variables", "models"],
          list.environments.map((environment) => [
            environment.name,
            orDash(environment.requires),
            environment.requires === null ? "-" : `${environment.min_soak_seconds}s`,
            String(environment.variables.length),
            String(environment.models_count),
          ]),
        ));
      }
      return 0;
    }
    if (action === "show") {
      const { env } = namedPositionals(rest, ["env"]);
      const client = connect(values);
      const environment = await client.call("getWorkspaceEnvironment", { params: { env_name: env } });
      const { deployments } = await client.call("listWorkspaceEnvironmentDeployments", { params: { env_name: env } });
      if (values.json) printJson({ environment, deployments });
      else {
        printLine(formatFields(workspaceFields(environment)));
        printLine("");
        printLine(formatTable(
          ["model", "current", "status", "promotion", "candidate", "settings"],
          deployments.map((entry) => [
            entry.model_name,
            orDash(entry.current_deployment?.name),
            orDash(entry.current_deployment?.status),
            orDash(entry.promotion_status),
            orDash(entry.candidate_deployment_id),
            entry.promotion_settings_source,
          ]),
        ));
      }
      return 0;
    }
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
      else {
        // a shadow named by id is shown with its name (the id alone if it cannot be read)
        const shadowTarget = environment.shadow?.deployment;
        const shadowName =
          shadowTarget === undefined || shadowTarget === "candidate"
            ? undefined
            : await client.call("getDeployment", { params: { model_id: environment.model_id, deployment_id: shadowTarget } }).then(
                (deployment) => deployment.name,
                () => undefined,
              );
        printLine(formatFields(environmentFields(environment, client.endpoint, shadowName)));
      }
      return 0;
    }
    throw new UsageError(
      action === undefined ? "missing action: list, get, workspace or show" : `unknown action '${action}': list, get, workspace or show`,
    );
  },
};
