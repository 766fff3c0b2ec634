import { readFile } from "node:fs/promises";
import { request } from "undici";
import { ModelplaneError } from "../../sdk/errors.js";
import { DEFAULT_TARGET_HEADER } from "../../sdk/schemas/header-routing.js";
import type { Environment } from "../../sdk/schemas/environment.js";
import { nameWithId } from "../../sdk/labels.js";
import { connect, namedPositionals, parseCommandLine, printLine } from "../command-line.js";
import { resolveDeployment, resolveModelId } from "../resolve.js";
import { UsageError, type CliCommand } from "../usage-error.js";

/** Set by the data plane on every answer: which deployment's replica answered. */
const DEPLOYMENT_ID_HEADER = "x-modelplane-deployment-id";
/** A deployment scaled to zero holds the request until a replica is ready (engine default 60 s): wait longer than that. */
const PREDICT_TIMEOUT_MS = 120_000;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** `--data '{"text": "…"}'`, `--data @input.json` or `--data @-` (stdin); must be JSON. */
async function requestBody(data: string | undefined): Promise<string> {
  if (data === undefined) return "{}";
  if (!data.startsWith("@")) {
    try {
      JSON.parse(data);
    } catch (error) {
      throw new UsageError(`--data is not JSON (${(error as Error).message}); use --data @file for a file`);
    }
    return data;
  }
  const source = data.slice(1);
  const text = source === "-" ? await readStdin() : await readFile(source, "utf8");
  try {
    JSON.parse(text);
  } catch (error) {
    throw new Error(`--data ${data}: not JSON (${(error as Error).message})`);
  }
  return text;
}

/** The engine's message when the body is its error shape, else the body itself (a model's own error). */
function errorMessageOf(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } };
    if (typeof parsed.error?.message === "string") return parsed.error.message;
  } catch {
    // not JSON: print as is
  }
  return text.slice(0, 2000);
}

/** `--header 'name: value'` (or `name:value`) as a [name, value] pair. */
function parseHeader(option: string): [string, string] {
  const colon = option.indexOf(":");
  const name = colon === -1 ? "" : option.slice(0, colon).trim();
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new UsageError(`--header '${option}': expected name:value, e.g. --header 'x-modelplane-target: candidate'`);
  return [name.toLowerCase(), option.slice(colon + 1).trim()];
}

/** After the answering deployment, with --candidate: whether it was the candidate, or why not. */
function candidateNote(environment: Environment | undefined, envName: string, answeredBy: string): string {
  if (environment === undefined) return ""; // not readable with this key: the id above says who answered
  if (environment.header_routing === null) return ` (not the candidate: header routing is off in ${envName}; set its header_routing)`;
  const candidate = environment.candidate_deployment;
  if (candidate === null) return ` (no promotion in progress in ${envName}: the usual traffic split answered)`;
  return candidate.id === answeredBy ? " (the candidate)" : ` (not the candidate ${nameWithId(candidate.name, candidate.id)})`;
}

/** An engine-minted id (`mdl_…`, `dep_…`: a prefix, '_', 12 base-36 characters), not a name. */
const OBJECT_ID = /^(mdl|dep)_[0-9a-z]{12}$/;

export const predictCommand: CliCommand = {
  name: "predict",
  summary: "send a prediction request to an environment (default production), a deployment or development",
  usage:
    "modelplane predict <model> [--env E | --deployment D | --development] [--data JSON | --data @file]\n" +
    "       [--candidate] [--header 'name: value']...",
  help: [
    "  --env E          an environment's endpoint (default production)",
    "  --deployment D   one deployment, by id or name",
    "  --development    the development deployment",
    "  --data JSON      request body; @file reads a file, @- reads stdin (default {})",
    "  --candidate      ask the environment's header routing for its in-progress candidate",
    "                   (x-modelplane-target: candidate, or the environment's own header)",
    "  --header H       send a request header, 'name: value' (repeatable), e.g. a header or",
    "                   cookie the environment's header_routing matches",
    "prints the response body on stdout and the answering deployment on stderr (name and id;",
    "with --candidate, whether it was the candidate)",
  ].join("\n"),
  async run(args) {
    const { values, positionals } = parseCommandLine(args, {
      env: { type: "string" },
      deployment: { type: "string" },
      development: { type: "boolean" },
      data: { type: "string" },
      candidate: { type: "boolean" },
      header: { type: "string", multiple: true },
    });
    const { model } = namedPositionals(positionals, ["model"]);
    const targets = [values.env !== undefined, values.deployment !== undefined, values.development === true].filter(Boolean);
    if (targets.length > 1) throw new UsageError("give at most one of --env, --deployment and --development");
    if (values.candidate && (values.deployment !== undefined || values.development)) {
      throw new UsageError("--candidate asks an environment for its candidate: not with --deployment or --development");
    }
    const extraHeaders = (values.header ?? []).map(parseHeader);
    const body = await requestBody(values.data);
    const client = connect(values);
    // Ids are used as given: an inference key cannot read the management API to resolve names.
    const modelId = OBJECT_ID.test(model) ? model : await resolveModelId(client, model);
    const encodedModelId = encodeURIComponent(modelId);
    let path: string;
    if (values.deployment !== undefined) {
      const deploymentId = OBJECT_ID.test(values.deployment) ? values.deployment : (await resolveDeployment(client, modelId, values.deployment)).id;
      path = `/models/${encodedModelId}/deployment/${encodeURIComponent(deploymentId)}/predict`;
    } else if (values.development) {
      path = `/models/${encodedModelId}/development/predict`;
    } else {
      path = `/models/${encodedModelId}/environments/${encodeURIComponent(values.env ?? "production")}/predict`;
    }
    const envName = values.env ?? "production";
    // --candidate: the environment says which header it reads and who the candidate is (read with
    // the management API; an inference-only key cannot, then the default header is sent as is)
    const environment = values.candidate
      ? await client.call("getEnvironment", { params: { model_id: modelId, env_name: envName } }).catch(() => undefined)
      : undefined;
    const headers: Record<string, string> = { "content-type": "application/json" };
    for (const [name, value] of extraHeaders) headers[name] = value;
    if (values.candidate) headers[(environment?.header_routing?.header ?? DEFAULT_TARGET_HEADER).toLowerCase()] = "candidate";
    // The data plane needs a key (the engine removes it before the request reaches a replica).
    const { authorization } = client;
    if (authorization !== undefined) headers["authorization"] = authorization;
    const response = await request(`${client.endpoint}${path}`, {
      method: "POST",
      headers,
      body,
      headersTimeout: PREDICT_TIMEOUT_MS,
      bodyTimeout: PREDICT_TIMEOUT_MS,
    }).catch((error: unknown) => {
      throw new ModelplaneError("ENGINE_UNAVAILABLE", `POST ${path}: engine at ${client.endpoint} unreachable (${(error as { code?: string }).code ?? (error as Error).message})`);
    });
    const text = await response.body.text();
    const answeredBy = response.headers[DEPLOYMENT_ID_HEADER];
    if (typeof answeredBy === "string") {
      // the header carries the id; a person reads the name (the id alone if the lookup fails)
      const name = await client
        .call("getDeployment", { params: { model_id: modelId, deployment_id: answeredBy } })
        .then((deployment) => deployment.name, () => undefined);
      process.stderr.write(`deployment: ${nameWithId(name, answeredBy)}${values.candidate ? candidateNote(environment, envName, answeredBy) : ""}\n`);
    }
    if (response.statusCode >= 400) {
      throw new Error(`predict answered ${response.statusCode}: ${errorMessageOf(text)}`);
    }
    printLine(text.endsWith("\n") ? text.slice(0, -1) : text);
    return 0;
  },
};
