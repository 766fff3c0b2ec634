/**
 * Several engines on one test PostgreSQL, as the multi-engine e2e files run them: the database
 * server, a scratch directory for the engines' data dirs, the one secret key that engines sharing a
 * database need (a second engine with a key of its own stops at start: README), and the clean-up
 * of all of it after the file. Call it once at a file's top level: it registers beforeAll/afterAll.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import type { ModelplaneOptions } from "../../engine/main.js";
import { startTestEngine, type TestEngine } from "../../testing/index.js";
import { compileEngineCli, spawnEngine, type EngineProcess } from "./compiled-engine.js";
import { postgresUnavailableReason, startTestPostgres, type TestPostgres } from "./postgres.js";

export interface EnginesOnPostgres {
  /** why this machine cannot run PostgreSQL tests (describe.skipIf), or undefined */
  readonly skipReason: string | undefined;
  /** the key every engine of the file writes secrets with */
  readonly secretKey: string;
  /** a new, empty database on the test server */
  database(name: string): Promise<string>;
  /** the data dir `name` in the scratch directory (an engine started otherwise: with a key of its own) */
  dataDir(name: string): string;
  /** an engine in the test's process on `databaseUrl`, its data dir named `name`; closed after the file */
  startEngine(databaseUrl: string, name: string, options?: ModelplaneOptions): Promise<TestEngine>;
  /** `modelplane serve` as a child process (for kill -9) on `databaseUrl`; killed after the file */
  spawnEngine(databaseUrl: string, name: string, apiKey: string): Promise<EngineProcess>;
}

/** `prefix` names the scratch directory; `childEngines` compiles the engine CLI once, for spawnEngine. */
export function enginesOnPostgres(prefix: string, options: { childEngines?: boolean } = {}): EnginesOnPostgres {
  const skipReason = postgresUnavailableReason();
  const secretKey = randomBytes(32).toString("base64");
  let postgres: TestPostgres | undefined;
  let root: string | undefined;
  let mainJs: string | undefined;
  const engines: TestEngine[] = [];
  const children: EngineProcess[] = [];

  beforeAll(async () => {
    if (skipReason) return;
    root = await mkdtemp(join(tmpdir(), `modelplane-${prefix}-`));
    [postgres, mainJs] = await Promise.all([startTestPostgres(), options.childEngines ? compileEngineCli() : undefined]);
  }, 180_000);
  afterAll(async () => {
    for (const child of children) child.child.kill("SIGKILL");
    for (const engine of engines) await engine.close().catch(() => undefined);
    await postgres?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const started = <T>(what: T | undefined, name: string): T => {
    if (what === undefined) throw new Error(`enginesOnPostgres: ${name} is not ready (skipped, or used outside a test)`);
    return what;
  };

  return {
    skipReason,
    secretKey,
    database: (name) => started(postgres, "PostgreSQL").createDatabase(name),
    dataDir: (name) => join(started(root, "the scratch directory"), name),
    async startEngine(databaseUrl, name, engineOptions = {}) {
      const running = await startTestEngine({ ...engineOptions, databaseUrl, secretKey, dataDir: this.dataDir(name) });
      // closed by the test (a takeover) and again after the file: the second close is a no-op
      let closing: Promise<void> | undefined;
      const engine: TestEngine = { ...running, close: () => (closing ??= running.close()) };
      engines.push(engine);
      return engine;
    },
    async spawnEngine(databaseUrl, name, apiKey) {
      const args = ["--port", "0", "--database-url", databaseUrl, "--data-dir", this.dataDir(name)];
      const child = await spawnEngine(started(mainJs, "the engine CLI (childEngines: true)"), args, { MODELPLANE_API_KEY: apiKey, MODELPLANE_SECRET_KEY: secretKey });
      children.push(child);
      return child;
    },
  };
}
