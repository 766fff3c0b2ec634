import type { ReplicaSetSpec } from "../runtime.js";

/** Variables of the engine itself (API keys, database URL, …) that must never reach model code. */
const ENGINE_PREFIX = "MODELPLANE_";

/**
 * The environment of a replica process: the engine's environment minus its own MODELPLANE_*
 * settings, then the spec's env (deployment env, environment variables, ENVIRONMENT) and secrets,
 * then PORT, which the runtime owns.
 */
export function replicaEnvironment(
  engineEnv: NodeJS.ProcessEnv,
  spec: Pick<ReplicaSetSpec, "env" | "secrets">,
  port: number,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(engineEnv)) {
    if (value !== undefined && !name.startsWith(ENGINE_PREFIX)) env[name] = value;
  }
  Object.assign(env, spec.env, spec.secrets);
  env["PORT"] = String(port);
  return env;
}

/** The values to redact from anything a replica prints. */
export function secretValues(spec: Pick<ReplicaSetSpec, "secrets">): string[] {
  return Object.values(spec.secrets);
}
