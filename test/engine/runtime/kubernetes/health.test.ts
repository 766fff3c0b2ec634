import type { V1Deployment } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { apiStatusCode, describeApiError } from "../../../../engine/runtime/kubernetes/api-error.js";
import { replicaSetHealth, type HealthInput } from "../../../../engine/runtime/kubernetes/replica-set-health.js";
import { NOT_READY, READY, SETTINGS, pod } from "./fixtures.js";

const NOW = Date.parse("2026-12-02T07:00:30Z");
function health(overrides: Partial<HealthInput>) {
  return replicaSetHealth({ pods: [], deployment: undefined, revision: "r2", readinessPath: "/health", secretValues: ["hf_secret_value_123"], settings: SETTINGS, now: NOW, ...overrides });
}
function waiting(reason: string, message?: string) {
  return { conditions: NOT_READY, containerStatuses: [{ name: "model", image: "localhost/missing:v1", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason, ...(message ? { message } : {}) } } }] };
}
function crashed(restartCount: number, terminated: Record<string, unknown>, ready = false) {
  return {
    conditions: ready ? READY : NOT_READY,
    containerStatuses: [{ name: "model", image: "localhost/sentiment-v2:1", imageID: "", ready, restartCount, state: { waiting: { reason: "CrashLoopBackOff" } }, lastState: { terminated: { exitCode: 1, ...terminated } } }],
  };
}

describe("replica set health from what Kubernetes reports", () => {
  it("healthy: no pods yet, or pods starting, or ready", () => {
    expect(health({})).toEqual({ consecutiveFailures: 0, failing: false });
    expect(health({ pods: [pod("a", "r2", { conditions: NOT_READY })] })).toEqual({ consecutiveFailures: 0, failing: false });
    expect(health({ pods: [pod("a", "r2", { conditions: READY })] })).toEqual({ consecutiveFailures: 0, failing: false });
  });

  it("an image that is not on the node with pulling disabled fails at once, naming the image", () => {
    const result = health({ pods: [pod("a", "r2", waiting("ErrImageNeverPull", 'Container image "localhost/missing:v1" is not present with pull policy of Never'))] });
    expect(result.failing).toBe(true);
    expect(result.lastError).toBe("image localhost/missing:v1 is not present on the node and pulling is disabled (imagePullPolicy: Never)");
  });

  it("a pull error counts once; the back-off after it fails the set", () => {
    expect(health({ pods: [pod("a", "r2", waiting("ErrImagePull", "rpc error: not found"))] })).toMatchObject({ consecutiveFailures: 1, failing: false, lastError: "image localhost/missing:v1 cannot be pulled: rpc error: not found" });
    expect(health({ pods: [pod("a", "r2", waiting("ImagePullBackOff", 'Back-off pulling image "localhost/missing:v1"'))] }).failing).toBe(true);
  });

  it("a crash loop: failing from the threshold on, with the exit code and the last output, secrets redacted", () => {
    const output = "loading with token hf_secret_value_123\nboom: weights missing\n";
    const twice = health({ pods: [pod("a", "r2", crashed(2, { message: output }))] });
    expect(twice).toMatchObject({ consecutiveFailures: 2, failing: false });
    const thrice = health({ pods: [pod("a", "r2", crashed(3, { message: output }))] });
    expect(thrice.failing).toBe(true);
    expect(thrice.lastError).toBe("replica exited with code 1 (restarted 3 times); last output:\nloading with token [REDACTED]\nboom: weights missing");
    expect(thrice.lastError).not.toContain("hf_secret_value_123");
  });

  it("a replica the kubelet restarted for never answering its readiness path says so", () => {
    const terminated = { exitCode: 0, reason: "Completed", startedAt: "2026-12-02T07:00:00Z", finishedAt: "2026-12-02T07:01:01Z" };
    const withEvent = health({ pods: [pod("a", "r2", crashed(3, terminated))], probeFailures: new Map([["uid-a", "Startup probe failed: HTTP probe failed with statuscode: 503"]]) });
    expect(withEvent.lastError).toBe("replica not ready after 60 s (GET /health: HTTP probe failed with statuscode: 503) (restarted 3 times); no output");
    // without the event: a clean exit after the whole startup window is the probe's doing
    expect(health({ pods: [pod("a", "r2", crashed(3, terminated))] }).lastError).toMatch(/^replica not ready after 60 s \(GET \/health never answered 200\)/);
    const liveness = health({ pods: [pod("a", "r2", crashed(3, terminated))], probeFailures: new Map([["uid-a", "Liveness probe failed: Get \"http://10.0.0.1:8080/health\": context deadline exceeded"]]) });
    expect(liveness.lastError).toMatch(/^replica stopped answering GET \/health \(Get/);
  });

  it("out of memory names the limit", () => {
    const oom = pod("a", "r2", crashed(3, { exitCode: 137, reason: "OOMKilled" }));
    oom.spec!.containers[0]!.resources = { limits: { memory: "256Mi" } };
    expect(health({ pods: [oom] }).lastError).toMatch(/^replica was killed for using more memory than its limit \(256Mi\)/);
  });

  it("a ready replica of the revision resets the count; old revisions and terminating pods do not count", () => {
    expect(health({ pods: [pod("a", "r2", crashed(5, {})), pod("b", "r2", { conditions: READY })] })).toMatchObject({ consecutiveFailures: 0, failing: false });
    expect(health({ pods: [pod("a", "r1", crashed(5, {}))] })).toEqual({ consecutiveFailures: 0, failing: false });
    expect(health({ pods: [pod("a", "r2", crashed(5, {}), { deleting: true })] })).toEqual({ consecutiveFailures: 0, failing: false });
  });

  it("unschedulable: reported at once, failing after the unschedulable timeout", () => {
    const status = { conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/1 nodes are available: 1 Insufficient nvidia.com/gpu." }] };
    const early = health({ pods: [pod("a", "r2", status)] });
    expect(early).toMatchObject({ failing: false, lastError: "unschedulable for 30 s: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu" });
    const late = health({ pods: [pod("a", "r2", status)], now: NOW + 60_000 });
    expect(late).toMatchObject({ failing: true, lastError: "unschedulable for 90 s: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu" });
  });

  it("quota or admission refusing the pods fails the set through the Deployment's ReplicaFailure condition", () => {
    const deployment: V1Deployment = {
      status: { conditions: [{ type: "ReplicaFailure", status: "True", reason: "FailedCreate", message: 'pods "dep-x-5d9-abcde" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2' }] },
    };
    expect(health({ deployment })).toEqual({
      consecutiveFailures: 3,
      failing: true,
      lastError: 'Kubernetes cannot create the replicas\' pods: pods "dep-x-5d9-abcde" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2',
    });
  });

  it("the runtime's own API error wins", () => {
    expect(health({ apiError: "Kubernetes refused to create Deployment x: forbidden" })).toEqual({ consecutiveFailures: 3, failing: true, lastError: "Kubernetes refused to create Deployment x: forbidden" });
  });
});

describe("Kubernetes API errors in plain words", () => {
  const forbidden = Object.assign(new Error("HTTP-Code: 403 ... headers"), {
    code: 403,
    body: JSON.stringify({ kind: "Status", message: 'deployments.apps "x" is forbidden: User "system:serviceaccount:m:engine" cannot create resource "deployments" in API group "apps" in the namespace "m"', reason: "Forbidden", code: 403 }),
  });
  it("forbidden, invalid, unreachable", () => {
    expect(apiStatusCode(forbidden)).toBe(403);
    expect(describeApiError(forbidden, "apply Deployment x")).toBe('Kubernetes refused to apply Deployment x: deployments.apps "x" is forbidden: User "system:serviceaccount:m:engine" cannot create resource "deployments" in API group "apps" in the namespace "m"');
    expect(describeApiError({ code: 422, body: { message: "Deployment.apps \"x\" is invalid: spec.template.spec.containers[0].image: Required value" } }, "apply Deployment x")).toMatch(/^Kubernetes rejected the request to apply Deployment x: Deployment.apps "x" is invalid/);
    expect(describeApiError(new Error("connect ECONNREFUSED 127.0.0.1:6443"), "list Deployments")).toBe("cannot reach the Kubernetes API to list Deployments: connect ECONNREFUSED 127.0.0.1:6443");
    expect(describeApiError(forbidden, "x")).not.toContain("headers");
  });
});
