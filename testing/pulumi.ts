/**
 * A temporary, offline Pulumi environment: the bootstrapped CLI, a `file://` backend
 * and PULUMI_HOME in a temp dir, and every variable that keeps Pulumi from reaching the network.
 * Used by the quickstart, the end-to-end tests and users' own tests of their Pulumi programs.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PulumiCommand } from "@pulumi/pulumi/automation/index.js";
import { nodeModulesOfPulumi, withNodePath } from "../provider/provider-host-path.js";

/** The package root (this file is dist/testing/pulumi.js or testing/pulumi.ts). */
const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), fileURLToPath(import.meta.url).includes("/dist/") ? "../.." : "..");

/**
 * Directory of the `pulumi` binary: MODELPLANE_PULUMI_BIN; else, in a modelplane checkout, what
 * scripts/bootstrap.sh reports (it builds or reuses the cache); else, in an installed package, the
 * `pulumi` on PATH.
 */
export function pulumiBinDir(): string {
  const fromEnv = process.env.MODELPLANE_PULUMI_BIN;
  if (fromEnv) return fromEnv;
  const bootstrap = join(packageRoot, "scripts/bootstrap.sh");
  if (!existsSync(bootstrap)) return pulumiOnPath();
  const out = execFileSync("bash", [bootstrap], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const dir = /^pulumi=(.+)$/m.exec(out)?.[1];
  if (!dir) throw new Error(`scripts/bootstrap.sh printed no pulumi directory: ${out}`);
  process.env.MODELPLANE_PULUMI_BIN = dir;
  return dir;
}

function pulumiOnPath(): string {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir !== "" && existsSync(join(dir, "pulumi"))) return dir;
  }
  throw new Error("no `pulumi` on PATH: install the Pulumi CLI (https://www.pulumi.com/docs/install/) or set MODELPLANE_PULUMI_BIN to its directory");
}

export interface TemporaryPulumi {
  /** environment for LocalWorkspace (`envVars`): offline, temporary backend and home */
  envVars: Record<string, string>;
  command: PulumiCommand;
  /** the temp dir holding backend and home */
  dir: string;
  /** removes the backend and home */
  cleanup(): void;
}

export async function temporaryPulumi(options: { passphrase?: string } = {}): Promise<TemporaryPulumi> {
  const binDir = pulumiBinDir();
  const dir = mkdtempSync(join(tmpdir(), "modelplane-pulumi-"));
  mkdirSync(join(dir, "home"));
  mkdirSync(join(dir, "backend"));
  const envVars: Record<string, string> = {
    PULUMI_HOME: join(dir, "home"),
    PULUMI_BACKEND_URL: `file://${join(dir, "backend")}`,
    PULUMI_CONFIG_PASSPHRASE: options.passphrase ?? "modelplane-temporary",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_SKIP_CONFIRMATIONS: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    PATH: `${binDir}${delimiter}${process.env.PATH ?? ""}`,
  };
  // The dynamic-provider host resolves @pulumi/pulumi from the stack's work directory: see
  // provider/provider-host-path.ts (this also serves dynamic providers that are not modelplane's).
  const pulumiModules = nodeModulesOfPulumi(import.meta.url);
  if (pulumiModules !== undefined) envVars.NODE_PATH = withNodePath(process.env.NODE_PATH, pulumiModules);
  const command = await PulumiCommand.get({ root: dirname(binDir), skipVersionCheck: true });
  return { envVars, command, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
