/** Pure-logic fixtures for the Kubernetes runtime's unit tests: specs and the objects Kubernetes reports. */
import type { V1Pod } from "@kubernetes/client-node";
import type { ReplicaSetSpec } from "../../../../engine/runtime/runtime.js";
import { DEFAULT_KUBERNETES_SETTINGS, type KubernetesSettings } from "../../../../engine/runtime/kubernetes/kubernetes-settings.js";
import { ANNOTATION } from "../../../../engine/runtime/kubernetes/labels.js";

export const SETTINGS: KubernetesSettings = { ...DEFAULT_KUBERNETES_SETTINGS, namespace: "models", installation: "mp-0123456789", imagePullPolicy: "Never" };

export function containerSpec(overrides: Partial<ReplicaSetSpec> = {}): ReplicaSetSpec {
  return {
    id: "dep_abc123def456.production",
    owner: { modelId: "mdl_m1", modelName: "sentiment", deploymentId: "dep_abc123def456", deploymentName: "v2", environment: "production" },
    workload: { kind: "container", image: "localhost/sentiment-v2:1", port: 8080, resources: { cpu: "500m", memory: "256Mi", extended: { "nvidia.com/gpu": "1" } } },
    env: { ENVIRONMENT: "production", LOG_LEVEL: "info" },
    secrets: { HF_TOKEN: "hf_secret_value_123" },
    readinessPath: "/health",
    revision: "1.abc",
    ...overrides,
  };
}

/** A pod of the set at `revision` with the given status. */
export function pod(name: string, revision: string, status: V1Pod["status"], extra: { deleting?: boolean; createdAt?: string } = {}): V1Pod {
  return {
    metadata: {
      name,
      uid: `uid-${name}`,
      annotations: { [ANNOTATION.revision]: revision },
      creationTimestamp: (extra.createdAt ?? "2026-12-02T07:00:00Z") as unknown as Date,
      ...(extra.deleting ? { deletionTimestamp: "2026-12-02T07:01:00Z" as unknown as Date } : {}),
    },
    spec: { containers: [{ name: "model", image: "localhost/sentiment-v2:1", ports: [{ name: "http", containerPort: 8080 }] }] },
    status,
  };
}

export const READY = [{ type: "Ready", status: "True" }];
export const NOT_READY = [{ type: "PodScheduled", status: "True" }, { type: "Ready", status: "False" }];
