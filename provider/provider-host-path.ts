/**
 * Lets Pulumi's dynamic-provider host find @pulumi/pulumi from any working directory.
 *
 * The host is a shell script (`pulumi-resource-pulumi-nodejs`) that runs
 * `node -e "require.resolve('@pulumi/pulumi/cmd/dynamic-provider')"` in the stack's work directory.
 * For an inline Automation API program that directory is a temporary one, or wherever the program
 * chose: no node_modules there, and every modelplane resource fails with "Cannot find module
 * '@pulumi/pulumi/cmd/dynamic-provider'" and "could not read plugin … EOF". The host inherits the
 * environment of `pulumi`, which inherits this process's, so NODE_PATH naming the node_modules that
 * hold the @pulumi/pulumi modelplane itself resolves (the program's own copy: it is a peer
 * dependency) makes the host load that copy from anywhere.
 *
 * It has to happen when modelplane is imported: an inline program's resources are constructed
 * only after `stack.up()` has already started `pulumi`.
 */
import { createRequire } from "node:module";
import { delimiter, sep } from "node:path";

/** The node_modules directory holding the @pulumi/pulumi that `fromUrl` resolves, if it is in one. */
export function nodeModulesOfPulumi(fromUrl: string): string | undefined {
  const entry = createRequire(fromUrl).resolve("@pulumi/pulumi"); // …/node_modules/@pulumi/pulumi/index.js
  const at = entry.lastIndexOf(`${sep}node_modules${sep}@pulumi${sep}pulumi${sep}`);
  return at < 0 ? undefined : entry.slice(0, at + `${sep}node_modules`.length);
}

/** NODE_PATH with `directory` appended, unless already there. */
export function withNodePath(current: string | undefined, directory: string): string {
  const entries = (current ?? "").split(delimiter).filter((entry) => entry !== "");
  return entries.includes(directory) ? entries.join(delimiter) : [...entries, directory].join(delimiter);
}

export function exposePulumiToProviderHost(env: NodeJS.ProcessEnv = process.env): void {
  const directory = nodeModulesOfPulumi(import.meta.url);
  if (directory !== undefined) env.NODE_PATH = withNodePath(env.NODE_PATH, directory);
}
