import type { ReplicaSpec } from "../runtime.js";

/** Variables of the engine itself (API keys, database URL, …) that must never reach model code. */
const ENGINE_PREFIX = "MODELPLANE_";

/**
 * The environment of a replica process: the engine's environment minus its own MODELPLANE_*
 * settings, then the spec's env (deployment env, environment variables and secrets, ENVIRONMENT),
 * then PORT, which the runtime owns.
 */
export function replicaEnvironment(
  engineEnv: NodeJS.ProcessEnv,
  spec: ReplicaSpec,
  port: number,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(engineEnv)) {
    if (value !== undefined && !name.startsWith(ENGINE_PREFIX)) env[name] = value;
  }
  Object.assign(env, spec.env);
  env["PORT"] = String(port);
  return env;
}

/** The values to redact from anything a replica prints. */
export function secretValues(spec: ReplicaSpec): string[] {
  const values: string[] = [];
  for (const name of spec.secretKeys ?? []) {
    const value = spec.env[name];
    if (value !== undefined) values.push(value);
  }
  return values;
}
