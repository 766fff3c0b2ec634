/**
 * Running the compiled `modelplane` CLI as a child process, as users run it. `npm test` builds
 * dist/ before vitest; a missing or stale build fails with the command that fixes it.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const repoRoot = resolve(import.meta.dirname, "../..");
export const cliMain = join(repoRoot, "dist", "cli", "main.js");

/** Throws unless dist/ holds a build of every cli/ source at least as new as the source. */
export function assertCliBuilt(): void {
  const built = (path: string) => {
    try {
      return statSync(path).mtimeMs;
    } catch {
      return undefined;
    }
  };
  if (built(cliMain) === undefined) {
    throw new Error(`${cliMain} is missing: build first with \`npx tsc -p tsconfig.json\` (npm test does)`);
  }
  const sources = readdirSync(join(repoRoot, "cli"), { recursive: true, encoding: "utf8" }).filter((file) => file.endsWith(".ts"));
  for (const source of sources) {
    const sourceTime = statSync(join(repoRoot, "cli", source)).mtimeMs;
    const outputTime = built(join(repoRoot, "dist", "cli", source.replace(/\.ts$/, ".js")));
    if (outputTime === undefined || outputTime < sourceTime) {
      throw new Error(`dist/ is older than cli/${source}: rebuild with \`npx tsc -p tsconfig.json\``);
    }
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `modelplane <args>` to completion; never rejects on a non-zero exit. */
export function runCli(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<CliResult> {
  return new Promise((resolveResult, reject) => {
    const options = { env: { ...process.env, ...env }, timeout: 110_000, ...(cwd === undefined ? {} : { cwd }) };
    const child = execFile(process.execPath, [cliMain, ...args], options, (error, stdout, stderr) => {
      // a non-zero exit is a result here; a string code means the process could not run (ENOENT, maxBuffer)
      if (error && typeof error.code === "string") return reject(error);
      resolveResult({ code: child.exitCode, stdout, stderr });
    });
  });
}

export interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  stdoutLines: string[];
  stderr(): string;
  /** resolves with the first stdout line (old or new) matching, or rejects after timeoutMs */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
}

/** Start a long-running command (`dev`) and follow its output line by line. */
export function startCli(args: string[], env: Record<string, string> = {}, cwd?: string): RunningCli {
  const child = spawn(process.execPath, [cliMain, ...args], { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"], ...(cwd === undefined ? {} : { cwd }) });
  const stdoutLines: string[] = [];
  const listeners = new Set<() => void>();
  let stderr = "";
  let buffered = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      stdoutLines.push(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
    }
    for (const listener of listeners) listener();
  });
  const exited = new Promise<number | null>((resolveExit) => child.once("exit", (code) => resolveExit(code)));
  return {
    child,
    stdoutLines,
    stderr: () => stderr,
    exited,
    waitForLine(pattern, timeoutMs = 30_000) {
      return new Promise((resolveMatch, reject) => {
        const check = () => {
          for (const line of stdoutLines) {
            const match = pattern.exec(line);
            if (match) {
              cleanup();
              resolveMatch(match);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no stdout line matched ${pattern} within ${timeoutMs} ms; stdout:\n${stdoutLines.join("\n")}\nstderr:\n${stderr}`));
        }, timeoutMs);
        const onExit = () => {
          check();
          cleanup();
          reject(new Error(`modelplane ${args[0]} exited before printing ${pattern}; stdout:\n${stdoutLines.join("\n")}\nstderr:\n${stderr}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.removeListener("exit", onExit);
        };
        listeners.add(check);
        child.once("exit", onExit);
        check();
      });
    },
  };
}
