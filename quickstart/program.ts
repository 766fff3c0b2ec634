/**
 * The quickstart's Pulumi program (the root Pulumi.yaml points at its compiled entry): model
 * `sentiment`, deployments v1 and v2 from examples/models, a rolling PromotionSettings, and the
 * staging and production environments. Stack config says which deployment each environment
 * serves, so "promote v2 to production" is a one-line config change — the kind of pull request
 * a platform team reviews.
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { Deployment, Environment, Model, PromotionSettings } from "../provider/index.js";

const modelsDir = resolve(fileURLToPath(import.meta.url), "../../../examples/models");

export function declareQuickstart() {
  const config = new pulumi.Config("quickstart");
  const model = new Model("sentiment", { name: config.get("modelName") ?? "sentiment" });
  // How a version runs: a command for the process runtime; with `quickstart:v1Image` and
  // `quickstart:v2Image` set (the Kubernetes quickstart: an engine with `--runtime kubernetes`), the
  // image of that model server (scripts/kubernetes/build-model-images.sh), on its port 8080.
  const runs = (version: "v1" | "v2") => {
    const image = config.get(`${version}Image`);
    return image !== undefined ? { image, port: 8080 } : { command: ["node", `${modelsDir}/sentiment-${version}/server.js`] };
  };
  // Named as people will read them in every progress line: "production → v2 (dep_…)".
  const deployments = {
    v1: new Deployment("v1", { modelId: model.id, name: "v1", ...runs("v1") }),
    v2: new Deployment("v2", { modelId: model.id, name: "v2", ...runs("v2") }),
  };
  const pick = (key: string) => deployments[(config.get(key) ?? "v1") === "v2" ? "v2" : "v1"].id;
  // 25% surge: one extra replica per step on 4; a 2 s pause after each traffic shift to watch it.
  const rolling = new PromotionSettings("rolling", {
    name: "quickstart-rolling",
    rollingDeploy: true,
    rollingDeployConfig: { maxSurgePercent: 25, maxUnavailablePercent: 0, stabilizationTimeSeconds: 2 },
    promotionCleanupStrategy: "SCALE_TO_ZERO",
  });
  const staging = new Environment("staging", {
    modelId: model.id,
    name: "staging",
    deploymentId: pick("staging"),
    promotionSettings: rolling,
    autoscalingSettings: { minReplica: 1, maxReplica: 1 },
  });
  const production = new Environment("production", {
    modelId: model.id,
    name: "production",
    deploymentId: pick("production"),
    promotionSettings: rolling,
    autoscalingSettings: { minReplica: 4, maxReplica: 4 },
    variables: { LOG_LEVEL: "info" },
    promotionTimeoutSeconds: 300,
  });
  return {
    modelId: model.id,
    v1: deployments.v1.id,
    v2: deployments.v2.id,
    stagingEndpoint: staging.endpoint,
    productionEndpoint: production.endpoint,
    production: production.currentDeploymentId,
  };
}
