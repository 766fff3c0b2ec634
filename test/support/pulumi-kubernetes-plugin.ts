import { execFile } from "node:child_process";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { CLUSTER_SCRIPTS } from "./kubernetes-cluster.js";
import type { PulumiTestEnv } from "./pulumi.js";

const execFileAsync = promisify(execFile);

/**
 * Pulumi's Kubernetes resource plugin, which `@pulumi/kubernetes` programs need for a real `pulumi up`:
 * built from the Go module proxy by scripts/kubernetes/build-pulumi-kubernetes.sh (cached under
 * $MODELPLANE_CACHE; `.ci/run` builds it before the tests, a cold build takes minutes), then installed
 * into the tests' temporary PULUMI_HOME as `pulumi plugin install resource kubernetes v<version> --file`.
 * Resolves with the installed version.
 */
export async function installKubernetesPlugin(env: PulumiTestEnv): Promise<string> {
  const { stdout } = await execFileAsync("bash", [join(CLUSTER_SCRIPTS, "build-pulumi-kubernetes.sh")], { maxBuffer: 1024 * 1024 });
  const binary = stdout.trim().split("\n").pop() ?? "";
  const version = /^resource-kubernetes-v(.+)$/.exec(basename(dirname(binary)))?.[1];
  if (version === undefined) throw new Error(`build-pulumi-kubernetes.sh printed ${JSON.stringify(stdout)}, not the plugin's path`);
  await execFileAsync(env.command.command, ["plugin", "install", "resource", "kubernetes", `v${version}`, "--file", binary], {
    cwd: env.dir,
    env: { ...process.env, ...env.envVars },
    maxBuffer: 1024 * 1024,
  });
  return version;
}
