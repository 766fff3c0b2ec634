import type { V1Deployment } from "@kubernetes/client-node";
import type { ExistingReplicaSet } from "../runtime.js";
import { ANNOTATION } from "./labels.js";

/**
 * A replica set as found in the cluster (engine start: adoption and sweep), read back from the
 * annotations its Deployment was created with. Undefined for a Deployment that does not carry
 * them (made by hand, or by another tool with our owner label): never adopted, never swept.
 */
export function existingReplicaSet(deployment: V1Deployment): ExistingReplicaSet | undefined {
  const annotations = deployment.metadata?.annotations ?? {};
  const id = annotations[ANNOTATION.replicaSetId];
  const modelId = annotations[ANNOTATION.modelId];
  const deploymentId = annotations[ANNOTATION.deploymentId];
  const revision = annotations[ANNOTATION.revision];
  if (id === undefined || modelId === undefined || deploymentId === undefined || revision === undefined) return undefined;
  return {
    id,
    owner: {
      modelId,
      modelName: annotations[ANNOTATION.modelName] ?? modelId,
      deploymentId,
      deploymentName: annotations[ANNOTATION.deploymentName] ?? deploymentId,
      environment: annotations[ANNOTATION.environment] ?? null,
    },
    desired: deployment.spec?.replicas ?? 0,
    revision,
  };
}
