/** A mistake in the command line: printed with the usage text, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A subcommand: its own file under commands/, registered in main.ts. */
export interface CliCommand {
  name: string;
  summary: string;
  usage: string;
  /** resolves with the exit code once the command is finished (for `serve`: after shutdown) */
  run(args: string[]): Promise<number>;
}
