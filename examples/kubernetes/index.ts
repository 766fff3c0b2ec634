/**
 * Pulumi program: the modelplane engine on the cluster of the current kubeconfig context.
 *
 *   pulumi config set image ghcr.io/acme/modelplane:0.1.0
 *   pulumi config set --secret apiKey "$(openssl rand -hex 24)"
 *   pulumi config set --secret postgresPassword "$(openssl rand -hex 24)"
 *   pulumi config set --secret secretKey "$(openssl rand -base64 32)"
 *   pulumi up
 */
import * as pulumi from "@pulumi/pulumi";
import { declareModelplaneCluster } from "./modelplane-cluster.js";

const config = new pulumi.Config();
const serviceType = config.get("serviceType");
if (serviceType !== undefined && serviceType !== "ClusterIP" && serviceType !== "LoadBalancer") {
  throw new Error(`serviceType must be ClusterIP or LoadBalancer, got ${serviceType}`);
}
const engineReplicas = config.getNumber("engineReplicas");
const namespace = config.get("namespace");
const postgresImage = config.get("postgresImage");
const postgresStorage = config.get("postgresStorage");
const storageClassName = config.get("storageClassName");
const engineCommand = config.getObject<string[]>("engineCommand");
if (engineCommand !== undefined && (!Array.isArray(engineCommand) || engineCommand.length === 0 || !engineCommand.every((part) => typeof part === "string"))) {
  throw new Error(`engineCommand must be a non-empty JSON array of strings, got ${JSON.stringify(engineCommand)}`);
}
const modelImagePullPolicy = config.get("modelImagePullPolicy");
if (modelImagePullPolicy !== undefined && modelImagePullPolicy !== "Always" && modelImagePullPolicy !== "IfNotPresent" && modelImagePullPolicy !== "Never") {
  throw new Error(`modelImagePullPolicy must be Always, IfNotPresent or Never, got ${modelImagePullPolicy}`);
}
const clusterDns = config.getBoolean("clusterDns");

const cluster = declareModelplaneCluster({
  image: config.require("image"),
  // requireSecret: a plain `pulumi config set apiKey …` still works, but the value stays a secret here
  apiKey: config.requireSecret("apiKey"),
  postgresPassword: config.requireSecret("postgresPassword"),
  secretKey: config.requireSecret("secretKey"),
  ...(namespace !== undefined ? { namespace } : {}),
  ...(engineReplicas !== undefined ? { engineReplicas } : {}),
  ...(postgresImage !== undefined ? { postgresImage } : {}),
  ...(postgresStorage !== undefined ? { postgresStorage } : {}),
  ...(storageClassName !== undefined ? { storageClassName } : {}),
  ...(serviceType !== undefined ? { serviceType } : {}),
  ...(engineCommand !== undefined ? { engineCommand } : {}),
  ...(modelImagePullPolicy !== undefined ? { modelImagePullPolicy } : {}),
  ...(clusterDns !== undefined ? { clusterDns } : {}),
});

/** in-cluster endpoint; set it as `modelplane:endpoint` in the stacks that deploy models */
export const endpoint = cluster.endpoint;
export const namespaceName = cluster.namespace.metadata.name;
