import { fileURLToPath } from "node:url";
import type { ReplicaSetSpec } from "../../../engine/runtime/runtime.js";

export const SENTIMENT_V1 = fileURLToPath(new URL("../../../examples/models/sentiment-v1/server.js", import.meta.url));
export const SENTIMENT_V2 = fileURLToPath(new URL("../../../examples/models/sentiment-v2/server.js", import.meta.url));

/** Options that keep real-process tests fast: short polls, back-offs and grace periods. */
export const FAST_RUNTIME_OPTIONS = {
  readinessPollIntervalMs: 50,
  healthCheckIntervalMs: 200,
  healthCheckFailureThreshold: 2,
  probeTimeoutMs: 500,
  startupTimeoutMs: 10_000,
  backoffInitialMs: 50,
  backoffMaxMs: 400,
  drainTimeoutMs: 5_000,
  stopGracePeriodMs: 2_000,
} as const;

/** A replica set of the sentiment model server (v1 unless `command` says otherwise). */
export function sentimentSpec(options: {
  id: string;
  command?: string[];
  env?: Record<string, string>;
  secrets?: Record<string, string>;
  revision?: string;
}): ReplicaSetSpec {
  return {
    id: options.id,
    owner: { modelId: "mdl_test", modelName: "sentiment", deploymentId: options.id, deploymentName: options.id, environment: null },
    workload: { kind: "process", command: options.command ?? [process.execPath, SENTIMENT_V1] },
    env: options.env ?? {},
    secrets: options.secrets ?? {},
    readinessPath: "/health",
    revision: options.revision ?? "1",
  };
}

/** Polls `check` until it returns a truthy value or the deadline passes (then throws with `what`). */
export async function eventually<T>(what: string, check: () => T | Promise<T>, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for: ${what}${last instanceof Error ? ` (last error: ${last.message})` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** True while any process of the group `pgid` exists. */
export function processGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url);
  return response.json();
}
