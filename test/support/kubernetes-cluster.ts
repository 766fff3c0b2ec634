import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/**
 * The single-node Kubernetes test cluster that `scripts/kubernetes/cluster.sh up` starts (`.ci/run` does it
 * before `npm test`). Tests find it through its env file, /run/modelplane-cluster/env (KEY=VALUE lines),
 * which exists only while the cluster is up.
 *
 * Outside CI a missing cluster skips the Kubernetes suites with a message saying how to start one; with
 * MODELPLANE_TEST_KUBERNETES=1 (set by .ci/run) a missing cluster fails them instead:
 *
 *   const skipReason = kubernetesSkipReason();
 *   describe.skipIf(skipReason !== undefined)("…", () => {
 *     let cluster: TestCluster;
 *     beforeAll(() => { cluster = requireTestCluster(); });   // throws when required and missing
 */
const execFileAsync = promisify(execFile);
const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const CLUSTER_SCRIPTS = join(repositoryRoot, "scripts/kubernetes");
export const CLUSTER_ENV_FILE = process.env.MODELPLANE_CLUSTER_ENV_FILE ?? "/run/modelplane-cluster/env";

export interface TestCluster {
  /** admin kubeconfig (system:masters), https://127.0.0.1:6443 */
  kubeconfig: string;
  /** containerd's socket; images are imported into its k8s.io namespace */
  containerdSocket: string;
  /** directory holding kubectl */
  kubeBin: string;
  nodeName: string;
  podCidr: string;
  serviceCidr: string;
  /** the cluster's state: logs/<component>.log, pki/, run/ */
  clusterDir: string;
  /** the example model servers' images, by model directory name: { "sentiment-v1": "localhost/modelplane/sentiment-v1:dev", … } */
  images: Record<string, string>;
}

function parseEnvFile(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) values.set(match[1], match[2]);
  }
  return values;
}

/** The running test cluster, or why there is none. */
export function findTestCluster(): { cluster: TestCluster } | { missing: string } {
  if (!existsSync(CLUSTER_ENV_FILE)) {
    return { missing: `no Kubernetes test cluster running (no ${CLUSTER_ENV_FILE}); start one with: sudo scripts/kubernetes/cluster.sh up` };
  }
  const values = parseEnvFile(readFileSync(CLUSTER_ENV_FILE, "utf8"));
  const need = (key: string): string => {
    const value = values.get(key);
    if (!value) throw new Error(`${CLUSTER_ENV_FILE} has no ${key}: written by an older cluster.sh? run scripts/kubernetes/cluster.sh up`);
    return value;
  };
  const images: Record<string, string> = {};
  for (const [key, value] of values) {
    const image = /^MODELPLANE_IMAGE_(.+)$/.exec(key);
    if (image?.[1]) images[image[1].toLowerCase().replaceAll("_", "-")] = value;
  }
  const cluster: TestCluster = {
    kubeconfig: need("MODELPLANE_KUBECONFIG"),
    containerdSocket: need("MODELPLANE_CONTAINERD_SOCKET"),
    kubeBin: need("MODELPLANE_KUBE_BIN"),
    nodeName: need("MODELPLANE_KUBE_NODE"),
    podCidr: need("MODELPLANE_POD_CIDR"),
    serviceCidr: need("MODELPLANE_SERVICE_CIDR"),
    clusterDir: need("MODELPLANE_CLUSTER_DIR"),
    images,
  };
  if (!existsSync(cluster.kubeconfig)) return { missing: `${CLUSTER_ENV_FILE} names ${cluster.kubeconfig}, which does not exist` };
  return { cluster };
}

/** true in CI: the Kubernetes suites must run, a missing cluster is a failure */
export function kubernetesTestsRequired(): boolean {
  return process.env.MODELPLANE_TEST_KUBERNETES === "1";
}

/** Why the Kubernetes suites skip here, or undefined when they run (always undefined when required). */
export function kubernetesSkipReason(): string | undefined {
  if (kubernetesTestsRequired()) return undefined;
  const found = findTestCluster();
  return "missing" in found ? `${found.missing}; skipping the Kubernetes suite` : undefined;
}

/** The running cluster; throws (failing the suite) when there is none. */
export function requireTestCluster(): TestCluster {
  const found = findTestCluster();
  if ("missing" in found) {
    throw new Error(`${found.missing}${kubernetesTestsRequired() ? " (MODELPLANE_TEST_KUBERNETES=1: the Kubernetes tests must run)" : ""}`);
  }
  return found.cluster;
}

/** Runs kubectl against the cluster as admin; resolves with its stdout, rejects with its stderr. */
export async function kubectl(cluster: TestCluster, args: string[], options: { input?: string } = {}): Promise<string> {
  const child = execFileAsync(join(cluster.kubeBin, "kubectl"), ["--kubeconfig", cluster.kubeconfig, ...args], {
    env: { ...process.env, KUBECACHEDIR: join(dirname(dirname(cluster.containerdSocket)), "kube-cache") },
    maxBuffer: 16 * 1024 * 1024,
  });
  if (options.input !== undefined) {
    child.child.stdin?.end(options.input);
  }
  try {
    return (await child).stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr;
    throw new Error(`kubectl ${args.join(" ")}: ${stderr?.trim() || String(error)}`);
  }
}

/**
 * Builds an image of a Node program (dir -> /app, node and its libraries) and imports it into the cluster:
 * scripts/kubernetes/build-image.sh. Resolves with the image reference (pull policy Never).
 */
export async function buildImage(
  dir: string,
  ref: string,
  entrypoint: string[],
  options: { env?: Record<string, string>; node?: string } = {},
): Promise<string> {
  const args = [
    ...Object.entries(options.env ?? {}).flatMap(([key, value]) => ["--env", `${key}=${value}`]),
    ...(options.node ? ["--node", options.node] : []),
    dir,
    ref,
    "--",
    ...entrypoint,
  ];
  const { stdout } = await execFileAsync(join(CLUSTER_SCRIPTS, "build-image.sh"), args, { maxBuffer: 1024 * 1024 });
  return stdout.trim().split("\n").pop() ?? ref;
}
