/** A mistake in the command line: printed with the usage text, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A subcommand: its own file under commands/, registered in main.ts. */
export interface CliCommand {
  name: string;
  summary: string;
  usage: string;
  /** option descriptions for `modelplane <command> --help`, one per line */
  help?: string;
  /** resolves with the exit code once the command is finished (for `serve`: after shutdown) */
  run(args: string[]): Promise<number>;
}

/** The user pressed Ctrl-C while a command waited; exit code 130 as shells report SIGINT. */
export class InterruptedError extends Error {
  override readonly name = "InterruptedError";
}
