import type { InFlightCounter } from "../runtime.js";
import { installationId } from "../../store/installation.js";
import { RuntimeStartError } from "../runtime-start-error.js";
import type { SqlExecutor } from "../../store/sql.js";
import { connectToCluster } from "./kube-config.js";
import { KubernetesRuntime } from "./kubernetes-runtime.js";
import type { KubernetesSettings } from "./kubernetes-settings.js";

/** `modelplane serve --runtime kubernetes [--kubeconfig PATH] [--namespace NS] [--image-pull-policy P]` */
export interface KubernetesRuntimeChoice {
  /** default: in-cluster when in a pod, else $KUBECONFIG or ~/.kube/config */
  kubeconfigPath?: string;
  /** default: the pod's namespace, else the kubeconfig context's, else "default" */
  namespace?: string;
  /** default: this database's installation id (every engine on one database shares it) */
  installation?: string;
  settings?: Partial<Omit<KubernetesSettings, "namespace" | "installation">>;
}

/** The Kubernetes runtime of an engine: connected, its caches filled, labelled with the installation. */
export async function startKubernetesRuntime(
  choice: KubernetesRuntimeChoice,
  engine: { sql: SqlExecutor; inFlight: InFlightCounter; log: (line: string) => void },
): Promise<KubernetesRuntime> {
  let connection;
  let runtime;
  const installation = choice.installation ?? (await installationId(engine.sql));
  try {
    connection = connectToCluster({
      ...(choice.kubeconfigPath !== undefined ? { kubeconfigPath: choice.kubeconfigPath } : {}),
      ...(choice.namespace !== undefined ? { namespace: choice.namespace } : {}),
    });
    runtime = await KubernetesRuntime.start({
      kubeConfig: connection.kubeConfig,
      namespace: connection.namespace,
      installation,
      inFlight: engine.inFlight,
      log: engine.log,
      ...(choice.settings !== undefined ? { settings: choice.settings } : {}),
    });
  } catch (error) {
    const where = connection === undefined ? "" : ` on ${connection.describe}`;
    throw new RuntimeStartError(`the kubernetes runtime cannot start${where}: ${error instanceof Error ? error.message : String(error)}`);
  }
  engine.log(`modelplane: kubernetes runtime on ${connection.describe}; objects labelled modelplane.dev/owner=${installation}`);
  return runtime;
}
