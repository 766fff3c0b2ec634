export { KubernetesRuntime, type KubernetesRuntimeOptions } from "./kubernetes-runtime.js";
export { connectToCluster, type ClusterConnection } from "./kube-config.js";
export { DEFAULT_KUBERNETES_SETTINGS, type KubernetesSettings } from "./kubernetes-settings.js";
export { startKubernetesRuntime, type KubernetesRuntimeChoice } from "./start-kubernetes-runtime.js";
