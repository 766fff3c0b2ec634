/**
 * Harness for end-to-end tests through the Pulumi Automation API, against the real CLI and engine.
 *
 * Per test run: a temporary `file://` backend and PULUMI_HOME, every variable that keeps Pulumi
 * offline, and one shared PulumiCommand (the bootstrapped CLI). Per test: a stack that is
 * destroyed and removed afterwards (`withStack`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalWorkspace, type InlineProgramArgs, type Stack } from "@pulumi/pulumi/automation/index.js";
import { temporaryPulumi, type TemporaryPulumi } from "../../testing/pulumi.js";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface PulumiTestEnv extends TemporaryPulumi {
  /** A directory under the repository, so program-side `node_modules` resolution works. */
  workRoot: string;
}

let shared: Promise<PulumiTestEnv> | undefined;

/** The per-run Pulumi environment, created once per test file (vitest worker). */
export function pulumiTestEnv(): Promise<PulumiTestEnv> {
  shared ??= (async () => {
    const pulumi = await temporaryPulumi({ passphrase: "modelplane-test-passphrase" });
    const workRoot = mkdtempSync(join(repoRoot, "node_modules", ".modelplane-e2e-"));
    return {
      ...pulumi,
      workRoot,
      cleanup() {
        pulumi.cleanup();
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
