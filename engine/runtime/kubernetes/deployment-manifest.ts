import type { V1Container, V1Deployment, V1EnvVar, V1Probe, V1ResourceRequirements } from "@kubernetes/client-node";
import type { ReplicaSetSpec, Workload } from "../runtime.js";
import type { KubernetesSettings } from "./kubernetes-settings.js";
import { ANNOTATION, ownerAnnotations, podSelector, replicaSetLabels } from "./labels.js";
import { objectNameOf } from "./object-name.js";

export type ContainerWorkload = Extract<Workload, { kind: "container" }>;

/** The one container of a replica pod. */
export const CONTAINER_NAME = "model";
/** Name of the container port (Service target, EndpointSlice port). */
export const PORT_NAME = "http";

/** The container workload of a spec; the runtime refuses other kinds before building anything. */
export function containerWorkload(spec: ReplicaSetSpec): ContainerWorkload {
  if (spec.workload.kind !== "container") throw new Error(`replica set ${spec.id} runs a ${spec.workload.kind}, not a container image`);
  return spec.workload;
}

/**
 * The Kubernetes Deployment that runs a replica set, applied with server-side apply when the set is
 * created and when its revision changes (then only `spec.replicas` moves). A new revision changes
 * the pod template (its revision annotation, usually the image or env too), which Kubernetes rolls
 * out new pods first (maxUnavailable 0; maxSurge from the spec, for an environment's set from its
 * promotion settings).
 */
export function deploymentManifest(spec: ReplicaSetSpec, replicas: number, settings: KubernetesSettings): V1Deployment {
  const workload = containerWorkload(spec);
  const name = objectNameOf(spec.id);
  const labels = replicaSetLabels(settings.installation, name, spec.owner);
  const template = {
    metadata: { labels, annotations: { [ANNOTATION.revision]: spec.revision } },
    spec: {
      // No credential reaches model code: no service account token, no service env variables.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: settings.preStopDelaySeconds + settings.terminationGraceSeconds,
      containers: [replicaContainer(spec, workload, name, settings)],
    },
  };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name,
      namespace: settings.namespace,
      labels,
      annotations: { ...ownerAnnotations(spec.id, spec.owner), [ANNOTATION.revision]: spec.revision },
    },
    spec: {
      selector: { matchLabels: podSelector(settings.installation, name) },
      // The engine's own routing sees old pods leave and new ones become ready; Kubernetes only
      // has to never take capacity away first: a new pod is ready before an old one goes.
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: `${spec.maxSurgePercent ?? 25}%`, maxUnavailable: 0 } },
      // A new pod counts as available 1 s after the kubelet calls it ready: by then the endpoint
      // controller has published it and this engine routes to it, before an old pod is let go.
      minReadySeconds: 1,
      revisionHistoryLimit: 2,
      replicas,
      template,
    },
  };
}

function replicaContainer(spec: ReplicaSetSpec, workload: ContainerWorkload, secretName: string, settings: KubernetesSettings): V1Container {
  const httpGet = { path: spec.readinessPath, port: PORT_NAME };
  const period = settings.probePeriodSeconds;
  const probe = (failureThreshold: number): V1Probe => ({ httpGet, periodSeconds: period, timeoutSeconds: period, failureThreshold });
  const container: V1Container = {
    name: CONTAINER_NAME,
    image: workload.image,
    imagePullPolicy: settings.imagePullPolicy,
    ports: [{ name: PORT_NAME, containerPort: workload.port, protocol: "TCP" }],
    env: replicaEnv(spec, workload, secretName),
    // Killed and restarted when the readiness path has not answered 200 in time (a failure, counted).
    startupProbe: probe(Math.max(1, Math.ceil(settings.startupTimeoutSeconds / period))),
    readinessProbe: probe(1),
    livenessProbe: probe(settings.livenessFailureThreshold),
    // A crashed container's last output becomes its termination message: lastError without log reads.
    terminationMessagePolicy: "FallbackToLogsOnError",
    securityContext: { allowPrivilegeEscalation: false },
  };
  if (workload.command !== undefined) container.command = workload.command;
  const resources = resourceRequirements(workload);
  if (resources !== undefined) container.resources = resources;
  if (settings.preStopDelaySeconds > 0) container.lifecycle = { preStop: { sleep: { seconds: settings.preStopDelaySeconds } } };
  return container;
}

/** PORT (the runtime's), the plain variables, then each secret as a reference into the set's Secret — names sorted. */
function replicaEnv(spec: ReplicaSetSpec, workload: ContainerWorkload, secretName: string): V1EnvVar[] {
  const env: V1EnvVar[] = [{ name: "PORT", value: String(workload.port) }];
  for (const name of Object.keys(spec.env).sort()) {
    if (name !== "PORT" && !(name in spec.secrets)) env.push({ name, value: spec.env[name]! });
  }
  for (const name of Object.keys(spec.secrets).sort()) {
    if (name !== "PORT") env.push({ name, valueFrom: { secretKeyRef: { name: secretName, key: name } } });
  }
  return env;
}

/**
 * cpu, memory and extended resources (nvidia.com/gpu, …) as both requests and limits: Kubernetes
 * requires limits = requests for extended resources, and equal cpu/memory gives the pod the
 * Guaranteed class (never evicted for another pod's burst).
 */
function resourceRequirements(workload: ContainerWorkload): V1ResourceRequirements | undefined {
  const { resources } = workload;
  if (resources === undefined) return undefined;
  const amounts: Record<string, string> = {};
  if (resources.cpu !== undefined) amounts.cpu = resources.cpu;
  if (resources.memory !== undefined) amounts.memory = resources.memory;
  for (const [name, amount] of Object.entries(resources.extended ?? {})) amounts[name] = amount;
  if (Object.keys(amounts).length === 0) return undefined;
  return { requests: { ...amounts }, limits: { ...amounts } };
}

