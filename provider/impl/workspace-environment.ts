/**
 * WorkspaceEnvironment: one environment for every model. Created with POST /v1/environments,
 * updated with one PATCH (variables and secrets merged by name, a removed one sent as null), read
 * back without secret values (they stay as recorded). A change of its variables or secrets rolls
 * every model's environment of it whose effective values changed; the update waits for those
 * rolls, like an Environment's variables change does.
 */
import { NotFoundError } from "../../sdk/client-errors.js";
import type { ModelplaneClient } from "../../sdk/client.js";
import { CreateWorkspaceEnvironmentBody, type WorkspaceEnvironment } from "../../sdk/schemas/workspace-environment.js";
import type { RouteBodyInput } from "../../sdk/contract.js";
import { engineClient } from "./connection.js";
import { reportFor, type ResourceReport } from "./report.js";
import { changedProperties, checkFailures, likeInputs, str, withoutUnknowns, type Props, type ResourceImplementation } from "./resource.js";

const REPLACE_INPUTS = ["name"] as const;
const UPDATE_INPUTS = ["description", "variables", "secrets", "promotionSettingsId", "requires", "minSoakSeconds", "rolloutTimeoutSeconds"] as const;
const DEFAULT_ROLLOUT_TIMEOUT_SECONDS = 1800;
const ROLLOUT_POLL_MS = 500;

function record(value: unknown): Record<string, string> {
  if (value === null || typeof value !== "object") return {};
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

function num(value: unknown): number | undefined {
  return typeof value === "number" ? value : undefined;
}

/** The API body of a create, from the inputs (unset inputs left to the engine's defaults). */
function createBody(inputs: Props): RouteBodyInput<"createWorkspaceEnvironment"> {
  const description = str(inputs.description);
  const promotionSettingsId = str(inputs.promotionSettingsId);
  const requires = str(inputs.requires);
  const minSoakSeconds = num(inputs.minSoakSeconds);
  return {
    name: String(inputs.name),
    ...(description !== undefined ? { description } : {}),
    ...(inputs.variables !== undefined ? { variables: record(inputs.variables) } : {}),
    ...(inputs.secrets !== undefined ? { secrets: record(inputs.secrets) } : {}),
    ...(promotionSettingsId !== undefined ? { promotion_settings_id: promotionSettingsId } : {}),
    ...(requires !== undefined ? { requires } : {}),
    ...(minSoakSeconds !== undefined ? { min_soak_seconds: minSoakSeconds } : {}),
  };
}

/** Set what changed, null for a variable or secret no longer in the program. */
function changes(before: Record<string, string>, after: Record<string, string>): Record<string, string | null> | undefined {
  const out: Record<string, string | null> = {};
  for (const [name, value] of Object.entries(after)) if (before[name] !== value) out[name] = value;
  for (const name of Object.keys(before)) if (!(name in after)) out[name] = null;
  return Object.keys(out).length > 0 ? out : undefined;
}

function outputs(inputs: Props, environment: WorkspaceEnvironment): Props {
  return { ...inputs, environmentName: environment.name, modelsCount: environment.models_count };
}

/** Wait until every model's environment of it has rolled onto its current variables. */
async function waitForRollouts(client: ModelplaneClient, report: ResourceReport, name: string, timeoutSeconds: number): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last = "";
  for (;;) {
    const entries = await client.listWorkspaceEnvironmentDeployments(name);
    let rolling = 0;
    for (const entry of entries) {
      if (entry.current_deployment === null) continue;
      const rollout = await client.call("getVariablesRollout", { params: { model_id: entry.model_id, env_name: name } });
      if (rollout.status === "IN_PROGRESS") rolling++;
    }
    if (rolling === 0) {
      if (last !== "") await report.progress(`${name}: every model's replicas rolled onto the new variables`);
      return;
    }
    const line = `${name}: rolling replicas onto the new variables in ${rolling} model(s)`;
    if (line !== last) await report.progress(line);
    last = line;
    if (Date.now() > deadline) {
      throw new Error(`the replicas of ${name} did not roll onto the new variables within ${timeoutSeconds} s in ${rolling} model(s); the variables are set and the rolls go on`);
    }
    await new Promise((resolve) => setTimeout(resolve, ROLLOUT_POLL_MS));
  }
}

export const workspaceEnvironmentImplementation: ResourceImplementation = {
  async check(_olds, news) {
    // the API's own schema: the same field names and rules as a POST /v1/environments; values not
    // known yet (another resource's output at preview) are checked once known
    const known = withoutUnknowns(news);
    const failures = checkFailures(CreateWorkspaceEnvironmentBody, createBody({ ...known, name: typeof known.name === "string" ? known.name : "not-known-yet" }));
    return { inputs: news, failures: failures.map((failure) => ({ ...failure, reason: failure.reason.replace(/^secrets\.[A-Z0-9_]+: /, "secrets: ") })) };
  },
  async diff(_id, olds, news) {
    const replaces = changedProperties(olds, news, REPLACE_INPUTS);
    const updates = changedProperties(olds, news, UPDATE_INPUTS);
    // Names are unique: the replacement can only be created once the old one is gone.
    return { changes: replaces.length + updates.length > 0, replaces, deleteBeforeReplace: true };
  },
  async create(inputs) {
    const environment = await engineClient().createWorkspaceEnvironment(createBody(inputs));
    return { id: environment.name, outs: outputs(inputs, environment) };
  },
  async read(id, props) {
    const environment = await engineClient().getWorkspaceEnvironment(id);
    const fromEngine: Props = {
      name: environment.name,
      description: environment.description,
      variables: Object.fromEntries(environment.variables.filter((variable) => !variable.secret).map((variable) => [variable.name, variable.value ?? ""])),
      promotionSettingsId: environment.promotion_settings_id ?? undefined,
      requires: environment.requires ?? undefined,
      minSoakSeconds: environment.min_soak_seconds,
    };
    // secrets cannot be read back: they stay as recorded; engine defaults the program did not set are no drift
    const recorded = Object.fromEntries(Object.entries(props).filter(([key]) => [...REPLACE_INPUTS, ...UPDATE_INPUTS, "resourceUrn"].includes(key as (typeof UPDATE_INPUTS)[number])));
    const inputs: Props = { ...recorded, ...likeInputs({ ...recorded, name: true }, fromEngine) };
    return { id, props: outputs(inputs, environment), inputs };
  },
  async update(id, olds, news) {
    const client = engineClient();
    const body: RouteBodyInput<"patchWorkspaceEnvironment"> = {};
    if (changedProperties(olds, news, ["description"]).length > 0) body.description = str(news.description) ?? "";
    const variables = changes(record(olds.variables), record(news.variables));
    if (variables) body.variables = variables;
    const secrets = changes(record(olds.secrets), record(news.secrets));
    if (secrets) body.secrets = secrets;
    if (changedProperties(olds, news, ["promotionSettingsId"]).length > 0) body.promotion_settings_id = str(news.promotionSettingsId) ?? null;
    if (changedProperties(olds, news, ["requires"]).length > 0) body.requires = str(news.requires) ?? null;
    if (changedProperties(olds, news, ["minSoakSeconds"]).length > 0) body.min_soak_seconds = num(news.minSoakSeconds) ?? 0;
    const environment = Object.keys(body).length > 0 ? await client.patchWorkspaceEnvironment(id, body) : await client.getWorkspaceEnvironment(id);
    if (variables || secrets) {
      await waitForRollouts(client, reportFor(news), id, num(news.rolloutTimeoutSeconds) ?? DEFAULT_ROLLOUT_TIMEOUT_SECONDS);
    }
    return { outs: outputs(news, environment) };
  },
  async delete(id) {
    try {
      await engineClient().deleteWorkspaceEnvironment(id);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  },
};
