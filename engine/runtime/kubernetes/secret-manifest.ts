import type { V1Secret } from "@kubernetes/client-node";
import type { ReplicaSetSpec } from "../runtime.js";
import type { KubernetesSettings } from "./kubernetes-settings.js";
import { ownerAnnotations, replicaSetLabels } from "./labels.js";
import { objectNameOf } from "./object-name.js";

/**
 * The Secret holding a replica set's secret variables; the pod references each key
 * (`secretKeyRef`), so values reach the container's environment and nowhere else — never the
 * Deployment, its annotations or the engine's logs. Same name as the set's Deployment.
 * `data` (base64), not `stringData`: server-side apply then owns exactly these keys, and a
 * secret removed from the environment is removed from the Secret.
 */
export function secretManifest(spec: ReplicaSetSpec, settings: KubernetesSettings): V1Secret {
  const name = objectNameOf(spec.id);
  const data: Record<string, string> = {};
  for (const key of Object.keys(spec.secrets).sort()) data[key] = Buffer.from(spec.secrets[key]!, "utf8").toString("base64");
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name,
      namespace: settings.namespace,
      labels: replicaSetLabels(settings.installation, name, spec.owner),
      annotations: ownerAnnotations(spec.id, spec.owner),
    },
    type: "Opaque",
    data,
  };
}

/** Whether a set needs a Secret at all. */
export function hasSecrets(spec: ReplicaSetSpec): boolean {
  return Object.keys(spec.secrets).length > 0;
}
