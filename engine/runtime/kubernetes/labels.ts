/**
 * Labels (selectable) and annotations (exact values) on every Kubernetes object the runtime
 * creates. Labels let the engine and people find them (`kubectl get deploy,pods -l
 * modelplane.dev/model=mdl_…`); annotations keep what labels cannot hold (the exact set id, names
 * with any characters) so that a restarted engine can adopt what it finds.
 */
import type { ReplicaSetOwner } from "../runtime.js";

export const LABEL = {
  managedBy: "app.kubernetes.io/managed-by",
  /** this engine installation: the runtime only ever lists, adopts and sweeps its own objects */
  owner: "modelplane.dev/owner",
  /** the object name of the replica set: the Deployment's and Service's pod selector */
  replicaSet: "modelplane.dev/replica-set",
  model: "modelplane.dev/model",
  deployment: "modelplane.dev/deployment",
  /** absent on a deployment's own set */
  environment: "modelplane.dev/environment",
} as const;

export const ANNOTATION = {
  replicaSetId: "modelplane.dev/replica-set-id",
  modelId: "modelplane.dev/model-id",
  modelName: "modelplane.dev/model-name",
  deploymentId: "modelplane.dev/deployment-id",
  deploymentName: "modelplane.dev/deployment-name",
  /** absent on a deployment's own set */
  environment: "modelplane.dev/environment",
  /** the spec's opaque revision, on the Deployment and its pod template (so on every pod): the
   * template is rewritten only when it changes */
  revision: "modelplane.dev/revision",
} as const;

export const MANAGED_BY = "modelplane";

/**
 * A label value: at most 63 characters of [A-Za-z0-9_.-], alphanumeric at both ends. Ids and DNS
 * names already are; anything else is made so (lossy: the exact value is in an annotation).
 */
export function labelValue(value: string): string {
  return value
    .replace(/[^A-Za-z0-9_.-]+/g, "_")
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
}

/** Labels of a replica set's objects and of its pods. */
export function replicaSetLabels(installation: string, objectName: string, owner: ReplicaSetOwner): Record<string, string> {
  const labels: Record<string, string> = {
    [LABEL.managedBy]: MANAGED_BY,
    [LABEL.owner]: installation,
    [LABEL.replicaSet]: objectName,
    [LABEL.model]: labelValue(owner.modelId),
    [LABEL.deployment]: labelValue(owner.deploymentId),
  };
  if (owner.environment !== null) labels[LABEL.environment] = labelValue(owner.environment);
  return labels;
}

/** The labels that select a set's pods: stable for the set's whole life (a Deployment's selector is immutable). */
export function podSelector(installation: string, objectName: string): Record<string, string> {
  return { [LABEL.owner]: installation, [LABEL.replicaSet]: objectName };
}

/** Label selector of everything this installation owns in its namespace. */
export function installationSelector(installation: string): string {
  return `${LABEL.owner}=${installation}`;
}

/** Annotations naming a set and its owner exactly, read back by `list()`. */
export function ownerAnnotations(id: string, owner: ReplicaSetOwner): Record<string, string> {
  const annotations: Record<string, string> = {
    [ANNOTATION.replicaSetId]: id,
    [ANNOTATION.modelId]: owner.modelId,
    [ANNOTATION.modelName]: owner.modelName,
    [ANNOTATION.deploymentId]: owner.deploymentId,
    [ANNOTATION.deploymentName]: owner.deploymentName,
  };
  if (owner.environment !== null) annotations[ANNOTATION.environment] = owner.environment;
  return annotations;
}
