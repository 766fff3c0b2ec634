import { readFileSync } from "node:fs";
import { UsageError } from "./usage-error.js";

/**
 * The engine's own credentials, each from a file option or its environment variable. Once read,
 * the variables are deleted from the engine's environment, so nothing it starts later (a replica,
 * a helper process) can inherit them. /proc/<pid>/environ still shows the environment the engine
 * was started with: the file options keep them out of it altogether, and replicas run as another
 * user when the engine is root (replica-user.ts).
 */
export interface EngineCredentials {
  apiKey?: string;
  /** keyring text of the secrets' data keys (engine/store/secret-keyring.ts) */
  secretKey?: string;
  databaseUrl?: string;
}

/** variable → file option, for each credential */
export const CREDENTIAL_SOURCES = {
  apiKey: { variable: "MODELPLANE_API_KEY", fileOption: "api-key-file" },
  secretKey: { variable: "MODELPLANE_SECRET_KEY", fileOption: "secret-key-file" },
  databaseUrl: { variable: "MODELPLANE_DATABASE_URL", fileOption: "database-url-file" },
} as const;

function readCredentialFile(option: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`--${option} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const value = text.trim();
  if (value === "") throw new UsageError(`--${option} ${path}: the file is empty`);
  return value;
}

/**
 * Take each credential from its file option, else its flag value (`--database-url`), else its
 * variable; delete every credential variable from `env` whichever was used.
 */
export function takeEngineCredentials(
  files: { "api-key-file"?: string | undefined; "secret-key-file"?: string | undefined; "database-url-file"?: string | undefined },
  flags: { databaseUrl?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): EngineCredentials {
  const credentials: EngineCredentials = {};
  for (const [field, { variable, fileOption }] of Object.entries(CREDENTIAL_SOURCES) as [keyof EngineCredentials, (typeof CREDENTIAL_SOURCES)[keyof EngineCredentials]][]) {
    const file = files[fileOption];
    const fromFlag = field === "databaseUrl" ? flags.databaseUrl : undefined;
    if (file !== undefined && fromFlag !== undefined) throw new UsageError(`--${fileOption} and --database-url: give one`);
    const value = file !== undefined ? readCredentialFile(fileOption, file) : (fromFlag ?? env[variable]);
    if (value !== undefined && value !== "") credentials[field] = value;
    delete env[variable];
  }
  return credentials;
}
