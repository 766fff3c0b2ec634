#!/usr/bin/env node
import { serveCommand } from "./commands/serve.js";
import { UsageError, type CliCommand } from "./usage-error.js";

/** `modelplane <command> …`. Add a command: a file in commands/ exporting a CliCommand, listed here. */
const commands: readonly CliCommand[] = [serveCommand];

function usage(): string {
  return [
    "usage: modelplane <command> [options]",
    "",
    "commands:",
    ...commands.map((command) => `  ${command.name.padEnd(10)} ${command.summary}\n             ${command.usage}`),
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (!command) {
    process.stderr.write(`modelplane: unknown command '${name}'\n${usage()}\n`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`modelplane ${command.name}: ${error.message}\nusage: ${command.usage}\n`);
      return 2;
    }
    throw error;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`modelplane: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
