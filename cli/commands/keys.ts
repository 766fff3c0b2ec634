import { API_KEY_SCOPES, type ApiKey, type ApiKeyScope } from "../../sdk/schemas/api-key.js";
import type { ModelplaneClient } from "../../sdk/client.js";
import { connect, namedPositionals, parseCommandLine, printJson, printLine } from "../command-line.js";
import { formatTable, formatTime } from "../format.js";
import { resolveModelId } from "../resolve.js";
import { UsageError, type CliCommand } from "../usage-error.js";

function scopeOf(value: string | undefined): ApiKeyScope {
  const scope = API_KEY_SCOPES.find((candidate) => candidate === (value ?? "inference"));
  if (scope === undefined) throw new UsageError(`--scope must be ${API_KEY_SCOPES.join(", ")}, got '${value}'`);
  return scope;
}

function limits(key: ApiKey): string {
  const parts = [
    ...(key.model_ids !== null ? [`models ${key.model_ids.join(",")}`] : []),
    ...(key.environment_names !== null ? [`environments ${key.environment_names.join(",")}`] : []),
  ];
  return parts.length === 0 ? "-" : parts.join("; ");
}

/** A key by id or by name (names are unique among live keys). */
async function resolveKeyId(client: ModelplaneClient, idOrName: string): Promise<string> {
  const keys = await client.listApiKeys();
  const found = keys.find((key) => key.id === idOrName) ?? keys.find((key) => key.name === idOrName);
  if (found === undefined) throw new UsageError(`no live API key with id or name '${idOrName}'; see 'modelplane keys list'`);
  return found.id;
}

export const keysCommand: CliCommand = {
  name: "keys",
  summary: "create, list and revoke API keys (admin, inference, metrics)",
  usage: [
    "modelplane keys create <name> [--scope admin|inference|metrics] [--model M]… [--env E]… [--json]",
    "modelplane keys list [--json]",
    "modelplane keys revoke <id|name>",
  ].join("\n       "),
  help: [
    "  --scope S   admin: everything; inference (default): predict only; metrics: GET /metrics only",
    "  --model M   inference keys: limit to this model (id or name); repeat for several",
    "  --env E     inference keys: limit to this environment name; repeat for several (such a key",
    "              cannot call the per-deployment or development endpoints)",
    "create prints the secret once on stdout (it is stored hashed and never shown again); revoke takes",
    "effect at once on this engine and within 5 s on every engine sharing its PostgreSQL",
  ].join("\n"),
  async run(args) {
    const { values, positionals } = parseCommandLine(args, {
      json: { type: "boolean" },
      scope: { type: "string" },
      model: { type: "string", multiple: true },
      env: { type: "string", multiple: true },
    });
    const [action, ...rest] = positionals;
    const client = connect(values);
    if (action === "create") {
      const { name } = namedPositionals(rest, ["name"]);
      const scope = scopeOf(values.scope);
      const modelIds = values.model === undefined ? undefined : await Promise.all(values.model.map((model) => resolveModelId(client, model)));
      const created = await client.createApiKey({
        name,
        scope,
        ...(modelIds !== undefined ? { model_ids: modelIds } : {}),
        ...(values.env !== undefined ? { environment_names: values.env } : {}),
      });
      if (values.json) printJson(created);
      else {
        // the secret alone on stdout, so `KEY=$(modelplane keys create x)` works; the rest on stderr
        printLine(created.key);
        process.stderr.write(`created API key ${created.name} (${created.id}), scope ${created.scope}, ${limits(created)}: shown this once, store it now\n`);
      }
      return 0;
    }
    if (action === "list") {
      namedPositionals(rest, []);
      const keys = await client.listApiKeys();
      if (values.json) printJson({ api_keys: keys });
      else {
        printLine(formatTable(
          ["id", "name", "scope", "limits", "prefix", "created", "last used"],
          keys.map((key) => [key.id, key.name, key.scope, limits(key), `${key.prefix}…`, formatTime(key.created_at), formatTime(key.last_used_at)]),
        ));
      }
      return 0;
    }
    if (action === "revoke") {
      const { key } = namedPositionals(rest, ["key"]);
      const id = await resolveKeyId(client, key);
      await client.revokeApiKey(id);
      printLine(`revoked API key ${id}`);
      return 0;
    }
    throw new UsageError(action === undefined ? "missing action: create, list or revoke" : `unknown action '${action}': create, list or revoke`);
  },
};
