/** How the Kubernetes runtime shapes the objects it creates and judges the pods it watches. */
export interface KubernetesSettings {
  /** where every object of this runtime lives */
  namespace: string;
  /** this engine installation (label value): the runtime lists, adopts and sweeps only objects labelled with it */
  installation: string;
  /** "Never" for images imported on the nodes (no registry), "IfNotPresent" / "Always" for a registry */
  imagePullPolicy: "Always" | "IfNotPresent" | "Never";
  /**
   * A terminating pod keeps serving this long before it gets SIGTERM (`lifecycle.preStop.sleep`,
   * the kubelet's own sleep: the image needs no `sleep` binary). The engine stops routing to a pod
   * as soon as the API marks it terminating; the delay covers requests already sent to it and any
   * other endpoint watcher (kube-proxy) that is slower. 0 disables it.
   */
  preStopDelaySeconds: number;
  /** After SIGTERM the replica may finish in-flight requests this long before SIGKILL (the process
   * runtime's drain bound). terminationGracePeriodSeconds = preStopDelaySeconds + this. */
  terminationGraceSeconds: number;
  /** A replica whose readiness path has not answered 200 this long after its start is restarted
   * (startup probe) and counts as a failure, as in the process runtime. */
  startupTimeoutSeconds: number;
  /** Readiness, liveness and startup probe period. */
  probePeriodSeconds: number;
  /** A ready replica failing its readiness path this many probes in a row is restarted (liveness probe). */
  livenessFailureThreshold: number;
  /** Consecutive failures with no ready replica after which the set is reported `failing`. */
  crashLoopThreshold: number;
  /** Pods unschedulable this long (no node has the resources) make the set `failing`; a cluster
   * autoscaler may add a node meanwhile. */
  unschedulableTimeoutSeconds: number;
  /** Lines of a failed container's output kept in lastError. */
  outputTailLines: number;
}

export const DEFAULT_KUBERNETES_SETTINGS: Omit<KubernetesSettings, "namespace" | "installation"> = {
  imagePullPolicy: "IfNotPresent",
  preStopDelaySeconds: 2,
  terminationGraceSeconds: 30,
  startupTimeoutSeconds: 60,
  probePeriodSeconds: 1,
  livenessFailureThreshold: 3,
  crashLoopThreshold: 3,
  unschedulableTimeoutSeconds: 60,
  outputTailLines: 20,
};
