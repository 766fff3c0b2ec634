import { existsSync, readFileSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";

/** Where a pod's service account credentials and namespace are mounted. */
const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface ClusterConnection {
  kubeConfig: KubeConfig;
  namespace: string;
  /** for messages: "https://127.0.0.1:6443 (kubeconfig /path)", "in-cluster" */
  describe: string;
}

/**
 * How the engine reaches its cluster: `--kubeconfig PATH`; else, inside a pod, the pod's service
 * account (in-cluster); else $KUBECONFIG or ~/.kube/config. The namespace: `--namespace`, else the
 * pod's own, else the kubeconfig context's, else "default".
 */
export function connectToCluster(options: { kubeconfigPath?: string; namespace?: string; env?: NodeJS.ProcessEnv }): ClusterConnection {
  const env = options.env ?? process.env;
  const kubeConfig = new KubeConfig();
  let source: string;
  if (options.kubeconfigPath !== undefined) {
    if (!existsSync(options.kubeconfigPath)) throw new Error(`--kubeconfig ${options.kubeconfigPath}: no such file`);
    kubeConfig.loadFromFile(options.kubeconfigPath);
    source = `kubeconfig ${options.kubeconfigPath}`;
  } else if (env.KUBERNETES_SERVICE_HOST !== undefined && existsSync(`${SERVICE_ACCOUNT_DIR}/token`)) {
    kubeConfig.loadFromCluster();
    source = "in-cluster service account";
  } else {
    kubeConfig.loadFromDefault();
    source = env.KUBECONFIG !== undefined ? `kubeconfig ${env.KUBECONFIG}` : "default kubeconfig";
  }
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error(`no Kubernetes cluster configured (${source})`);
  const namespace =
    options.namespace ??
    (source === "in-cluster service account" ? readFileSync(`${SERVICE_ACCOUNT_DIR}/namespace`, "utf8").trim() : undefined) ??
    kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ??
    "default";
  return { kubeConfig, namespace, describe: `${cluster.server} (${source}), namespace ${namespace}` };
}
