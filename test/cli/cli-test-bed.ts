/**
 * A CLI test file's own engine: started before its tests (after checking the CLI build), closed
 * after them, and `modelplane …` run against it as a user who exported its URL and key.
 */
import { afterAll, beforeAll } from "vitest";
import type { ModelplaneOptions } from "../../engine/main.js";
import { startTestEngine, type TestEngine } from "../../testing/index.js";
import { assertCliBuilt, runCli, type CliResult } from "./run-cli.js";

export interface CliTestBed {
  /** the engine (set once the file's beforeAll ran) */
  readonly engine: TestEngine;
  /** `modelplane <args>` with MODELPLANE_ENDPOINT and MODELPLANE_API_KEY of the engine */
  modelplane(...args: string[]): Promise<CliResult>;
}

/** Replica start and stop quick, promotion deadlines generous (2 shared cores). */
const ENGINE_OPTIONS: ModelplaneOptions = { runtime: { startupTimeoutMs: 20_000, stopGracePeriodMs: 2_000 }, promotionReadyTimeoutMs: 60_000 };

export function cliTestBed(options: ModelplaneOptions = ENGINE_OPTIONS): CliTestBed {
  let engine: TestEngine | undefined;
  beforeAll(async () => {
    assertCliBuilt();
    engine = await startTestEngine(options);
  });
  afterAll(async () => engine?.close());
  const started = (): TestEngine => {
    if (engine === undefined) throw new Error("cliTestBed: the engine starts in beforeAll");
    return engine;
  };
  return {
    get engine() {
      return started();
    },
    modelplane: (...args) => runCli(args, { MODELPLANE_ENDPOINT: started().url, MODELPLANE_API_KEY: started().apiKey }),
  };
}
