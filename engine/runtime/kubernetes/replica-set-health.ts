/**
 * Why a replica set is not running, in plain words, from what Kubernetes reports: pod conditions
 * (unschedulable), container states (image missing, pull failing, crash loop with the container's
 * last output), the Deployment's ReplicaFailure condition (quota, forbidden) and the runtime's own
 * API errors. Pure: the runtime feeds it the informers' objects and reads the verdict.
 */
import type { V1ContainerStateTerminated, V1ContainerStatus, V1Deployment, V1Pod } from "@kubernetes/client-node";
import { capErrorMessage } from "../error-message.js";
import { OutputTail } from "../process/output-tail.js";
import type { KubernetesSettings } from "./kubernetes-settings.js";
import { ANNOTATION } from "./labels.js";
import { timestampMs } from "./pod-replicas.js";

export interface ReplicaSetHealth {
  /** failures since the last ready replica of the current revision (restarts, or the threshold for a fatal state) */
  consecutiveFailures: number;
  failing: boolean;
  lastError?: string;
}

export interface HealthInput {
  /** the set's pods, any revision */
  pods: readonly V1Pod[];
  deployment: V1Deployment | undefined;
  /** the revision the engine declared: only its pods count */
  revision: string;
  readinessPath: string;
  /** the last error of the runtime's own API calls for this set (forbidden, invalid, quota), if it is still current */
  apiError?: string;
  /** per pod uid: the kubelet's last probe-failure message ("Startup probe failed: HTTP probe failed with statuscode: 503") */
  probeFailures?: ReadonlyMap<string, string>;
  /** values to redact from container output */
  secretValues: readonly string[];
  settings: Pick<KubernetesSettings, "crashLoopThreshold" | "unschedulableTimeoutSeconds" | "startupTimeoutSeconds" | "outputTailLines" | "imagePullPolicy">;
  now: number;
}

interface PodProblem {
  failures: number;
  message: string;
}

/** Container waiting reasons that no retry fixes by itself: the set fails at once. */
const FATAL_WAITING = new Set(["ErrImageNeverPull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError"]);

export function replicaSetHealth(input: HealthInput): ReplicaSetHealth {
  const threshold = input.settings.crashLoopThreshold;
  const setLevel = input.apiError ?? replicaFailure(input.deployment);
  if (setLevel !== undefined) return { consecutiveFailures: threshold, failing: true, lastError: setLevel };

  const current = input.pods.filter(
    (pod) => pod.metadata?.annotations?.[ANNOTATION.revision] === input.revision && !pod.metadata?.deletionTimestamp,
  );
  const anyReady = current.some(podReady);
  let worst: PodProblem | undefined;
  for (const pod of current) {
    if (podReady(pod)) continue;
    const problem = podProblem(pod, input);
    if (problem !== undefined && (worst === undefined || problem.failures > worst.failures)) worst = problem;
  }
  if (worst === undefined) return { consecutiveFailures: 0, failing: false };
  // A ready replica of this revision proves the spec runs: the others' trouble is theirs (a full
  // node, one crash), reported but not failing the set — as in the process runtime.
  const consecutiveFailures = anyReady ? 0 : worst.failures;
  return { consecutiveFailures, failing: consecutiveFailures >= threshold, lastError: worst.message };
}

/** The Deployment's ReplicaFailure condition: the ReplicaSet controller could not create pods (quota, forbidden, admission). */
function replicaFailure(deployment: V1Deployment | undefined): string | undefined {
  const condition = deployment?.status?.conditions?.find((candidate) => candidate.type === "ReplicaFailure" && candidate.status === "True");
  if (condition === undefined) return undefined;
  return `Kubernetes cannot create the replicas' pods: ${condition.message ?? condition.reason ?? "ReplicaFailure"}`;
}

function podReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True") === true;
}

function podProblem(pod: V1Pod, input: HealthInput): PodProblem | undefined {
  const threshold = input.settings.crashLoopThreshold;
  const scheduled = pod.status?.conditions?.find((condition) => condition.type === "PodScheduled");
  if (scheduled?.status === "False" && scheduled.reason === "Unschedulable") {
    const waitedSeconds = (input.now - timestampMs(pod.metadata?.creationTimestamp)) / 1000;
    const failures = waitedSeconds >= input.settings.unschedulableTimeoutSeconds ? threshold : 0;
    return { failures, message: `unschedulable for ${Math.round(waitedSeconds)} s: ${trimPeriod(scheduled.message ?? "no node fits the pod")}` };
  }
  const container = pod.status?.containerStatuses?.[0];
  if (container === undefined) return undefined;
  const image = container.image || pod.spec?.containers[0]?.image || "the image";
  const waiting = container.state?.waiting;
  if (waiting?.reason !== undefined && FATAL_WAITING.has(waiting.reason)) {
    return { failures: threshold, message: waitingMessage(waiting.reason, waiting.message, image, input) };
  }
  if (waiting?.reason === "ErrImagePull") return { failures: 1, message: waitingMessage(waiting.reason, waiting.message, image, input) };
  const terminated = container.lastState?.terminated ?? container.state?.terminated;
  if (container.restartCount > 0 && terminated !== undefined) {
    return { failures: container.restartCount, message: exitMessage(pod, container, terminated, input) };
  }
  return undefined;
}

function waitingMessage(reason: string, message: string | undefined, image: string, input: HealthInput): string {
  const detail = message !== undefined && message.length > 0 ? `: ${trimPeriod(message)}` : "";
  switch (reason) {
    case "ErrImageNeverPull":
      return `image ${image} is not present on the node and pulling is disabled (imagePullPolicy: ${input.settings.imagePullPolicy})`;
    case "ErrImagePull":
    case "ImagePullBackOff":
      return `image ${image} cannot be pulled${detail}`;
    case "InvalidImageName":
      return `image name ${image} is not valid${detail}`;
    default:
      return `the replica's container cannot be created (${reason})${detail}`;
  }
}

/** "replica exited with code 1 (restarted 3 times); last output: …", or the probe the kubelet restarted it for. */
function exitMessage(pod: V1Pod, container: V1ContainerStatus, terminated: V1ContainerStateTerminated, input: HealthInput): string {
  const restarts = `restarted ${container.restartCount} time${container.restartCount === 1 ? "" : "s"}`;
  const probe = input.probeFailures?.get(pod.metadata?.uid ?? "");
  const ranSeconds = (timestampMs(terminated.finishedAt) - timestampMs(terminated.startedAt)) / 1000;
  let reason: string;
  if (probe !== undefined && /^startup probe/i.test(probe)) {
    reason = `replica not ready after ${input.settings.startupTimeoutSeconds} s (GET ${input.readinessPath}: ${trimPeriod(probe.replace(/^startup probe failed:\s*/i, ""))})`;
  } else if (probe !== undefined && /^liveness probe/i.test(probe)) {
    reason = `replica stopped answering GET ${input.readinessPath} (${trimPeriod(probe.replace(/^liveness probe failed:\s*/i, ""))})`;
  } else if (terminated.reason === "OOMKilled") {
    reason = `replica was killed for using more memory than its limit${memoryLimit(pod)}`;
  } else if (terminated.signal !== undefined && terminated.signal !== 0) {
    reason = `replica was killed by signal ${terminated.signal}`;
  } else if (terminated.exitCode !== 0 || ranSeconds < input.settings.startupTimeoutSeconds) {
    reason = `replica exited with code ${terminated.exitCode}`;
  } else {
    // Exit 0 after the whole startup window: the kubelet stopped it for its probe (graceful exit).
    reason = `replica not ready after ${input.settings.startupTimeoutSeconds} s (GET ${input.readinessPath} never answered 200)`;
  }
  const tail = new OutputTail(input.settings.outputTailLines, input.secretValues);
  // whole lines only: the kubelet's termination message is complete (last 80 lines / 2 KiB of the log)
  tail.append(`${(terminated.message ?? "").trimEnd()}\n`);
  const output = tail.text().trim();
  return capErrorMessage(`${reason} (${restarts}); ${output.length > 0 ? `last output:\n${output}` : "no output"}`);
}

function memoryLimit(pod: V1Pod): string {
  const limit = pod.spec?.containers[0]?.resources?.limits?.memory;
  return limit === undefined ? "" : ` (${limit})`;
}

function trimPeriod(text: string): string {
  return text.trim().replace(/\.$/, "");
}
