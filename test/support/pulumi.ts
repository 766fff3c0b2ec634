/**
 * Harness for end-to-end tests through the Pulumi Automation API, against the real CLI and engine.
 *
 * Per test run: a temporary `file://` backend and PULUMI_HOME, every variable that keeps Pulumi
 * offline, and one shared PulumiCommand (the bootstrapped v3.248.0 CLI). Per test: a stack that is
 * destroyed and removed afterwards (`withStack`).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  LocalWorkspace,
  PulumiCommand,
  type InlineProgramArgs,
  type Stack,
} from "@pulumi/pulumi/automation/index.js";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Directory holding the `pulumi` binary: MODELPLANE_PULUMI_BIN, else what bootstrap reports. */
export function pulumiBinDir(): string {
  const fromEnv = process.env.MODELPLANE_PULUMI_BIN;
  if (fromEnv) return fromEnv;
  const out = execFileSync("bash", [join(repoRoot, "scripts/bootstrap.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const dir = out.trim().split("\n").pop();
  if (!dir) throw new Error("scripts/bootstrap.sh printed no pulumi directory");
  process.env.MODELPLANE_PULUMI_BIN = dir;
  return dir;
}

export interface PulumiTestEnv {
  /** Environment variables for the CLI: offline, temporary backend and home. */
  envVars: Record<string, string>;
  command: PulumiCommand;
  /** A directory under the repository, so program-side `node_modules` resolution works. */
  workRoot: string;
  cleanup(): void;
}

let shared: Promise<PulumiTestEnv> | undefined;

/** The per-run Pulumi environment, created once per test file (vitest worker). */
export function pulumiTestEnv(): Promise<PulumiTestEnv> {
  shared ??= (async () => {
    const binDir = pulumiBinDir();
    const base = mkdtempSync(join(tmpdir(), "modelplane-pulumi-"));
    const workRoot = mkdtempSync(join(repoRoot, "node_modules", ".modelplane-e2e-"));
    const envVars: Record<string, string> = {
      PULUMI_HOME: join(base, "home"),
      PULUMI_BACKEND_URL: `file://${join(base, "backend")}`,
      PULUMI_CONFIG_PASSPHRASE: "modelplane-test-passphrase",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_SKIP_CONFIRMATIONS: "true",
      PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
      // The dynamic-provider host (`pulumi-resource-pulumi-nodejs`) sits beside the CLI; it
      // resolves @pulumi/pulumi from its working directory, NODE_PATH makes that independent of it.
      PATH: `${binDir}:${process.env.PATH ?? ""}`,
      NODE_PATH: join(repoRoot, "node_modules"),
    };
    execFileSync("mkdir", ["-p", join(base, "home"), join(base, "backend")]);
    const command = await PulumiCommand.get({ root: dirname(binDir), skipVersionCheck: true });
    return {
      envVars,
      command,
      workRoot,
      cleanup() {
        rmSync(base, { recursive: true, force: true });
        rmSync(workRoot, { recursive: true, force: true });
      },
    };
  })();
  return shared;
}

let stackCounter = 0;

/**
 * Creates a stack for an inline program, runs `body`, then destroys and removes the stack
 * whatever happened (a failing test leaves nothing behind).
 */
export async function withStack<T>(
  projectName: string,
  program: InlineProgramArgs["program"],
  body: (stack: Stack, env: PulumiTestEnv) => Promise<T>,
  config: Record<string, { value: string; secret?: boolean }> = {},
): Promise<T> {
  const env = await pulumiTestEnv();
  const stackName = `t${process.pid}-${++stackCounter}`;
  const workDir = mkdtempSync(join(env.workRoot, `${projectName}-`));
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName, projectName, program },
    { workDir, envVars: env.envVars, pulumiCommand: env.command },
  );
  if (Object.keys(config).length > 0) await stack.setAllConfig(config);
  try {
    return await body(stack, env);
  } finally {
    try {
      await stack.destroy({ onOutput: () => undefined });
    } finally {
      await stack.workspace.removeStack(stackName, { force: true });
      rmSync(workDir, { recursive: true, force: true });
    }
  }
}
