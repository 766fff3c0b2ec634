/**
 * Deployment: an immutable, runnable version of a model. Changing how it runs replaces it (the new
 * one is created first, the old one deleted after the environments moved off it), so pointing an
 * environment at the replacement is what triggers a promotion.
 */
import { ConflictError, NotFoundError } from "../../sdk/client-errors.js";
import { CreateDeploymentBody, type Deployment } from "../../sdk/schemas/deployment.js";
import { nameWithId } from "../../sdk/labels.js";
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

/** Inputs that say how a replica runs: any change makes a new deployment. */
const RUN_INPUTS = ["modelId", "command", "cwd", "image", "port", "readinessPath", "predictPath", "env", "resources"] as const;
/** Inputs changed in place. */
const MUTABLE_INPUTS = ["name", "autoscalingSettings"] as const;

/** How long create waits for the first replica before failing; the engine fails crash loops sooner. */
const READY_TIMEOUT_MS = 10 * 60_000;

function body(inputs: Props): Props {
  return {
    name: inputs.name,
    command: inputs.command,
    cwd: inputs.cwd,
    image: inputs.image,
    port: inputs.port,
    readiness_path: inputs.readinessPath,
    predict_path: inputs.predictPath,
    env: inputs.env,
    resources: inputs.resources,
    autoscaling_settings: snakeKeys(inputs.autoscalingSettings),
  };
}

function outputs(inputs: Props, deployment: Deployment, endpoint: string): Props {
  return {
    ...inputs,
    deploymentId: deployment.id,
    name: deployment.name,
    status: deployment.status,
    endpoint: `${endpoint}/models/${deployment.model_id}/deployment/${deployment.id}/predict`,
  };
}

/** Wait until the deployment has started (ACTIVE, or SCALED_TO_ZERO after a first ready replica) or failed. */
async function waitUntilStarted(report: ResourceReport, modelId: string, deploymentId: string): Promise<Deployment> {
  const client = engineClient();
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastStatus = "";
  for (;;) {
    const deployment = await client.call("getDeployment", { params: { model_id: modelId, deployment_id: deploymentId } });
    if (deployment.status !== lastStatus) {
      await report.progress(`deployment ${nameWithId(deployment.name, deployment.id)}: ${deployment.status}, replicas ${deployment.replicas.ready}/${deployment.replicas.desired} ready`);
      lastStatus = deployment.status;
    }
    if (deployment.status === "ACTIVE" || deployment.status === "SCALED_TO_ZERO") return deployment;
    if (deployment.status === "FAILED" || deployment.status === "UNHEALTHY") {
      throw new Error(`deployment ${nameWithId(deployment.name, deployment.id)} failed to start: ${deployment.error_message ?? deployment.status}`);
    }
    if (Date.now() > deadline) throw new Error(`deployment ${nameWithId(deployment.name, deployment.id)} not ready after ${READY_TIMEOUT_MS / 1000} s (status ${deployment.status})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export const deploymentImplementation: ResourceImplementation = {
  async check(_olds, news) {
    const known = withoutUnknowns(news);
    return { inputs: news, failures: checkFailures(CreateDeploymentBody, body(known), { model_id: "modelId" }) };
  },
  async diff(_id, olds, news) {
    const replaces = changedProperties(olds, news, RUN_INPUTS);
    // An unset name or autoscaling input leaves the engine's value alone: not a change.
    const updates = changedProperties(olds, news, MUTABLE_INPUTS.filter((key) => news[key] !== undefined));
    // A custom name is unique per model: a replacement keeping it can only exist once the old one is gone.
    const keepsCustomName = typeof news.name === "string" && news.name === olds.name;
    return { changes: replaces.length + updates.length > 0, replaces, deleteBeforeReplace: replaces.length > 0 && keepsCustomName };
  },
  async create(inputs) {
    const client = engineClient();
    const modelId = String(inputs.modelId);
    const created = await client.call("createDeployment", { params: { model_id: modelId }, body: body(inputs) as never });
    try {
      const started = await waitUntilStarted(reportFor(inputs), modelId, created.id);
      return { id: created.id, outs: outputs(inputs, started, client.endpoint) };
    } catch (error) {
      // The deployment exists on the engine; record it so a fixed program replaces (and deletes) it.
      throw partialFailure((error as Error).message, created.id, { ...outputs(inputs, created, client.endpoint), __provider: inputs.__provider });
    }
  },
  async read(id, props) {
    const client = engineClient();
    const deployment = await client.call("getDeployment", { params: { model_id: String(props.modelId), deployment_id: id } });
    const inputs: Props = {
      modelId: deployment.model_id,
      command: deployment.command.length > 0 ? deployment.command : undefined,
      cwd: deployment.cwd,
      image: deployment.image,
      port: deployment.port,
      readinessPath: deployment.readiness_path,
      predictPath: deployment.predict_path,
      env: deployment.env,
      resources: deployment.resources,
      autoscalingSettings: camelKeys(deployment.autoscaling_settings),
      name: deployment.name,
    };
    // Keep only what the program set, so defaults filled in by the engine do not read as drift.
    const kept = likeInputs({ ...props, modelId: true }, inputs);
    return { id, props: outputs({ ...props, ...kept }, deployment, client.endpoint), inputs: kept };
  },
  async update(id, olds, news) {
    const client = engineClient();
    const params = { model_id: String(news.modelId), deployment_id: id };
    let deployment: Deployment | undefined;
    if (str(news.name) !== undefined && news.name !== olds.name) {
      deployment = await client.call("patchDeployment", { params, body: { name: String(news.name) } });
    }
    if (news.autoscalingSettings !== undefined && changedProperties(olds, news, ["autoscalingSettings"]).length > 0) {
      deployment = await client.call("updateDeploymentAutoscalingSettings", { params, body: snakeKeys(news.autoscalingSettings) as never });
    }
    deployment ??= await client.call("getDeployment", { params });
    return { outs: outputs(news, deployment, client.endpoint) };
  },
  async delete(id, props) {
    try {
      await engineClient().call("deleteDeployment", { params: { model_id: String(props.modelId), deployment_id: id } });
    } catch (error) {
      if (error instanceof ConflictError) {
        // It still serves an environment (typically production, which a stack cannot delete): it
        // leaves the stack but stays on the engine, deleted with its model (the model's delete,
        // usually next, says so) or once another deployment serves there.
        const label = nameWithId(typeof props.name === "string" ? props.name : undefined, id);
        const environment = typeof error.details.environment === "string" ? error.details.environment : undefined;
        await reportFor(props).note(
          environment
            ? `deployment ${label} kept on the engine: it serves ${environment}; it is deleted with its model, or once another deployment serves ${environment}`
            : `deployment ${label} kept on the engine: ${error.message}`,
        );
        return;
      }
      if (!(error instanceof NotFoundError)) throw error;
    }
  },
};
