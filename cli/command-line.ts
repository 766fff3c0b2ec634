/**
 * What every client command shares: strict option parsing (mistakes are usage errors, exit 2),
 * positional argument checks, and the connection to the engine from `--endpoint`/`--api-key`,
 * MODELPLANE_ENDPOINT/MODELPLANE_API_KEY, or the key file of a local engine.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ModelplaneClient } from "../sdk/client.js";
import { UsageError } from "./usage-error.js";

type OptionsConfig = NonNullable<ParseArgsConfig["options"]>;

/** Accepted by every command that talks to an engine. */
export const CONNECTION_OPTIONS = {
  endpoint: { type: "string" },
  "api-key": { type: "string" },
} as const satisfies OptionsConfig;

export const CONNECTION_HELP = [
  "connection (every command but serve):",
  "  --endpoint URL   engine URL (default $MODELPLANE_ENDPOINT, then http://127.0.0.1:7070)",
  "  --api-key KEY    admin API key (default $MODELPLANE_API_KEY, then ./.modelplane/api-key",
  "                   for an engine on this machine, as `modelplane serve` here writes it)",
].join("\n");

/**
 * `parseArgs` with the connection options added, unknown flags rejected and positionals allowed;
 * its complaints become usage errors.
 */
export function parseCommandLine<Options extends OptionsConfig>(args: string[], options: Options): ParsedCommandLine<Options> {
  try {
    return parseArgs({ args, options: { ...CONNECTION_OPTIONS, ...options }, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** What `parseCommandLine` returns for these options: typed values and the positionals. */
export type ParsedCommandLine<Options extends OptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: typeof CONNECTION_OPTIONS & Options; strict: true; allowPositionals: true }>
>;

/**
 * The positionals by name, in order: `required` must all be there, `optional` may follow, nothing
 * else. Returns them as a record so commands read `arguments_.model`, not `positionals[1]`.
 */
export function namedPositionals<Required extends string, Optional extends string = never>(
  positionals: readonly string[],
  required: readonly Required[],
  optional: readonly Optional[] = [],
): Record<Required, string> & Partial<Record<Optional, string>> {
  if (positionals.length < required.length) {
    throw new UsageError(`missing argument <${required[positionals.length]}>`);
  }
  if (positionals.length > required.length + optional.length) {
    throw new UsageError(`unexpected argument '${positionals[required.length + optional.length]}'`);
  }
  const named: Record<string, string> = {};
  [...required, ...optional].forEach((name, index) => {
    const value = positionals[index];
    if (value !== undefined) named[name] = value;
  });
  return named as Record<Required, string> & Partial<Record<Optional, string>>;
}

/**
 * How long a command retries an engine that does not answer. The client's default (15 s) suits
 * programs riding out a restart; at a prompt, an engine that is not running should be reported
 * soon. `--wait` tolerates longer outages on its own (it keeps polling until its deadline).
 */
const CLI_RETRY_BUDGET_MS = 5_000;

/** A client for the engine named by the flags or the environment. */
export function connect(values: { endpoint?: string | undefined; "api-key"?: string | undefined }): ModelplaneClient {
  const endpoint = values.endpoint ?? process.env.MODELPLANE_ENDPOINT ?? "http://127.0.0.1:7070";
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new UsageError(`--endpoint (or MODELPLANE_ENDPOINT) is not a URL: '${endpoint}'`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`--endpoint must be an http(s) URL, got '${endpoint}'`);
  }
  // an empty MODELPLANE_API_KEY counts as unset
  const apiKey = values["api-key"] ?? (process.env.MODELPLANE_API_KEY || localEngineApiKey(url));
  return new ModelplaneClient({ endpoint: url.origin, retryBudgetMs: CLI_RETRY_BUDGET_MS, ...(apiKey ? { apiKey } : {}) });
}

/** Hosts whose engine runs on this machine: the only ones the key file in the current directory
 * is sent to (it must not leak to whatever remote endpoint a user types). */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** The key `modelplane serve` generated in ./.modelplane (its default data dir), for an engine on
 * this machine; undefined otherwise. */
function localEngineApiKey(url: URL): string | undefined {
  if (!LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  try {
    return readFileSync(join(".modelplane", "api-key"), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A positive number of seconds from a flag. */
export function parseSeconds(flag: string, value: string): number {
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 86_400) {
    throw new UsageError(`${flag} must be a whole number of seconds from 1 to 86400, got '${value}'`);
  }
  return seconds;
}

/** Writes one line to stdout. */
export function printLine(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** `--json` output: the API's objects as the API returned them, indented for reading. */
export function printJson(value: unknown): void {
  printLine(JSON.stringify(value, null, 2));
}
