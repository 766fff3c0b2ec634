/**
 * `modelplane dev`: the development loop. Creates (or live-patches) the model's development
 * deployment to run a command in a local directory, then re-patches it whenever a file there
 * changes: same deployment id, revision + 1, its replica restarted from the new source.
 */
import { watch, type FSWatcher } from "node:fs";
import { stat } from "node:fs/promises";
import { resolve, sep } from "node:path";
import type { ModelplaneClient } from "../../sdk/client.js";
import type { Deployment } from "../../sdk/schemas/deployment.js";
import { connect, namedPositionals, parseCommandLine, printLine } from "../command-line.js";
import { formatCliError } from "../report-error.js";
import { resolveModelId } from "../resolve.js";
import { UsageError, type CliCommand } from "../usage-error.js";

/** Editors write a file in several steps (temp file, rename, chmod): one patch per burst, not per event. */
const DEBOUNCE_MS = 300;
const IGNORED_SEGMENTS = new Set(["node_modules", ".git"]);

/**
 * A command line split into argv the way a shell would for the simple cases: whitespace
 * separates, single quotes are literal, double quotes and backslashes escape. No expansion.
 */
export function splitCommand(commandLine: string): string[] {
  const argv: string[] = [];
  let current = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let index = 0; index < commandLine.length; index++) {
    const char = commandLine[index]!;
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else current += char;
    } else if (char === "\\" && index + 1 < commandLine.length) {
      current += commandLine[++index];
      inWord = true;
    } else if (quote === '"') {
      if (char === '"') quote = undefined;
      else current += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) argv.push(current);
      current = "";
      inWord = false;
    } else {
      current += char;
      inWord = true;
    }
  }
  if (quote) throw new UsageError(`--command: unterminated ${quote} quote`);
  if (inWord) argv.push(current);
  return argv;
}

/** node_modules and .git change all the time (installs, commits) without changing what the model runs. */
export function isIgnoredChange(relativePath: string): boolean {
  return relativePath.split(/[\\/]/).some((segment) => IGNORED_SEGMENTS.has(segment));
}

/** Help line of `--command`, shared by the commands that run a directory. */
export const COMMAND_HELP = '  --command CMD    how to start a replica in <dir> (default "node server.js"); it listens on $PORT';

/** The argv of `--command` (default `node server.js`) and the absolute directory it runs in:
 * usage errors for an empty command or a path that is not a directory. */
export async function commandInDirectory(commandOption: string | undefined, dir: string): Promise<{ command: string[]; cwd: string }> {
  const command = splitCommand(commandOption ?? "node server.js");
  if (command.length === 0) throw new UsageError("--command is empty");
  const cwd = resolve(dir);
  const isDirectory = await stat(cwd).then((info) => info.isDirectory(), () => false);
  if (!isDirectory) throw new UsageError(`<dir> is not a directory: ${cwd}`);
  return { command, cwd };
}

async function putDevelopment(client: ModelplaneClient, modelId: string, command: string[], cwd: string): Promise<Deployment> {
  return client.call("putDevelopmentDeployment", { params: { model_id: modelId }, body: { command, cwd } });
}

export const devCommand: CliCommand = {
  name: "dev",
  summary: "run a local directory as the model's development deployment and live-patch it on every change",
  usage: 'modelplane dev <model> <dir> [--command "node server.js"]',
  help: [
    COMMAND_HELP,
    "watches <dir> (not node_modules or .git) and patches the deployment on each change; Ctrl-C stops watching",
  ].join("\n"),
  async run(args) {
    const { values, positionals } = parseCommandLine(args, { command: { type: "string" } });
    const { model, dir } = namedPositionals(positionals, ["model", "dir"]);
    const { command, cwd } = await commandInDirectory(values.command, dir);
    const client = connect(values);
    const modelId = await resolveModelId(client, model);

    const first = await putDevelopment(client, modelId, command, cwd);
    printLine(`${first.revision === 1 ? "created" : "patched"} deployment development (${first.id}) revision ${first.revision}: ${command.join(" ")} in ${cwd}`);
    printLine(`predict: POST ${client.endpoint}/models/${modelId}/development/predict`);
    printLine(`watching ${cwd} for changes (Ctrl-C to stop)`);

    return new Promise<number>((resolveExit) => {
      const changed = new Set<string>();
      let debounce: NodeJS.Timeout | undefined;
      let patching: Promise<void> | undefined;
      let stopping = false;

      // One patch at a time; changes arriving meanwhile go into the next one.
      const patch = async () => {
        const files = [...changed].sort();
        changed.clear();
        try {
          const deployment = await putDevelopment(client, modelId, command, cwd);
          printLine(`patched deployment development (${deployment.id}) revision ${deployment.revision} (changed: ${files.join(", ")})`);
        } catch (error) {
          // keep watching: the next save (or the engine coming back) gets another patch
          process.stderr.write(formatCliError(error));
        }
      };
      const schedule = () => {
        clearTimeout(debounce);
        debounce = setTimeout(() => {
          if (patching) return schedule();
          patching = patch().finally(() => {
            patching = undefined;
          });
        }, DEBOUNCE_MS);
      };

      const stop = (code: number) => {
        if (stopping) return;
        stopping = true;
        clearTimeout(debounce);
        watcher.close();
        process.removeListener("SIGINT", onSignal);
        process.removeListener("SIGTERM", onSignal);
        void (patching ?? Promise.resolve()).then(() => resolveExit(code));
      };
      const onSignal = () => stop(0);

      const watcher: FSWatcher = watch(cwd, { recursive: true }, (_event, filename) => {
        if (stopping) return;
        const relativePath = filename === null ? "." : filename.toString();
        if (isIgnoredChange(relativePath)) return;
        changed.add(relativePath.split(sep).join("/"));
        schedule();
      });
      watcher.on("error", (error) => {
        process.stderr.write(formatCliError(new Error(`watching ${cwd}: ${error.message}`)));
        stop(1);
      });
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
    });
  },
};
