import type { V1EndpointSlice, V1Pod } from "@kubernetes/client-node";
import type { ReplicaInfo, ReplicaSetId, ReplicaState } from "../runtime.js";
import { PORT_NAME } from "./deployment-manifest.js";
import { ANNOTATION } from "./labels.js";

interface Endpoint {
  address: string;
  port: number | undefined;
  ready: boolean;
}

/**
 * The replicas of one set as the router and the controller see them: one per pod, ready only when
 * its EndpointSlice endpoint is ready (the kubelet's readiness probe passed and the endpoint
 * controller published it) and the pod is not terminating. A pod the API marks for deletion is
 * `draining` at once, before the endpoint controller catches up: it gets no new request from the
 * moment this engine hears of it (its preStop delay covers the requests already sent).
 */
export function podReplicas(replicaSetId: ReplicaSetId, pods: readonly V1Pod[], slices: readonly V1EndpointSlice[]): ReplicaInfo[] {
  const endpoints = endpointsByPod(slices);
  const replicas: ReplicaInfo[] = [];
  for (const pod of pods) {
    const name = pod.metadata?.name;
    const phase = pod.status?.phase;
    if (name === undefined || phase === "Succeeded" || phase === "Failed") continue;
    const endpoint = endpoints.get(pod.metadata?.uid ?? "") ?? endpoints.get(name);
    let state: ReplicaState = "starting";
    if (pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null) state = "draining";
    else if (endpoint?.ready === true && endpoint.port !== undefined) state = "ready";
    const address = endpoint?.address ?? pod.status?.podIP;
    const port = endpoint?.port ?? containerPort(pod);
    replicas.push({
      id: name,
      replicaSetId,
      url: address !== undefined && port !== undefined ? `http://${address.includes(":") ? `[${address}]` : address}:${port}` : "",
      state,
      startedAt: timestampMs(pod.status?.startTime ?? pod.metadata?.creationTimestamp),
      revision: pod.metadata?.annotations?.[ANNOTATION.revision] ?? "",
    });
  }
  return replicas.sort((a, b) => a.startedAt - b.startedAt || (a.id < b.id ? -1 : 1));
}

/** Endpoints of the slices by the uid (and name) of the pod they point at. */
function endpointsByPod(slices: readonly V1EndpointSlice[]): Map<string, Endpoint> {
  const byPod = new Map<string, Endpoint>();
  for (const slice of slices) {
    const port = (slice.ports ?? []).find((candidate) => candidate.name === PORT_NAME)?.port ?? slice.ports?.[0]?.port ?? undefined;
    // an empty slice (no pod yet) has no endpoints field at all
    for (const endpoint of slice.endpoints ?? []) {
      const address = endpoint.addresses?.[0];
      const target = endpoint.targetRef;
      if (address === undefined || target?.kind !== "Pod") continue;
      // ready: serving and not terminating (discovery.k8s.io/v1); an absent condition means unknown → not ready.
      const entry = { address, port, ready: endpoint.conditions?.ready === true && endpoint.conditions.terminating !== true };
      if (target.uid !== undefined) byPod.set(target.uid, entry);
      if (target.name !== undefined) byPod.set(target.name, entry);
    }
  }
  return byPod;
}

function containerPort(pod: V1Pod): number | undefined {
  return pod.spec?.containers[0]?.ports?.find((port) => port.name === PORT_NAME)?.containerPort;
}

/**
 * Milliseconds since the epoch of a Kubernetes timestamp. The client's list calls give Date
 * objects, its watch events the JSON strings: both happen in one informer cache.
 */
export function timestampMs(value: Date | string | undefined | null): number {
  if (value === undefined || value === null) return 0;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isFinite(ms) ? ms : 0;
}
