import { execFile, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, "../..");
const OUT_DIR_PREFIX = "modelplane-engine-test-";

/**
 * Compile the engine CLI (and only what it imports) for tests that need a real child process
 * (kill -9, signals). The output lives under node_modules/.cache so `zod`, `pg`… resolve from the
 * repo's node_modules without touching dist/, which other builds own.
 */
export async function compileEngineCli(): Promise<string> {
  const outDir = join(repoRoot, "node_modules", ".cache", `${OUT_DIR_PREFIX}${process.pid}`);
  await mkdir(outDir, { recursive: true });
  // node_modules stops the package-scope lookup: mark the output as ESM explicitly
  await writeFile(join(outDir, "package.json"), '{"type": "module"}\n');
  await execFileAsync(
    join(repoRoot, "node_modules", ".bin", "tsc"),
    [
      "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--lib", "es2023",
      "--types", "node", "--strict", "--skipLibCheck", "--esModuleInterop", "--rootDir", repoRoot, "--outDir", outDir,
      join(repoRoot, "cli", "main.ts"),
    ],
    { cwd: repoRoot },
  );
  // tsc mirrors the sources under rootDir (the repository): cli/main.ts → <outDir>/cli/main.js
  return join(outDir, "cli", "main.js");
}

/** Delete the output of compileEngineCli, given the path it returned (and nothing else). */
export async function removeCompiledEngineCli(mainJs: string): Promise<void> {
  const outDir = resolve(mainJs, "../..");
  if (!basename(outDir).startsWith(OUT_DIR_PREFIX)) throw new Error(`${mainJs} is not an output of compileEngineCli`);
  await rm(outDir, { recursive: true, force: true });
}

export interface EngineProcess {
  child: ChildProcessWithoutNullStreams;
  url: string;
  /** every stdout line so far */
  stdoutLines: string[];
  stderr(): string;
  exited: Promise<number | null>;
}

/**
 * `serve` as root runs replicas as an unprivileged user, who cannot reach a repository inside a 0700
 * directory (CI's `mktemp -d` clone, /root): the replicas of tests about other things run as the
 * engine's user unless the test chooses. test/e2e/replica-environment.test.ts tests that default.
 */
export function replicaUserArgs(args: readonly string[], replicaUser: "engine's" | "serve's default" = "engine's"): string[] {
  // pods run as their image says: serve refuses --replica-user with --runtime kubernetes
  if (replicaUser === "serve's default" || args.includes("--replica-user") || args.includes("kubernetes")) return [];
  return process.getuid?.() === 0 ? ["--replica-user", "root"] : [];
}

/** Start `modelplane serve` and wait for its "listening" line. */
export async function spawnEngine(
  mainJs: string,
  args: string[],
  env: Record<string, string> = {},
  options: { replicaUser?: "engine's" | "serve's default" } = {},
): Promise<EngineProcess> {
  const child = spawn(process.execPath, [mainJs, "serve", ...args, ...replicaUserArgs(args, options.replicaUser)], {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const stdoutLines: string[] = [];
  let stderr = "";
  let buffered = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.once("exit", (code) => resolveExit(code)));
  const url = await new Promise<string>((resolveUrl, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        stdoutLines.push(line);
        const match = /^modelplane engine listening on (http:\/\/\S+)$/.exec(line);
        if (match) resolveUrl(match[1]!);
      }
    });
    void exited.then((code) => reject(new Error(`engine exited with ${code} before listening: ${stderr}`)));
  });
  return { child, url, stdoutLines, stderr: () => stderr, exited };
}
