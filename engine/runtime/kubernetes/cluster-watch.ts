/**
 * The runtime's view of its namespace: informers (list + watch, kept in memory) on the
 * Deployments, pods and EndpointSlices labelled with this installation. Every change reaches
 * `onChange` with the object's replica-set label; the caches answer the runtime's reads without
 * an API call. A watch that fails (API restart, network) is started again after a back-off, and
 * its re-list reconciles whatever changed meanwhile.
 */
import {
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ObjectCache,
  type V1Deployment,
  type V1EndpointSlice,
  type V1Pod,
} from "@kubernetes/client-node";
import { describeApiError } from "./api-error.js";
import { installationSelector, LABEL } from "./labels.js";

export type WatchedKind = "Deployment" | "Pod" | "EndpointSlice";

export interface ClusterWatchOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  installation: string;
  /** an object of `kind` labelled with replica-set `objectName` was added, changed or deleted */
  onChange: (kind: WatchedKind, objectName: string, object: KubernetesObject, deleted: boolean) => void;
  log: (line: string) => void;
}

type Watched<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

/** Back-off of a failed watch: 0.5 s doubling to 15 s; reset once it connects. */
const RESTART_INITIAL_MS = 500;
const RESTART_MAX_MS = 15_000;

export class ClusterWatch {
  readonly #options: ClusterWatchOptions;
  readonly #deployments: Watched<V1Deployment>;
  readonly #pods: Watched<V1Pod>;
  readonly #slices: Watched<V1EndpointSlice>;
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(options: ClusterWatchOptions) {
    this.#options = options;
    const { kubeConfig, namespace } = options;
    const labelSelector = installationSelector(options.installation);
    const apps = kubeConfig.makeApiClient(AppsV1Api);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    this.#deployments = this.#watch(
      "Deployment",
      makeInformer(kubeConfig, `/apis/apps/v1/namespaces/${namespace}/deployments`, () => apps.listNamespacedDeployment({ namespace, labelSelector }), labelSelector),
    );
    this.#pods = this.#watch(
      "Pod",
      makeInformer(kubeConfig, `/api/v1/namespaces/${namespace}/pods`, () => core.listNamespacedPod({ namespace, labelSelector }), labelSelector),
    );
    this.#slices = this.#watch(
      "EndpointSlice",
      makeInformer(
        kubeConfig,
        `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
        () => discovery.listNamespacedEndpointSlice({ namespace, labelSelector }),
        labelSelector,
      ),
    );
  }

  /** Lists everything once and starts watching; resolves when the caches are filled. */
  async start(): Promise<void> {
    await Promise.all([this.#deployments.start(), this.#pods.start(), this.#slices.start()]);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await Promise.all([this.#deployments.stop(), this.#pods.stop(), this.#slices.stop()]);
  }

  deployment(objectName: string): V1Deployment | undefined {
    return this.#deployments.get(objectName, this.#options.namespace);
  }

  pods(objectName: string): V1Pod[] {
    return this.#pods.list(this.#options.namespace).filter((pod) => pod.metadata?.labels?.[LABEL.replicaSet] === objectName);
  }

  endpointSlices(objectName: string): V1EndpointSlice[] {
    return this.#slices.list(this.#options.namespace).filter((slice) => slice.metadata?.labels?.[LABEL.replicaSet] === objectName);
  }

  #watch<T extends KubernetesObject>(kind: WatchedKind, informer: Watched<T>): Watched<T> {
    const changed = (deleted: boolean) => (object: T) => {
      const objectName = object.metadata?.labels?.[LABEL.replicaSet];
      if (objectName === undefined) return;
      try {
        this.#options.onChange(kind, objectName, object, deleted);
      } catch (error) {
        // a bug in handling one event must not stop the informer's other callbacks
        this.#options.log(`kubernetes: handling a ${kind} change of ${objectName} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
    };
    informer.on("add", changed(false));
    informer.on("update", changed(false));
    informer.on("delete", changed(true));
    let delayMs = RESTART_INITIAL_MS;
    let failures = 0;
    informer.on("error", (error: unknown) => {
      if (this.#stopped) return;
      failures++;
      this.#options.log(`kubernetes: watch of ${kind}s failed (${describeApiError(error, `watch ${kind}s`)}); again in ${delayMs} ms`);
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (this.#stopped) return;
        const before = failures;
        // listed and watching again without a new error: the next failure starts from a short delay
        void informer.start().then(() => {
          if (failures === before) delayMs = RESTART_INITIAL_MS;
        });
      }, delayMs);
      this.#timers.add(timer);
      delayMs = Math.min(delayMs * 2, RESTART_MAX_MS);
    });
    return informer;
  }
}
