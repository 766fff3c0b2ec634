import type { Model } from "../../sdk/schemas/model.js";
import { connect, namedPositionals, parseCommandLine, printJson, printLine } from "../command-line.js";
import { formatFields, formatTable, formatTime, orDash } from "../format.js";
import { resolveModel } from "../resolve.js";
import { UsageError, type CliCommand } from "../usage-error.js";

function modelFields(model: Model) {
  return [
    ["id", model.id],
    ["name", model.name],
    ["created", formatTime(model.created_at)],
    ["production deployment", orDash(model.production_deployment_id)],
    ["development deployment", orDash(model.development_deployment_id)],
    ["deployments", orDash(model.deployments_count)],
  ] as const;
}

export const modelsCommand: CliCommand = {
  name: "models",
  summary: "list models, or show one",
  usage: "modelplane models list [--environment ENV] [--json] | modelplane models get <model> [--json]",
  help: "  --environment ENV  list only the models that have an environment ENV",
  async run(args) {
    const { values, positionals } = parseCommandLine(args, { json: { type: "boolean" }, environment: { type: "string" } });
    const [action, ...rest] = positionals;
    if (action === "list") {
      namedPositionals(rest, []);
      const client = connect(values);
      const list = await client.call("listModels", values.environment !== undefined ? { query: { environment: values.environment } } : {});
      if (values.json) printJson(list);
      else {
        printLine(formatTable(
          ["id", "name", "production", "development", "deployments", "created"],
          list.models.map((model) => [model.id, model.name, orDash(model.production_deployment_id), orDash(model.development_deployment_id), orDash(model.deployments_count), formatTime(model.created_at)]),
        ));
      }
      return 0;
    }
    if (action === "get") {
      const { model: modelArgument } = namedPositionals(rest, ["model"]);
      const client = connect(values);
      const model = await resolveModel(client, modelArgument);
      if (values.json) printJson(model);
      else printLine(formatFields(modelFields(model)));
      return 0;
    }
    throw new UsageError(action === undefined ? "missing action: list or get" : `unknown action '${action}': list or get`);
  },
};
