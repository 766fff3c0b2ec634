#!/usr/bin/env node
import { closeAllClients } from "../sdk/client.js";
import { CONNECTION_HELP } from "./command-line.js";
import { commands } from "./command-table.js";
import { formatCliError } from "./report-error.js";
import { InterruptedError, UsageError, type CliCommand } from "./usage-error.js";

function overview(): string {
  const width = Math.max(...commands.map((command) => command.name.length)) + 2;
  return [
    "usage: modelplane <command> [arguments] [options]",
    "",
    "commands:",
    ...commands.map((command) => `  ${command.name.padEnd(width)}${command.summary}`),
    "",
    "<model> is a model id or name, <deployment> a deployment id or name.",
    CONNECTION_HELP,
    "",
    "run 'modelplane <command> --help' for a command's arguments and options.",
  ].join("\n");
}

function commandHelp(command: CliCommand): string {
  return [
    `${command.name}: ${command.summary}`,
    "",
    `usage: ${command.usage}`,
    ...(command.help ? ["", command.help] : []),
    ...(command.name === "serve" ? [] : ["", CONNECTION_HELP]),
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process[name === undefined ? "stderr" : "stdout"].write(`${overview()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (!command) {
    process.stderr.write(`modelplane: unknown command '${name}'\n\n${overview()}\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${commandHelp(command)}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`modelplane ${command.name}: ${error.message}\nusage: ${command.usage}\n(see 'modelplane ${command.name} --help')\n`);
      return 2;
    }
    if (error instanceof InterruptedError) {
      process.stderr.write(`${error.message}\n`);
      return 130;
    }
    process.stderr.write(formatCliError(error));
    if (process.env.MODELPLANE_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return 1;
  } finally {
    await closeAllClients();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`modelplane: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
