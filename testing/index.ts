/**
 * `modelplane/testing`: a harness for your own tests of models and rollouts.
 *
 *   const engine = await startTestEngine();            // in-process, free port, temp data dir
 *   const model = await engine.client.call("createModel", { body: { name: "m" } });
 *   const load = startLoad({ url: `${engine.url}/models/${model.id}/production/predict`, body: {...} });
 *   ... promote, waitForPromotion(engine.client, ...) ...
 *   const report = await load.stop();                  // report.failed === 0
 *   await engine.close();
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Pool } from "undici";
import { startModelplane, type ModelplaneOptions, type RunningModelplane } from "../engine/main.js";
import { copyPgliteTemplate } from "./pglite-template.js";
import { ModelplaneClient } from "../sdk/client.js";

export { waitForPromotion, describePromotion } from "../sdk/wait.js";
export { temporaryPulumi, pulumiBinDir, type TemporaryPulumi } from "./pulumi.js";
export { copyPgliteTemplate, pgliteTemplateDir } from "./pglite-template.js";
export { ModelplaneClient } from "../sdk/client.js";

/** The admin key startTestEngine gives its engine unless told otherwise. */
export const TEST_ENGINE_API_KEY = "modelplane-test-key";

export interface TestEngine {
  url: string;
  apiKey: string;
  /** a client already pointed at this engine */
  client: ModelplaneClient;
  engine: RunningModelplane;
  dataDir: string;
  /** stops replicas and the engine, removes the data dir */
  close(): Promise<void>;
}

export async function startTestEngine(options: ModelplaneOptions = {}): Promise<TestEngine> {
  let dataDir = options.dataDir;
  let ownsDataDir = false;
  if (!dataDir && !options.databaseUrl) {
    dataDir = join(await mkdtemp(join(tmpdir(), "modelplane-engine-")), "data");
    await copyPgliteTemplate(dataDir);
    ownsDataDir = true;
  }
  const apiKey = options.apiKey ?? TEST_ENGINE_API_KEY;
  const engine = await startModelplane({ port: 0, log: () => undefined, ...options, apiKey, ...(dataDir ? { dataDir } : {}) });
  return {
    url: engine.url,
    apiKey,
    client: new ModelplaneClient({ endpoint: engine.url, apiKey }),
    engine,
    dataDir: dataDir ?? "",
    async close() {
      await engine.close();
      if (ownsDataDir && dataDir) await rm(dirname(dataDir), { recursive: true, force: true });
    },
  };
}

/** Poll `probe` until it returns a value that is not undefined/false, or fail after `timeoutMs`. */
export async function waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, options: { timeoutMs?: number; intervalMs?: number; message?: string } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${options.timeoutMs ?? 30_000} ms waiting for ${options.message ?? "condition"}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}

export interface LoadResponse {
  /** ms since the load started */
  at: number;
  status: number;
  /** `x-modelplane-deployment-id` of the answer */
  deploymentId: string | undefined;
  latencyMs: number;
  error?: string;
}

export interface LoadReport {
  sent: number;
  succeeded: number;
  /** responses with a status ≥ 500, 401 or 403 (a caller without a valid key), or no response at all */
  failed: number;
  /** answers per deployment id */
  byDeployment: Record<string, number>;
  durationMs: number;
  responses: LoadResponse[];
  /** the first few failures, for assertion messages */
  failures: LoadResponse[];
}

export interface LoadOptions {
  /** predict URL */
  url: string;
  body?: unknown;
  /** requests in flight at once (default 8) */
  concurrency?: number;
  /** pause between a response and the next request of the same worker (default 0) */
  pauseMs?: number;
  headers?: Record<string, string>;
  /** sent as `Authorization: Api-Key …`: predict needs a key unless the environment is public
   * (TestEngine.apiKey is an admin key) */
  apiKey?: string;
}

/** Steady closed-loop load against a predict endpoint until `stop()`; records every answer. */
export function startLoad(options: LoadOptions): { stop(): Promise<LoadReport>; snapshot(): LoadReport } {
  const target = new URL(options.url);
  const pool = new Pool(target.origin, { connections: options.concurrency ?? 8 });
  const payload = JSON.stringify(options.body ?? { text: "a great and wonderful day" });
  const headers = {
    "content-type": "application/json",
    ...(options.apiKey !== undefined ? { authorization: `Api-Key ${options.apiKey}` } : {}),
    ...options.headers,
  };
  const started = Date.now();
  const responses: LoadResponse[] = [];
  let stopping = false;
  const worker = async () => {
    while (!stopping) {
      const sentAt = Date.now();
      try {
        const response = await pool.request({
          method: "POST",
          path: target.pathname + target.search,
          headers,
          body: payload,
          headersTimeout: 30_000,
          bodyTimeout: 30_000,
        });
        await response.body.text();
        const header = response.headers["x-modelplane-deployment-id"];
        responses.push({ at: sentAt - started, status: response.statusCode, deploymentId: typeof header === "string" ? header : undefined, latencyMs: Date.now() - sentAt });
      } catch (error) {
        responses.push({ at: sentAt - started, status: 0, deploymentId: undefined, latencyMs: Date.now() - sentAt, error: (error as Error).message });
      }
      if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
  };
  const workers = Array.from({ length: options.concurrency ?? 8 }, worker);
  const report = (): LoadReport => {
    const byDeployment: Record<string, number> = {};
    const failures: LoadResponse[] = [];
    for (const response of responses) {
      if (response.status === 0 || response.status >= 500 || response.status === 401 || response.status === 403) failures.push(response);
      else if (response.deploymentId) byDeployment[response.deploymentId] = (byDeployment[response.deploymentId] ?? 0) + 1;
    }
    return {
      sent: responses.length,
      succeeded: responses.length - failures.length,
      failed: failures.length,
      byDeployment,
      durationMs: Date.now() - started,
      responses: [...responses],
      failures: failures.slice(0, 10),
    };
  };
  return {
    snapshot: report,
    async stop() {
      stopping = true;
      await Promise.all(workers);
      await pool.close();
      return report();
    },
  };
}
