/**
 * The set-up every provider end-to-end test shares: the compiled provider (dist/), loaded by path
 * as the dynamic provider host loads it, and a real engine with real replicas for it to talk to.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll } from "vitest";
import type { ModelplaneOptions } from "../../engine/index.js";
import { startTestEngine, type TestEngine } from "../../testing/index.js";
import { pulumiTestEnv, repoRoot } from "./pulumi.js";

export type Provider = typeof import("../../provider/index.js");

export interface ProviderTestBed {
  /** the compiled provider's resources */
  readonly mp: Provider;
  readonly engine: TestEngine;
  /** the stack config that points the provider at the engine */
  connection(): Record<string, { value: string; secret?: boolean }>;
}

/**
 * Registers the file's beforeAll/afterAll: load the provider, start the engine (with `engineOptions`),
 * and at the end stop it and remove the Pulumi test environment. Read the fields inside tests.
 */
export function providerTestBed(engineOptions: ModelplaneOptions): ProviderTestBed {
  let loaded: { mp: Provider; engine: TestEngine } | undefined;
  const started = () => {
    if (!loaded) throw new Error("the provider test bed is read before its beforeAll ran");
    return loaded;
  };
  beforeAll(async () => {
    const distProvider = resolve(repoRoot, "dist/provider/index.js");
    if (!existsSync(distProvider)) throw new Error("dist/ is missing: run `npm run build` (npm test does) before the provider tests");
    const mp = (await import(distProvider)) as Provider;
    loaded = { mp, engine: await startTestEngine(engineOptions) };
  });
  afterAll(async () => {
    await loaded?.engine.close();
    (await pulumiTestEnv()).cleanup();
  });
  return {
    get mp() {
      return started().mp;
    },
    get engine() {
      return started().engine;
    },
    connection() {
      const { engine } = started();
      return { "modelplane:endpoint": { value: engine.url }, "modelplane:apiKey": { value: engine.apiKey, secret: true } };
    },
  };
}
