import { randomBytes } from "node:crypto";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";

export interface TestNamespace {
  name: string;
  kubeConfig: KubeConfig;
  /** Deletes the namespace and everything in it (Kubernetes finishes in the background). */
  delete(): Promise<void>;
}

/**
 * A fresh namespace per test file (`mp-<what>-<random>`), so that files running side by side and
 * earlier runs never see each other's objects; labelled so that a leftover is easy to find and delete
 * (`kubectl delete ns -l modelplane.dev/test`).
 */
export async function createTestNamespace(kubeconfigPath: string, what: string): Promise<TestNamespace> {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const name = `mp-${what}-${randomBytes(3).toString("hex")}`.slice(0, 63);
  await core.createNamespace({ body: { metadata: { name, labels: { "modelplane.dev/test": what } } } });
  // Pods need the namespace's default service account (the controller manager creates it) to be admitted.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await core.readNamespacedServiceAccount({ name: "default", namespace: name });
      break;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`namespace ${name}: no default service account after 30 s (${String(error)})`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    name,
    kubeConfig,
    async delete() {
      await core.deleteNamespace({ name }).catch(() => undefined);
    },
  };
}
