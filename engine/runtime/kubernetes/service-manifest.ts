import type { V1Service } from "@kubernetes/client-node";
import type { ReplicaSetSpec } from "../runtime.js";
import { containerWorkload, PORT_NAME } from "./deployment-manifest.js";
import type { KubernetesSettings } from "./kubernetes-settings.js";
import { ownerAnnotations, podSelector, replicaSetLabels } from "./labels.js";
import { objectNameOf } from "./object-name.js";

/**
 * A headless Service over a replica set's pods. Nothing connects to it: it exists so that the
 * EndpointSlice controller publishes the pods' addresses with their ready/serving/terminating
 * conditions, which the engine watches and routes to itself (its own traffic split stays exact,
 * no kube-proxy hop). Headless: no cluster IP, no kube-proxy rules. The controller copies these
 * labels onto the EndpointSlices, so one label selector finds them.
 */
export function serviceManifest(spec: ReplicaSetSpec, settings: KubernetesSettings): V1Service {
  const name = objectNameOf(spec.id);
  const { port } = containerWorkload(spec);
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name,
      namespace: settings.namespace,
      labels: replicaSetLabels(settings.installation, name, spec.owner),
      annotations: ownerAnnotations(spec.id, spec.owner),
    },
    spec: {
      clusterIP: "None",
      selector: podSelector(settings.installation, name),
      ports: [{ name: PORT_NAME, port, targetPort: PORT_NAME, protocol: "TCP" }],
      publishNotReadyAddresses: false,
    },
  };
}
