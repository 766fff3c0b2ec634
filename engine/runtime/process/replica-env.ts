import type { ReplicaSetSpec } from "../runtime.js";

/**
 * What a replica takes from the engine's environment: where programs are, the user's home, the
 * locale and the time zone — nothing else. The engine's environment may hold its admin key, the
 * data key of the secrets, a database URL with a password, a cloud token: model code must see
 * none of them, so the list is of what to pass, never of what to hold back.
 */
export const INHERITED_VARIABLES: readonly string[] = ["PATH", "HOME", "LANG", "LC_ALL", "TZ"];

/** Set when the engine's environment has no PATH (a replica's `node` must still be found). */
const FALLBACK_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The environment of a replica process: INHERITED_VARIABLES and any `passThrough` names from the
 * engine's environment, then `overrides` (the replica user's HOME), then the spec's env
 * (deployment env, environment variables, ENVIRONMENT) and secrets, then PORT, which the runtime
 * owns.
 */
export function replicaEnvironment(
  engineEnv: NodeJS.ProcessEnv,
  spec: Pick<ReplicaSetSpec, "env" | "secrets">,
  port: number,
  options: { passThrough?: readonly string[]; overrides?: Record<string, string> } = {},
): Record<string, string> {
  const env: Record<string, string> = { PATH: FALLBACK_PATH };
  for (const name of [...INHERITED_VARIABLES, ...(options.passThrough ?? [])]) {
    const value = engineEnv[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, options.overrides, spec.env, spec.secrets);
  env["PORT"] = String(port);
  return env;
}

/** The values to redact from anything a replica prints. */
export function secretValues(spec: Pick<ReplicaSetSpec, "secrets">): string[] {
  return Object.values(spec.secrets);
}
