/**
 * The runtime the end-to-end promotion scenarios run on: processes (the default) or Kubernetes
 * (`MODELPLANE_TEST_RUNTIME=kubernetes`, which vitest.config.ts's `kubernetes` project sets for
 * these files). The scenarios are written once; what differs is here: how the engine is started,
 * how a deployment of the example models says what to run (a command or an image), and what
 * `modelplane serve` is given.
 */
import { resolve } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import type { ModelplaneOptions } from "../../engine/main.js";
import { LABEL } from "../../engine/runtime/kubernetes/labels.js";
import { kubernetesSkipReason, requireTestCluster } from "../support/kubernetes-cluster.js";
import { createTestNamespace, type TestNamespace } from "../support/kubernetes-namespace.js";

const models = resolve(import.meta.dirname, "../../examples/models");

export type ModelVersion = "v1" | "v2";

/** What a deployment body needs to run an example model: `command` (processes) or `image` + `port`. */
export type Runnable = { command: string[] } | { image: string; port: number };

export interface RuntimeUnderTest {
  name: "process" | "kubernetes";
  /** why these scenarios skip here (Kubernetes without a cluster, outside CI); undefined: they run */
  skipReason: string | undefined;
  /** Options for startTestEngine / startModelplane. Kubernetes: a fresh namespace for the calling
   * file (`what` names it), deleted by cleanup(). Call once per file, in beforeAll. */
  engineOptions(what: string): Promise<Partial<ModelplaneOptions>>;
  runnable(version: ModelVersion): Runnable;
  /** `modelplane serve` arguments selecting this runtime (after engineOptions) */
  serveArgs(): string[];
  /** Kubernetes: names of the pods not terminating, by modelplane deployment id (they outlive the engine) */
  livePods(): Promise<Map<string, string[]>>;
  cleanup(): Promise<void>;
}

function processes(): RuntimeUnderTest {
  return {
    name: "process",
    skipReason: undefined,
    engineOptions: async () => ({}),
    runnable: (version) => ({ command: ["node", `${models}/sentiment-${version}/server.js`] }),
    serveArgs: () => [],
    livePods: async () => new Map(),
    cleanup: async () => undefined,
  };
}

function kubernetes(): RuntimeUnderTest {
  let namespace: TestNamespace | undefined;
  const skipReason = kubernetesSkipReason();
  return {
    name: "kubernetes",
    skipReason,
    async engineOptions(what) {
      const cluster = requireTestCluster();
      namespace = await createTestNamespace(cluster.kubeconfig, `e2e-${what}`);
      return {
        kubernetes: {
          kubeconfigPath: cluster.kubeconfig,
          namespace: namespace.name,
          // pods stop 1 s after the API marks them (preStop), crash loops show after 2 restarts
          settings: { imagePullPolicy: "Never", preStopDelaySeconds: 1, terminationGraceSeconds: 10, crashLoopThreshold: 2, startupTimeoutSeconds: 8 },
        },
      };
    },
    runnable(version) {
      const image = requireTestCluster().images[`sentiment-${version}`];
      if (image === undefined) throw new Error(`the test cluster has no sentiment-${version} image`);
      return { image, port: 8080 };
    },
    serveArgs() {
      if (namespace === undefined) throw new Error("engineOptions() first: it makes the namespace");
      return ["--runtime", "kubernetes", "--kubeconfig", requireTestCluster().kubeconfig, "--namespace", namespace.name, "--image-pull-policy", "Never"];
    },
    async livePods() {
      if (namespace === undefined) throw new Error("engineOptions() first: it makes the namespace");
      const { items } = await namespace.kubeConfig.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: namespace.name });
      const pods = new Map<string, string[]>();
      for (const pod of items) {
        const deploymentId = pod.metadata?.labels?.[LABEL.deployment];
        if (deploymentId === undefined || pod.metadata?.deletionTimestamp) continue;
        pods.set(deploymentId, [...(pods.get(deploymentId) ?? []), pod.metadata?.name ?? ""].sort());
      }
      return pods;
    },
    async cleanup() {
      if (process.env.KEEP_NS !== "1") await namespace?.delete();
    },
  };
}

export function runtimeUnderTest(): RuntimeUnderTest {
  const chosen = process.env.MODELPLANE_TEST_RUNTIME ?? "process";
  if (chosen === "kubernetes") return kubernetes();
  if (chosen !== "process") throw new Error(`MODELPLANE_TEST_RUNTIME must be process or kubernetes, got '${chosen}'`);
  return processes();
}
