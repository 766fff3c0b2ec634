/**
 * The Runtime contract on a real Kubernetes cluster (scripts/kubernetes/cluster.sh): replica sets as
 * Deployments of the example model images, in a namespace of their own. Skipped with a message when no
 * cluster runs, unless MODELPLANE_TEST_KUBERNETES=1 (CI), where a missing cluster fails.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { KubernetesRuntime } from "../../../engine/runtime/kubernetes/index.js";
import { findTestCluster, kubernetesTestsRequired, type TestCluster } from "../../support/kubernetes-cluster.js";
import { createTestNamespace, type TestNamespace } from "../../support/kubernetes-namespace.js";
import { describeRuntimeContract } from "./runtime-contract.js";

const CRASH_SCRIPT = "const line = 'boom: token=' + process.env.LEAKED_TOKEN; console.log(line); console.error(line); process.exit(1)";

const found = findTestCluster();
const missing = "missing" in found ? found.missing : undefined;

if (missing !== undefined && !kubernetesTestsRequired()) {
  describe.skip(`Runtime contract: kubernetes — skipped: ${missing}`, () => {
    it("needs a cluster", () => undefined);
  });
} else {
  let cluster: TestCluster;
  let namespace: TestNamespace;
  beforeAll(async () => {
    if ("missing" in found) throw new Error(`MODELPLANE_TEST_KUBERNETES=1 but ${found.missing}`);
    cluster = found.cluster;
    namespace = await createTestNamespace(cluster.kubeconfig, "runtime-contract");
  });
  afterAll(async () => namespace?.delete());

  const image = (name: string): string => {
    const ref = cluster.images[name];
    if (ref === undefined) throw new Error(`the test cluster has no image for ${name} (images: ${JSON.stringify(cluster.images)})`);
    return ref;
  };

  describeRuntimeContract("kubernetes", {
    create: (inFlight) =>
      KubernetesRuntime.start({
        kubeConfig: namespace.kubeConfig,
        namespace: namespace.name,
        installation: "mp-contract",
        inFlight,
        settings: { imagePullPolicy: "Never", crashLoopThreshold: 2, startupTimeoutSeconds: 20, preStopDelaySeconds: 1, terminationGraceSeconds: 5 },
      }),
    fixtures: {
      model: (version) => ({ kind: "container", image: image(`sentiment-${version}`), port: 8080 }),
      crashing: () => ({ kind: "container", image: image("sentiment-v1"), command: ["node", "-e", CRASH_SCRIPT], port: 8080 }),
    },
    readyTimeoutMs: 60_000,
    failingTimeoutMs: 90_000,
    goneTimeoutMs: 60_000,
    reattach: true,
    idPrefix: "k8s-contract",
  });
}
