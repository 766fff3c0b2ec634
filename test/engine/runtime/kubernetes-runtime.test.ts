/**
 * What only the Kubernetes runtime does, on the real test cluster: Kubernetes' refusals in plain
 * words (image missing with pull policy Never, unschedulable, quota, forbidden), the replica that
 * never gets ready, running with exactly the RBAC the README lists, adoption without writes,
 * drift correction, sweeping orphans, detach leaving pods running, terminating pods dropped at once.
 */
import { AppsV1Api, CoreV1Api } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { InFlightCounter, ReplicaSetSpec, Workload } from "../../../engine/runtime/runtime.js";
import { KubernetesRuntime, type KubernetesRuntimeOptions } from "../../../engine/runtime/kubernetes/index.js";
import { objectNameOf } from "../../../engine/runtime/kubernetes/object-name.js";
import { RUNTIME_RBAC_RULES } from "../../../engine/runtime/kubernetes/rbac-rules.js";
import { kubernetesSkipReason, requireTestCluster, type TestCluster } from "../../support/kubernetes-cluster.js";
import { createTestNamespace, type TestNamespace } from "../../support/kubernetes-namespace.js";
import { kubeConfigAsServiceAccount } from "../../support/kubernetes-service-account.js";
import { eventually } from "./helpers.js";

const skipReason = kubernetesSkipReason();

describe.skipIf(skipReason !== undefined)(`Kubernetes runtime${skipReason ? ` — ${skipReason}` : ""}`, { timeout: 180_000 }, () => {
  let cluster: TestCluster;
  let namespace: TestNamespace;
  let apps: AppsV1Api;
  let core: CoreV1Api;
  const runtimes: KubernetesRuntime[] = [];
  const noInFlight: InFlightCounter = { inFlight: () => 0 };

  beforeAll(async () => {
    cluster = requireTestCluster();
    namespace = await createTestNamespace(cluster.kubeconfig, "k8s-runtime");
    apps = namespace.kubeConfig.makeApiClient(AppsV1Api);
    core = namespace.kubeConfig.makeApiClient(CoreV1Api);
  });
  afterEach(async () => {
    await Promise.allSettled(runtimes.splice(0).map((runtime) => runtime.stopAll()));
  });
  afterAll(async () => namespace?.delete());

  async function start(overrides: Partial<KubernetesRuntimeOptions> = {}): Promise<KubernetesRuntime> {
    const runtime = await KubernetesRuntime.start({
      kubeConfig: namespace.kubeConfig,
      namespace: namespace.name,
      installation: "mp-runtime-test",
      inFlight: noInFlight,
      ...overrides,
      settings: { imagePullPolicy: "Never", crashLoopThreshold: 2, startupTimeoutSeconds: 4, unschedulableTimeoutSeconds: 3, preStopDelaySeconds: 1, terminationGraceSeconds: 5, ...overrides.settings },
    });
    runtimes.push(runtime);
    return runtime;
  }

  let sequence = 0;
  function model(overrides: Partial<Extract<Workload, { kind: "container" }>> = {}): Workload {
    const image = cluster.images["sentiment-v1"];
    if (image === undefined) throw new Error(`no sentiment-v1 image in ${JSON.stringify(cluster.images)}`);
    return { kind: "container", image, port: 8080, ...overrides };
  }
  function spec(overrides: Partial<ReplicaSetSpec> = {}): ReplicaSetSpec {
    const id = `dep_k8s${++sequence}.production`;
    return {
      id,
      owner: { modelId: "mdl_k8s", modelName: "k8s", deploymentId: `dep_k8s${sequence}`, deploymentName: `v${sequence}`, environment: "production" },
      workload: model(),
      env: {},
      secrets: {},
      readinessPath: "/health",
      revision: "1",
      ...overrides,
    };
  }
  const failingWith = (runtime: KubernetesRuntime, id: string, pattern: RegExp, timeoutMs = 60_000) =>
    eventually(
      `${id} failing with ${pattern}`,
      () => {
        const observation = runtime.observe(id);
        return observation.failing && pattern.test(observation.lastError ?? "") ? observation : undefined;
      },
      timeoutMs,
    );

  it("an image that is not on the node, pull policy Never: failing at once, naming the image", async () => {
    const runtime = await start();
    const set = spec({ workload: model({ image: "localhost/modelplane/not-there:v1" }) });
    runtime.setDesired(set, 1);
    const observation = await failingWith(runtime, set.id, /not present/);
    expect(observation.lastError).toBe("image localhost/modelplane/not-there:v1 is not present on the node and pulling is disabled (imagePullPolicy: Never)");
    expect(observation.ready).toBe(0);
  });

  it("a replica that never answers its readiness path is restarted by its startup probe and reported", async () => {
    const runtime = await start();
    const set = spec({ env: { MODEL_FAIL_READINESS: "1" } });
    runtime.setDesired(set, 1);
    const observation = await failingWith(runtime, set.id, /not ready after 4 s/, 120_000);
    expect(observation.lastError).toMatch(/^replica not ready after 4 s \(GET \/health: HTTP probe failed with statuscode: 503\) \(restarted \d+ times\)/);
    expect(runtime.readyReplicas(set.id)).toHaveLength(0);
  });

  it("a GPU the node does not have: unschedulable, failing after the unschedulable timeout", async () => {
    const runtime = await start();
    const set = spec({ workload: model({ resources: { extended: { "nvidia.com/gpu": "1" } } }) });
    runtime.setDesired(set, 1);
    const observation = await failingWith(runtime, set.id, /unschedulable/);
    expect(observation.lastError).toMatch(/^unschedulable for \d+ s: 0\/1 nodes are available: 1 Insufficient nvidia\.com\/gpu/);
  });

  it("a quota that forbids the pods: failing with Kubernetes' words", async () => {
    const quotaNamespace = await createTestNamespace(cluster.kubeconfig, "k8s-quota");
    try {
      await core.createNamespacedResourceQuota({ namespace: quotaNamespace.name, body: { metadata: { name: "pods" }, spec: { hard: { pods: "1" } } } });
      const runtime = await start({ namespace: quotaNamespace.name });
      const set = spec();
      runtime.setDesired(set, 2);
      const observation = await failingWith(runtime, set.id, /exceeded quota/, 90_000);
      expect(observation.lastError).toMatch(/^Kubernetes cannot create the replicas' pods: pods ".+" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1/);
      await runtime.stopAll();
    } finally {
      await quotaNamespace.delete();
    }
  });

  it("forbidden by RBAC: failing with the API's refusal, no secret in it", async () => {
    const readOnly = await kubeConfigAsServiceAccount(namespace.kubeConfig, namespace.name, "read-only", RUNTIME_RBAC_RULES.map((rule) => ({ ...rule, verbs: rule.verbs.filter((verb) => verb === "list" || verb === "watch") })).filter((rule) => rule.verbs.length > 0));
    const runtime = await start({ kubeConfig: readOnly });
    const set = spec({ secrets: { HF_TOKEN: "hf_forbidden_secret" } });
    runtime.setDesired(set, 1);
    const observation = await failingWith(runtime, set.id, /forbidden/);
    expect(observation.lastError).toMatch(/^Kubernetes refused to apply Secret .+: secrets ".+" is forbidden: User "system:serviceaccount:.+:read-only" cannot patch resource "secrets"/);
    expect(observation.lastError).not.toContain("hf_forbidden_secret");
    runtimes.splice(runtimes.indexOf(runtime), 1);
    await runtime.detach();
  });

  it("runs, adopts and removes with exactly the RBAC of RUNTIME_RBAC_RULES; adoption writes nothing", async () => {
    const limited = await kubeConfigAsServiceAccount(namespace.kubeConfig, namespace.name, "modelplane-runtime", RUNTIME_RBAC_RULES);
    const first = await start({ kubeConfig: limited });
    const set = spec({ env: { ENVIRONMENT: "production" }, secrets: { HF_TOKEN: "hf_limited_secret" } });
    first.setDesired(set, 2);
    await eventually("2 ready", () => first.readyReplicas(set.id).length === 2, 90_000);
    const name = objectNameOf(set.id);
    const before = await apps.readNamespacedDeployment({ name, namespace: namespace.name });
    const pods = first.readyReplicas(set.id).map((replica) => replica.id).sort();

    await first.detach();
    runtimes.splice(runtimes.indexOf(first), 1);
    // detached: the pods keep serving
    expect((await core.listNamespacedPod({ namespace: namespace.name, labelSelector: `modelplane.dev/replica-set=${name}` })).items).toHaveLength(2);

    const second = await start({ kubeConfig: limited });
    expect((await second.list()).find((existing) => existing.id === set.id)).toEqual({ id: set.id, owner: set.owner, desired: 2, revision: "1" });
    second.setDesired({ ...set }, 2);
    await eventually("2 ready after adoption", () => second.readyReplicas(set.id).length === 2, 30_000);
    expect(second.readyReplicas(set.id).map((replica) => replica.id).sort()).toEqual(pods);
    const after = await apps.readNamespacedDeployment({ name, namespace: namespace.name });
    expect(after.metadata?.generation).toBe(before.metadata?.generation);
    expect(after.spec?.template).toEqual(before.spec?.template);

    // someone scales it by hand: the engine's declaration wins again
    await apps.patchNamespacedDeploymentScale({ name, namespace: namespace.name, body: [{ op: "replace", path: "/spec/replicas", value: 3 }] });
    await eventually("replicas back to 2", async () => (await apps.readNamespacedDeployment({ name, namespace: namespace.name })).spec?.replicas === 2, 30_000);

    await second.remove(set.id);
    const left = await Promise.all([
      apps.listNamespacedDeployment({ namespace: namespace.name, labelSelector: `modelplane.dev/replica-set=${name}` }),
      core.listNamespacedService({ namespace: namespace.name, labelSelector: `modelplane.dev/replica-set=${name}` }),
      core.listNamespacedSecret({ namespace: namespace.name, labelSelector: `modelplane.dev/replica-set=${name}` }),
      core.listNamespacedPod({ namespace: namespace.name, labelSelector: `modelplane.dev/replica-set=${name}` }),
    ]);
    expect(left.map((list) => list.items.length)).toEqual([0, 0, 0, 0]);
  });

  it("two engines on one installation: only the writer writes; a follower observes the same pods, and its declarations and removals touch nothing", async () => {
    const leader = await start();
    const follower = await start();
    follower.setWriter(false);
    const set = spec();
    const name = objectNameOf(set.id);
    leader.setDesired(set, 2);
    // the follower declares what it last read from the store — an older count — and must not write it
    follower.setDesired(set, 1);
    await eventually("the leader's 2 ready, seen by the follower too", () => leader.readyReplicas(set.id).length === 2 && follower.readyReplicas(set.id).length === 2, 90_000);
    const before = await apps.readNamespacedDeployment({ name, namespace: namespace.name });
    expect(before.spec?.replicas).toBe(2);
    expect(follower.readyReplicas(set.id).map((replica) => replica.id).sort()).toEqual(leader.readyReplicas(set.id).map((replica) => replica.id).sort());
    // a scale by hand: the leader's declaration wins again; the follower does not fight it either way
    await apps.patchNamespacedDeploymentScale({ name, namespace: namespace.name, body: [{ op: "replace", path: "/spec/replicas", value: 3 }] });
    await eventually("replicas back to 2", async () => (await apps.readNamespacedDeployment({ name, namespace: namespace.name })).spec?.replicas === 2, 30_000);
    follower.setDesired(set, 5);
    await follower.remove(set.id);
    const after = await apps.readNamespacedDeployment({ name, namespace: namespace.name });
    expect(after.spec?.replicas).toBe(2);
    // the writer's generation moved only for the hand scale and its correction (2 writes), never for the follower
    expect(after.metadata?.generation).toBe((before.metadata?.generation ?? 0) + 2);
    // the follower takes over: its declaration is applied at once
    await leader.detach();
    runtimes.splice(runtimes.indexOf(leader), 1);
    follower.setDesired(set, 1);
    follower.setWriter(true);
    await eventually("scaled to the new writer's 1", async () => (await apps.readNamespacedDeployment({ name, namespace: namespace.name })).spec?.replicas === 1, 30_000);
  });

  it("a variable that changes without a new revision restarts no pod, even while the cache has not seen the Deployment yet", async () => {
    const runtime = await start();
    const set = spec();
    runtime.setDesired(set, 1);
    // at once: the informer has not delivered the Deployment just created
    runtime.setDesired({ ...set, env: { ENVIRONMENT: "production" } }, 2);
    await eventually("2 ready", () => runtime.readyReplicas(set.id).length === 2, 90_000);
    const replicaSets = await apps.listNamespacedReplicaSet({ namespace: namespace.name, labelSelector: `modelplane.dev/replica-set=${objectNameOf(set.id)}` });
    expect(replicaSets.items).toHaveLength(1);
    runtime.setDesired({ ...set, env: { ENVIRONMENT: "production" }, revision: "2" }, 2);
    await eventually("a second ReplicaSet for revision 2", async () => (await apps.listNamespacedReplicaSet({ namespace: namespace.name, labelSelector: `modelplane.dev/replica-set=${objectNameOf(set.id)}` })).items.length === 2, 30_000);
  });

  it("a terminating pod leaves the ready set as soon as the API marks it, and serves through its preStop delay", async () => {
    const runtime = await start({ settings: { preStopDelaySeconds: 3 } });
    const set = spec();
    runtime.setDesired(set, 2);
    await eventually("2 ready", () => runtime.readyReplicas(set.id).length === 2, 90_000);
    const [victim] = runtime.readyReplicas(set.id);
    const deletedAt = Date.now();
    await core.deleteNamespacedPod({ name: victim!.id, namespace: namespace.name });
    await eventually("victim out of the ready set", () => !runtime.readyReplicas(set.id).some((replica) => replica.id === victim!.id), 5_000);
    const droppedMs = Date.now() - deletedAt;
    // still answering during its preStop sleep: requests already sent to it finish
    const answer = await fetch(`${victim!.url}/predict`, { method: "POST", body: JSON.stringify({ text: "ok" }), headers: { "content-type": "application/json" } });
    expect(answer.status).toBe(200);
    console.log(`terminating pod dropped from the ready set ${droppedMs} ms after the delete call returned`);
    expect(droppedMs).toBeLessThan(2_000);
  });

  it("removes a set it never declared (the sweep) and leaves other installations' objects alone", async () => {
    const other = await start({ installation: "mp-other" });
    const theirs = spec();
    other.setDesired(theirs, 1);
    await eventually("theirs ready", () => other.readyReplicas(theirs.id).length === 1, 90_000);
    await other.detach();
    runtimes.splice(runtimes.indexOf(other), 1);

    const mine = await start();
    expect((await mine.list()).map((existing) => existing.id)).not.toContain(theirs.id);
    const orphan = await start();
    const orphanSet = spec();
    orphan.setDesired(orphanSet, 1);
    await eventually("orphan ready", () => orphan.readyReplicas(orphanSet.id).length === 1, 90_000);
    await orphan.detach();
    runtimes.splice(runtimes.indexOf(orphan), 1);

    const listed = (await mine.list()).map((existing) => existing.id);
    expect(listed).toContain(orphanSet.id);
    await mine.remove(orphanSet.id);
    expect((await mine.list()).map((existing) => existing.id)).not.toContain(orphanSet.id);
    await mine.stopAll();
    runtimes.splice(runtimes.indexOf(mine), 1);
    // the other installation's set survived both the sweep and stopAll
    const survivors = await apps.listNamespacedDeployment({ namespace: namespace.name, labelSelector: "modelplane.dev/owner=mp-other" });
    expect(survivors.items.map((deployment) => deployment.metadata?.name)).toEqual([objectNameOf(theirs.id)]);
    const cleanup = await start({ installation: "mp-other" });
    await cleanup.stopAll();
  });
});

