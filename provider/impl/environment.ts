/**
 * Environment: a stable endpoint around one current deployment. Changing `deploymentId` is an
 * update, and the update *is* the promotion: it starts it with the environment's settings, reports
 * one line per status, step and traffic change (the environment's live status in `pulumi up`), and
 * returns only when the promotion has ended. `production` is adopted, never created or deleted.
 *
 * A promotion that did not succeed fails the update as a partial failure: the state records what
 * really serves (and the failed promotion in `lastPromotion`), so a program put back to that
 * deployment previews clean. The partial failure carries no `reasons`: the engine keeps reasons
 * as the resource's `initErrors` and then updates the resource on every later run whatever its
 * diff says (pulumi/pulumi step_generator: "resource was unchanged, but there were
 * initialization errors"). The reason is reported as the resource's error instead, and the
 * engine's own line for the failure reads "resource init failed".
 *
 * A change of `variables` or `secrets` rolls the environment's replicas onto the new configuration
 * (engine: sdk/schemas/variables-rollout.ts); the update waits for that roll too, bounded by
 * `promotionTimeoutSeconds`.
 */
import { ConflictError, NotFoundError, TimeoutError } from "../../sdk/client-errors.js";
import type { ModelplaneClient } from "../../sdk/client.js";
import { AutoscalingSettingsPatch } from "../../sdk/schemas/autoscaling.js";
import { DnsLabelName, VariableName } from "../../sdk/schemas/common.js";
import { HeaderRouting } from "../../sdk/schemas/header-routing.js";
import { ShadowSettings } from "../../sdk/schemas/shadow.js";
import { PRODUCTION_ENVIRONMENT_NAME, type Environment } from "../../sdk/schemas/environment.js";
import { isTerminalPromotionStatus, type Promotion } from "../../sdk/schemas/promotion.js";
import { candidateLabel, nameWithId } from "../../sdk/labels.js";
import { describePromotion, PromotionNotSucceededError, waitForPromotion } from "../../sdk/wait.js";
import { z } from "zod";
import { engineClient } from "./connection.js";
import { reportFor, type ResourceReport } from "./report.js";
import {
  camelKeys,
  changedProperties,
  checkFailures,
  likeInputs,
  partialFailure,
  snakeKeys,
  str,
  withoutUnknowns,
  type Props,
  type ResourceImplementation,
} from "./resource.js";

const REPLACE_INPUTS = ["modelId", "name"] as const;
const REPLACE_INPUTS_WITH_WORKSPACE = [...REPLACE_INPUTS, "workspaceEnvironment"] as const;
const UPDATE_INPUTS = ["deploymentId", "promotionSettingsId", "autoscalingSettings", "variables", "secrets", "promotionTimeoutSeconds", "public", "skipChain", "shadow", "headerRouting"] as const;
const DEFAULT_PROMOTION_TIMEOUT_SECONDS = 1800;
/** After a timeout the promotion is canceled gracefully; this bounds the wait for the ramp-down. */
const CANCEL_GRACE_MS = 5 * 60_000;

/** What `check()` validates; field names as the API spells them so messages match the API's. */
const EnvironmentInputs = z
  .object({
    name: DnsLabelName,
    autoscaling_settings: AutoscalingSettingsPatch.optional(),
    promotion_settings_id: z.string().min(1).max(64).optional(),
    deployment_id: z.string().min(1).max(64).optional(),
    variables: z.record(VariableName, z.string().max(65_536)).optional(),
    secrets: z.record(VariableName, z.string().max(65_536)).optional(),
    promotion_timeout_seconds: z.int().min(1).max(86_400).optional(),
    public: z.boolean().optional(),
    workspace_environment: DnsLabelName.optional(),
    skip_chain: z.boolean().optional(),
    shadow: ShadowSettings.optional(),
    header_routing: HeaderRouting.optional(),
  })
  .superRefine((inputs, ctx) => {
    if (inputs.workspace_environment !== undefined && inputs.name !== inputs.workspace_environment) {
      ctx.addIssue({
        code: "custom",
        path: ["name"],
        message: `the model's environment of workspace environment ${inputs.workspace_environment} is named ${inputs.workspace_environment}`,
        params: { rule: "workspace_environment_name" },
      });
    }
    for (const name of Object.keys(inputs.secrets ?? {})) {
      if (inputs.variables && name in inputs.variables) {
        ctx.addIssue({ code: "custom", path: ["secrets", name], message: `${name} is both a variable and a secret`, params: { rule: "unique_variable_name" } });
      }
    }
  });

function record(value: unknown): Record<string, string> {
  return value !== null && typeof value === "object" ? (value as Record<string, string>) : {};
}

function lastPromotionOutput(promotion: Promotion | undefined): Props | undefined {
  if (!promotion) return undefined;
  const finished = promotion.finished_at ? Date.parse(promotion.finished_at) : Date.now();
  return {
    id: promotion.id,
    deploymentId: promotion.deployment_id,
    status: promotion.status,
    kind: promotion.kind,
    durationSeconds: Math.round((finished - Date.parse(promotion.started_at)) / 100) / 10,
    errorMessage: promotion.error_message ?? undefined,
  };
}

function outputs(inputs: Props, environment: Environment, endpoint: string, lastPromotion: unknown): Props {
  return {
    ...inputs,
    currentDeploymentId: environment.current_deployment?.id ?? null,
    endpoint: `${endpoint}${environment.endpoint}`,
    effectivePromotionSettings: camelKeys(environment.promotion_settings),
    lastPromotion: lastPromotion ?? null,
  };
}

async function syncSettings(client: ModelplaneClient, modelId: string, name: string, olds: Props, news: Props): Promise<void> {
  const body: Props = {};
  if (news.autoscalingSettings !== undefined && changedProperties(olds, news, ["autoscalingSettings"]).length > 0) {
    body.autoscaling_settings = snakeKeys(news.autoscalingSettings);
  }
  if (changedProperties(olds, news, ["promotionSettingsId"]).length > 0) {
    body.promotion_settings_id = str(news.promotionSettingsId) ?? null;
  }
  // Left out of the program, an environment is private (the engine's default).
  if (changedProperties(olds, news, ["public"]).length > 0) body.public = news.public === true;
  // The whole shadow, or null when the program has none: never a promotion, the traffic stays.
  if (changedProperties(olds, news, ["shadow"]).length > 0) body.shadow = news.shadow === undefined ? null : (snakeKeys(news.shadow) ?? null);
  // The same for header routing: off (null) when the program has none.
  if (changedProperties(olds, news, ["headerRouting"]).length > 0) {
    body.header_routing = news.headerRouting === undefined ? null : (snakeKeys(news.headerRouting) ?? null);
  }
  if (Object.keys(body).length > 0) {
    await client.call("patchEnvironment", { params: { model_id: modelId, env_name: name }, body: body as never });
  }
}

/** Make the engine's variables match the program's; secrets are compared by value, never printed.
 * True when anything changed (the environment's replicas then roll onto the new configuration). */
async function syncVariables(client: ModelplaneClient, modelId: string, name: string, olds: Props, news: Props): Promise<boolean> {
  let changed = false;
  for (const [field, secret] of [["variables", false], ["secrets", true]] as const) {
    const before = record(olds[field]);
    const after = record(news[field]);
    for (const [variable, value] of Object.entries(after)) {
      if (before[variable] === value) continue;
      await client.call("putVariable", { params: { model_id: modelId, env_name: name, name: variable }, body: { value, secret } });
      changed = true;
    }
    for (const variable of Object.keys(before)) {
      if (variable in after) continue;
      try {
        await client.call("deleteVariable", { params: { model_id: modelId, env_name: name, name: variable } });
        changed = true;
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
      }
    }
  }
  return changed;
}

/** How often the rollout of a variables change is polled while `pulumi up` waits for it. */
const ROLLOUT_POLL_MS = 500;

/**
 * A change of variables or secrets rolls the environment's replicas (new ones with the new
 * configuration first, old ones drained last); like a promotion, the update returns only when the
 * roll is done, reporting a line per change of its progress.
 */
async function waitForVariablesRollout(client: ModelplaneClient, report: ResourceReport, modelId: string, name: string, timeoutSeconds: number): Promise<void> {
  const params = { model_id: modelId, env_name: name };
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last = "";
  for (;;) {
    const rollout = await client.call("getVariablesRollout", { params });
    if (rollout.status !== "IN_PROGRESS") {
      if (last !== "") await report.progress(`${name}: replicas rolled onto the new variables (${rollout.replicas.updated_ready}/${rollout.replicas.desired} updated)`);
      return;
    }
    const line = `${name}: rolling replicas onto the new variables: ${rollout.replicas.updated_ready}/${rollout.replicas.desired} updated, ${rollout.replicas.outdated} with the previous ones`;
    if (line !== last) await report.progress(line);
    last = line;
    if (Date.now() > deadline) {
      throw new Error(`the replicas of ${name} did not roll onto the new variables within ${timeoutSeconds} s (${rollout.replicas.updated_ready}/${rollout.replicas.desired} updated, ${rollout.replicas.outdated} outdated); the variables are set and the roll goes on`);
    }
    await new Promise((resolve) => setTimeout(resolve, ROLLOUT_POLL_MS));
  }
}

/** A promotion still running at promotionTimeoutSeconds, canceled gracefully; carries how it ended. */
class PromotionTimeoutError extends Error {
  constructor(
    message: string,
    readonly promotion: Promotion,
  ) {
    super(message);
  }
}

/** What serves the environment, as `v1 (dep_…)`; null when nothing does yet. */
function servingLabel(environment: Environment): string | null {
  const serving = environment.current_deployment;
  return serving ? nameWithId(serving.name, serving.id) : null;
}

/**
 * Make `deploymentId` the environment's current deployment: start a promotion (or join the one
 * already moving to it, e.g. after an interrupted `pulumi up`) and follow it to its end.
 */
async function promoteAndWait(
  client: ModelplaneClient,
  report: ResourceReport,
  modelId: string,
  name: string,
  deploymentId: string,
  timeoutSeconds: number,
  skipChain: boolean,
): Promise<Promotion | undefined> {
  const params = { model_id: modelId, env_name: name };
  const environment = await client.call("getEnvironment", { params });
  // `in_progress_promotion` keeps the last promotion with its terminal status: only a running one is joined or conflicts.
  const latest = environment.in_progress_promotion;
  const inProgress = latest !== null && !isTerminalPromotionStatus(latest.status) ? latest : null;
  if (!inProgress && environment.current_deployment?.id === deploymentId) return undefined;
  let promotion: Promotion;
  if (inProgress && inProgress.deployment_id === deploymentId) {
    await report.progress(`${name}: joining the promotion to ${candidateLabel(inProgress)} already in progress (${inProgress.status})`);
    promotion = inProgress;
  } else if (inProgress) {
    throw new ConflictError(
      "CONFLICT",
      `environment ${name} already has a promotion in progress to ${candidateLabel(inProgress)}: ${inProgress.status}, ${inProgress.percent_traffic_to_new_version} % of traffic moved; ` +
        `wait for it to end or cancel it (modelplane cancel ${modelId} ${name}), then run the update again`,
    );
  } else {
    promotion = await client.call("promote", { params, body: { deployment_id: deploymentId, ...(skipChain ? { skip_chain: true } : {}) } });
    const serving = servingLabel(environment);
    await report.progress(`${name}: promoting ${candidateLabel(promotion)}${serving ? ` in place of ${serving}` : ""} (${promotion.kind.toLowerCase()})`);
  }
  const target = { modelId, environment: name, promotionId: promotion.id };
  // Reports queue in order; the wait does not stall on their delivery.
  let reported = Promise.resolve();
  const onProgress = (p: Promotion) => void (reported = reported.then(() => report.progress(`${name}: ${describePromotion(p)}`)));
  try {
    const succeeded = await waitForPromotion(client, target, { onProgress, deadline: Date.now() + timeoutSeconds * 1000 });
    await reported;
    return succeeded;
  } catch (error) {
    await reported;
    if (!(error instanceof TimeoutError)) throw error;
    await report.progress(`${name}: the promotion to ${candidateLabel(promotion)} is still running after ${timeoutSeconds} s: canceling it gracefully`);
    try {
      await client.call("cancelPromotion", { params });
    } catch (cancelError) {
      if (!(cancelError instanceof ConflictError)) throw cancelError;
    }
    const final = await waitForPromotion(client, target, { onProgress, deadline: Date.now() + CANCEL_GRACE_MS }).catch((e: unknown) => {
      if (e instanceof PromotionNotSucceededError) return e.promotion;
      throw e;
    });
    await reported;
    throw new PromotionTimeoutError(
      `promotion of ${candidateLabel(promotion)} to ${name} did not finish within promotionTimeoutSeconds=${timeoutSeconds}; ` +
        `it was canceled gracefully (final status ${final.status}, ${final.percent_traffic_to_new_version} % of traffic on the candidate)`,
      final,
    );
  }
}

/** Settings, variables, then the promotion; on a failed promotion the state keeps the deployment really serving. */
async function apply(id: string, olds: Props, news: Props): Promise<Props> {
  const client = engineClient();
  const report = reportFor(news);
  const modelId = String(news.modelId);
  const name = String(news.name);
  await syncSettings(client, modelId, name, olds, news);
  const variablesChanged = await syncVariables(client, modelId, name, olds, news);
  let lastPromotion: Props | undefined;
  const deploymentId = str(news.deploymentId);
  const timeout = typeof news.promotionTimeoutSeconds === "number" ? news.promotionTimeoutSeconds : DEFAULT_PROMOTION_TIMEOUT_SECONDS;
  if (deploymentId) {
    try {
      lastPromotion = lastPromotionOutput(await promoteAndWait(client, report, modelId, name, deploymentId, timeout, news.skipChain === true));
    } catch (error) {
      const environment = await client.call("getEnvironment", { params: { model_id: modelId, env_name: name } });
      const ended = error instanceof PromotionNotSucceededError || error instanceof PromotionTimeoutError ? error.promotion : undefined;
      const failed = lastPromotionOutput(ended);
      const state = outputs({ ...news, deploymentId: environment.current_deployment?.id ?? null }, environment, client.endpoint, failed ?? olds.lastPromotion);
      const serving = servingLabel(environment);
      const message = `${(error as Error).message}; ${serving ? `${name} is still served by ${serving}` : `nothing serves ${name} yet`}`;
      await report.error(message);
      throw partialFailure(message, id, { ...state, __provider: news.__provider }, []);
    }
  }
  // After the promotion: a new current deployment already started with the new configuration, and
  // the wait covers whichever deployment serves now.
  if (variablesChanged) await waitForVariablesRollout(client, report, modelId, name, timeout);
  const environment = await client.call("getEnvironment", { params: { model_id: modelId, env_name: name } });
  // Nothing promoted (already serving): the last promotion stays what it was.
  return outputs(news, environment, client.endpoint, lastPromotion ?? olds.lastPromotion);
}

/** The engine's value with only the (nested) fields the program set: its defaults are not drift. */
function sameShape(set: unknown, value: unknown): unknown {
  const isObject = (v: unknown): v is Props => v !== null && typeof v === "object" && !Array.isArray(v);
  if (!isObject(set) || !isObject(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => set[key] !== undefined).map(([key, inner]) => [key, sameShape(set[key], inner)]));
}

/**
 * The promotion chain at preview: a `deploymentId` that changes to a deployment which has not passed
 * the environment's required one (GET /v1/models/{id}/chain) fails `check` with the engine's own
 * message, so `pulumi preview` stops before anything runs. Only when everything is known and the
 * engine answers: otherwise the engine's 409 at `up` says the same.
 */
async function chainFailures(olds: Props, known: Partial<Props>): Promise<{ property: string; reason: string }[]> {
  const modelId = str(known.modelId);
  const name = str(known.name);
  const deploymentId = str(known.deploymentId);
  if (!modelId || !name || !deploymentId || known.skipChain === true || olds.deploymentId === deploymentId) return [];
  let stage;
  try {
    // an engine that does not answer within 5 s is not asked again: its 409 at `up` says the same
    const chain = await engineClient({ timeoutMs: 5_000, retryBudgetMs: 0 }).modelChain(modelId);
    stage = chain.deployments.find((entry) => entry.deployment_id === deploymentId)?.stages.find((entry) => entry.environment === name);
  } catch {
    return [];
  }
  if (!stage || stage.can_promote || stage.serving || stage.blocked_by === null) return [];
  return [{ property: "deploymentId", reason: `deploymentId: ${stage.blocked_by}` }];
}

export const environmentImplementation: ResourceImplementation = {
  async check(olds, news) {
    const known = withoutUnknowns(news);
    const failures = checkFailures(EnvironmentInputs, {
      name: known.name,
      autoscaling_settings: snakeKeys(known.autoscalingSettings),
      promotion_settings_id: known.promotionSettingsId,
      deployment_id: known.deploymentId,
      variables: known.variables,
      secrets: known.secrets,
      promotion_timeout_seconds: known.promotionTimeoutSeconds,
      public: known.public,
      workspace_environment: known.workspaceEnvironment,
      skip_chain: known.skipChain,
      shadow: snakeKeys(known.shadow),
      header_routing: snakeKeys(known.headerRouting),
    });
    if (failures.length === 0) failures.push(...(await chainFailures(olds, known)));
    return { inputs: news, failures: failures.map((f) => ({ ...f, reason: f.reason.replace(/^secrets\.[A-Z0-9_]+: /, "secrets: ") })) };
  },
  async diff(_id, olds, news) {
    const replaces = changedProperties(olds, news, REPLACE_INPUTS_WITH_WORKSPACE);
    const updates = changedProperties(olds, news, UPDATE_INPUTS);
    // Names are unique per model: the replacement can only be created once the old one is gone.
    return { changes: replaces.length + updates.length > 0, replaces, deleteBeforeReplace: true };
  },
  async create(inputs) {
    const client = engineClient();
    const modelId = String(inputs.modelId);
    const name = String(inputs.name);
    // production, and a model's environment of a workspace environment, exist with the model
    const adopted = name === PRODUCTION_ENVIRONMENT_NAME || str(inputs.workspaceEnvironment) !== undefined;
    if (!adopted) {
      await client.call("createEnvironment", {
        params: { model_id: modelId },
        body: {
          name,
          autoscaling_settings: snakeKeys(inputs.autoscalingSettings),
          promotion_settings_id: str(inputs.promotionSettingsId),
          ...(inputs.public === true ? { public: true } : {}),
        } as never,
      });
    }
    const id = `${modelId}/${name}`;
    // Adopting production: settings the program does not set stay as they are on the engine.
    const olds: Props = adopted
      ? {}
      : { autoscalingSettings: inputs.autoscalingSettings, promotionSettingsId: inputs.promotionSettingsId, public: inputs.public };
    const outs = await apply(id, olds, inputs);
    return { id, outs: { ...outs, adopted } };
  },
  async read(id, props) {
    const client = engineClient();
    const [modelId, name] = id.split("/") as [string, string];
    const environment = await client.call("getEnvironment", { params: { model_id: modelId, env_name: name } });
    const { promotions } = await client.call("listPromotions", { params: { model_id: modelId, env_name: name } });
    // What the engine says, shaped like what the program set: secrets cannot be read back, so
    // they stay as recorded; engine defaults the program did not set are not drift.
    const fromEngine: Props = {
      modelId,
      name,
      deploymentId: environment.current_deployment?.id ?? null,
      promotionSettingsId: environment.promotion_settings_id,
      variables: Object.fromEntries(environment.variables.filter((v) => !v.secret).map((v) => [v.name, v.value ?? ""])),
      autoscalingSettings: camelKeys(environment.autoscaling_settings),
      public: environment.public,
      shadow: environment.shadow === null ? undefined : sameShape(props.shadow, camelKeys(environment.shadow)),
      headerRouting: environment.header_routing === null ? undefined : sameShape(props.headerRouting, camelKeys(environment.header_routing)),
    };
    // The recorded inputs keep the resource's URN too: its later reports (a delete's note) need it.
    const recorded = Object.fromEntries(Object.entries(props).filter(([key]) => [...REPLACE_INPUTS, ...UPDATE_INPUTS, "resourceUrn"].includes(key as never)));
    const inputs: Props = { ...recorded, ...likeInputs({ ...recorded, modelId: true, name: true }, fromEngine) };
    const finished = promotions.find((p) => isTerminalPromotionStatus(p.status));
    return { id, props: { ...outputs(inputs, environment, client.endpoint, lastPromotionOutput(finished)), adopted: props.adopted }, inputs };
  },
  async update(id, olds, news) {
    const outs = await apply(id, olds, news);
    return { outs: { ...outs, adopted: olds.adopted } };
  },
  async delete(id, props) {
    const [modelId, name] = id.split("/") as [string, string];
    if (props.adopted || name === PRODUCTION_ENVIRONMENT_NAME) {
      // Detach: keep the settings it runs with, but inline, so the stack's PromotionSettings
      // object (deleted next) is no longer referenced.
      const client = engineClient();
      const params = { model_id: modelId, env_name: name };
      try {
        const environment = await client.call("getEnvironment", { params });
        if (environment.promotion_settings_id !== null) {
          await client.call("patchEnvironment", { params, body: { promotion_settings_id: null, promotion_settings: environment.promotion_settings } });
        }
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
        return;
      }
      await reportFor(props).note(
        name === PRODUCTION_ENVIRONMENT_NAME
          ? `production environment of model ${modelId} detached from this stack: production is deleted only with its model`
          : `environment ${name} of model ${modelId} detached from this stack: it is the model's environment of workspace environment ${name}, deleted with it`,
      );
      return;
    }
    try {
      await engineClient().call("deleteEnvironment", { params: { model_id: modelId, env_name: name } });
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  },
};
