/**
 * Scale benchmark: the control plane alone at scale. The engine (startModelplane, as `modelplane
 * serve` runs it) runs in a process of its own with a hollow runtime (hollow-runtime.ts: replicas
 * are in-memory records, ready 200 ms after they are asked for, at URLs nothing answers — as
 * kubemark's hollow nodes do for Kubernetes), so every cost measured is the engine's own. This
 * process drives it through the SDK client only:
 *
 *   setup    1,000 models, each with production, staging and dev (the two created through the API),
 *            3 replicas and rolling promotion settings per environment (33 % surge: 3 steps, 5 s
 *            stabilization); 10,000 deployments (10 per model, 1 hollow replica each); each
 *            environment given a deployment by a first (instant) promotion
 *   idle     nothing asked: what the engine does in the background (PostgreSQL: its periodic resync)
 *   API      200 API requests/s alone (the mix below): API p50/p99 without promotions
 *   quiet    100 rolling promotions in flight at once, each replaced by a new one (another
 *            environment, another deployment) as it ends; no other load: reconciler lag and store
 *            queries per promotion step
 *   loaded   the same promotions plus 200 API requests/s, open loop (gets of models, deployments,
 *            environments and promotions, list calls, PATCH autoscaling settings, create
 *            deployment): API p50/p99, reconciler lag, engine RSS and CPU
 *
 * The setup and the promotions are a rollout pipeline's, with an admin key of its own; the API
 * load is the users', with the engine's key.
 *
 * and again on PostgreSQL (a throwaway PostgreSQL 15 server, test/support/postgres.ts).
 *
 *   npx tsc -p bench/scale/tsconfig.json && node dist/bench/scale/run.js
 *   BENCH_MODELS=50 BENCH_DEPLOYMENTS=500 BENCH_PROMOTIONS=20 BENCH_STORE=pglite node dist/bench/scale/run.js   # a 2-minute try
 *
 * Knobs (env):
 *   BENCH_MODELS=1000          models (3 environments each)
 *   BENCH_DEPLOYMENTS=10000    deployments in all, spread evenly over the models (at least 3 per model)
 *   BENCH_PROMOTIONS=100       rolling promotions kept in flight
 *   BENCH_STORE=both           pglite | postgres | both (PostgreSQL 15 from /usr/lib/postgresql/15/bin)
 *   BENCH_RATE=200             API requests/s of the loaded window
 *   BENCH_IDLE_S=20            seconds of the idle window (nothing asked of the engine: its background work)
 *   BENCH_API_ALONE_S=20       seconds of the API-only window (before any promotion)
 *   BENCH_QUIET_S=20           seconds of the promotions-only window
 *   BENCH_DURATION_S=60        seconds of the loaded window
 *   BENCH_READY_MS=200         a hollow replica's start-to-ready time
 *   BENCH_REPLICAS=3           replicas per environment (steps per promotion, at 100/N % surge)
 *   BENCH_STABILIZATION_S=5    stabilization after each traffic shift
 *   BENCH_SETUP_CONCURRENCY=16 API calls in flight during setup
 *   BENCH_PROMOTION_START=together  together: the first 100 promotions start at once, and step and end in
 *                              waves (each ended one is replaced at once); staggered: their starts are
 *                              spread over one promotion's expected length, so they step and end spread out
 *   BENCH_API_CLIENT=raw       raw: the API load's requests are answered at the last byte of their body; sdk: by
 *                              ModelplaneClient.call, after its parse and schema check (load-client.ts)
 *   BENCH_RESYNC_MS=10000      PostgreSQL: the engine's periodic resync (storeResyncMs), to see what it costs the API
 *   BENCH_STATEMENTS_TIMED=1   time every statement in the engine (kind of work, shape) and show them beside the slow-request bursts
 *   BENCH_ALLOCATION_PROF=<dir> write what the engine allocated in each window (V8's sampling heap profiler) there
 *   BENCH_CPU_PROF=<dir>       write the engine's CPU profile (node --cpu-prof) there
 *   BENCH_ENGINE_NODE_FLAGS    node flags for the engine's process, space-separated (e.g. --v8-pool-size=1), besides
 *                              serve's (cli/engine-node-flags.ts, unless given here)
 * Prints markdown (paste it into RESULTS.md); progress goes to stderr.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Pool } from "undici";
import { missingEngineNodeFlags } from "../../cli/engine-node-flags.js";
import { closeAllClients, contract, ModelplaneClient, type RouteName } from "../../sdk/index.js";
import { answerObject, loadClient, type LoadClient, type LoadClientKind } from "./load-client.js";
import { startTestPostgres, type TestPostgres } from "../../test/support/postgres.js";
import type { PromotionEnded } from "./promotion-watch.js";
import type { EngineProcessConfig, FromEngine, ToEngine, WindowStats } from "./protocol.js";

const MODELS = Number(process.env["BENCH_MODELS"] ?? "1000");
const DEPLOYMENTS = Math.max(Number(process.env["BENCH_DEPLOYMENTS"] ?? "10000"), 3 * MODELS);
const PROMOTIONS = Number(process.env["BENCH_PROMOTIONS"] ?? "100");
const STORES = (process.env["BENCH_STORE"] ?? "both") === "both" ? ["pglite", "postgres"] : [process.env["BENCH_STORE"] ?? "pglite"];
const RATE = Number(process.env["BENCH_RATE"] ?? "200");
const QUIET_S = Number(process.env["BENCH_QUIET_S"] ?? "20");
const LOADED_S = Number(process.env["BENCH_DURATION_S"] ?? "60");
const API_ALONE_S = Number(process.env["BENCH_API_ALONE_S"] ?? "20");
const IDLE_S = Number(process.env["BENCH_IDLE_S"] ?? "20");
const READY_MS = Number(process.env["BENCH_READY_MS"] ?? "200");
const REPLICAS = Number(process.env["BENCH_REPLICAS"] ?? "3");
const STABILIZATION_S = Number(process.env["BENCH_STABILIZATION_S"] ?? "5");
const SETUP_CONCURRENCY = Number(process.env["BENCH_SETUP_CONCURRENCY"] ?? "16");
/** connections of the API load (open loop: enough that the client never makes a request wait) */
const API_CONNECTIONS = Number(process.env["BENCH_API_CONNECTIONS"] ?? "256");
const CPU_PROF_DIR = process.env["BENCH_CPU_PROF"];
const PROMOTION_START = process.env["BENCH_PROMOTION_START"] ?? "together";
if (PROMOTION_START !== "together" && PROMOTION_START !== "staggered") throw new Error(`BENCH_PROMOTION_START must be together or staggered, got ${PROMOTION_START}`);
const API_CLIENT_SETTING = process.env["BENCH_API_CLIENT"] ?? "raw";
if (API_CLIENT_SETTING !== "raw" && API_CLIENT_SETTING !== "sdk") throw new Error(`BENCH_API_CLIENT must be raw or sdk, got ${API_CLIENT_SETTING}`);
const API_CLIENT: LoadClientKind = API_CLIENT_SETTING;
const RESYNC_MS = process.env["BENCH_RESYNC_MS"] === undefined ? undefined : Number(process.env["BENCH_RESYNC_MS"]);
const BENCH_NODE_FLAGS = (process.env["BENCH_ENGINE_NODE_FLAGS"] ?? "").split(" ").filter((flag) => flag !== "");
/** One replica per step: 33 % of 3 → 1 (the planner rounds up, at least 1; the API allows up to 50 %). */
const SURGE_PERCENT = Math.min(50, Math.floor(100 / REPLICAS));
const ENVIRONMENTS = ["production", "staging", "dev"] as const;
/** A promotion not ended after this long counts as stuck: its environment leaves the pool. */
const PROMOTION_GIVE_UP_MS = 300_000;
/** How long the setup waits for the controller to catch up with the creations. */
const BACKLOG_GIVE_UP_MS = 20 * 60_000;

/** The targets of issue 14, for the embedded store. */
const TARGETS = { apiP99Ms: 20, lagP99Ms: 250, rssBytes: 500 * 1024 * 1024 };

const log = (line: string) => process.stderr.write(`[bench/scale ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

// ---------------------------------------------------------------------------------------------
// Figures

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function summary(values: readonly number[]): { count: number; p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

const ms = (value: number) => (Number.isNaN(value) ? "—" : value >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(1)} ms`);
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const load = () => loadavg().map((value) => value.toFixed(1)).join(" ");

async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// ---------------------------------------------------------------------------------------------
// The engine process

class EngineProcess {
  readonly #child: ChildProcess;
  readonly #waiters: Array<(message: FromEngine) => boolean> = [];
  onEnded: (promotion: PromotionEnded) => void = () => undefined;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on("message", (message: FromEngine) => {
      if (message.type === "ended") return this.onEnded(message.promotion);
      const index = this.#waiters.findIndex((waiter) => waiter(message));
      if (index >= 0) this.#waiters.splice(index, 1);
    });
  }

  static async start(config: EngineProcessConfig): Promise<{ engine: EngineProcess; ready: Extract<FromEngine, { type: "ready" }> }> {
    const script = fileURLToPath(new URL("./engine-process.js", import.meta.url));
    // the flags `modelplane serve` runs the engine with (cli/engine-node-flags.ts), unless given here
    const execArgv = [...missingEngineNodeFlags(BENCH_NODE_FLAGS, ""), ...BENCH_NODE_FLAGS, ...(CPU_PROF_DIR ? ["--cpu-prof", `--cpu-prof-dir=${CPU_PROF_DIR}`] : [])];
    const child = fork(script, [JSON.stringify(config)], { execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const engine = new EngineProcess(child);
    const exited = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`engine process exited with ${code}`))));
    const ready = await Promise.race([engine.#next((message) => message.type === "ready"), exited]);
    exited.catch(() => undefined);
    if (ready.type !== "ready") throw new Error("unexpected first message");
    return { engine, ready };
  }

  #next(match: (message: FromEngine) => boolean): Promise<FromEngine> {
    return new Promise((resolve) => {
      this.#waiters.push((message) => {
        if (!match(message)) return false;
        resolve(message);
        return true;
      });
    });
  }

  #send(message: ToEngine): void {
    this.#child.send(message);
  }

  reset(): void {
    this.#send({ type: "reset" });
  }

  async collect(): Promise<WindowStats> {
    const answer = this.#next((message) => message.type === "stats");
    this.#send({ type: "collect" });
    const message = await answer;
    if (message.type !== "stats") throw new Error("unexpected answer");
    return message.stats;
  }

  async backlog(): Promise<number> {
    const answer = this.#next((message) => message.type === "backlog");
    this.#send({ type: "backlog" });
    const message = await answer;
    if (message.type !== "backlog") throw new Error("unexpected answer");
    return message.deployments;
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    this.#send({ type: "stop" });
    await Promise.race([exited, sleep(60_000)]);
    if (this.#child.exitCode === null) this.#child.kill("SIGKILL");
  }
}

// ---------------------------------------------------------------------------------------------
// What exists, as the bench created it

interface ModelEntry {
  id: string;
  deployments: string[];
}

interface EnvironmentSlot {
  model: ModelEntry;
  name: string;
  /** the deployment it serves (after its first promotion) */
  current: string | undefined;
}

interface World {
  models: ModelEntry[];
  environments: EnvironmentSlot[];
  /** the newest promotions, for GET …/promotions/{id} */
  recentPromotions: Array<{ modelId: string; environment: string; id: string }>;
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

/** Runs promotions and waits for their end, told by the engine process (its promotion writes). */
class PromotionDriver {
  readonly #client: ModelplaneClient;
  readonly #world: World;
  readonly #waiting = new Map<string, (ended: PromotionEnded) => void>();
  /** ends seen before the promote request returned */
  readonly #early = new Map<string, PromotionEnded>();
  readonly promoteLatencies: number[] = [];
  readonly durations: number[] = [];
  errors = 0;
  stuck = 0;
  lastError = "";

  constructor(client: ModelplaneClient, world: World) {
    this.#client = client;
    this.#world = world;
  }

  ended(promotion: PromotionEnded): void {
    const resolve = this.#waiting.get(promotion.promotionId);
    if (resolve) {
      this.#waiting.delete(promotion.promotionId);
      resolve(promotion);
    } else {
      this.#early.set(promotion.promotionId, promotion);
    }
  }

  /** Promote and wait for the end: "refused" when the request failed, "stuck" when it never ended. */
  async promote(slot: EnvironmentSlot, deploymentId: string): Promise<"ended" | "refused" | "stuck"> {
    const started = performance.now();
    let id: string;
    try {
      const promotion = await this.#client.call("promote", { params: { model_id: slot.model.id, env_name: slot.name }, body: { deployment_id: deploymentId } });
      id = promotion.id;
    } catch (error) {
      this.errors++;
      this.lastError = (error as Error).message;
      return "refused";
    }
    this.promoteLatencies.push(performance.now() - started);
    this.#world.recentPromotions.push({ modelId: slot.model.id, environment: slot.name, id });
    if (this.#world.recentPromotions.length > 1000) this.#world.recentPromotions.shift();
    const ended =
      this.#early.get(id) ??
      (await new Promise<PromotionEnded | undefined>((resolve) => {
        const timer = setTimeout(() => {
          this.#waiting.delete(id);
          resolve(undefined);
        }, PROMOTION_GIVE_UP_MS);
        this.#waiting.set(id, (value) => {
          clearTimeout(timer);
          resolve(value);
        });
      }));
    this.#early.delete(id);
    if (ended === undefined) {
      this.stuck++;
      return "stuck";
    }
    this.durations.push(performance.now() - started);
    if (ended.status === "SUCCEEDED") slot.current = deploymentId;
    return "ended";
  }

  /**
   * `inFlight` workers, each promoting a random idle environment to another of its model's
   * deployments and starting the next as soon as it ended, until `stop()`.
   */
  runContinuously(inFlight: number, spreadMs: number): { stop(): Promise<void> } {
    let running = true;
    // Idle environments in random order; one that just ended goes to the back.
    const idle = [...this.#world.environments].sort(() => Math.random() - 0.5);
    const worker = async (index: number) => {
      // (staggered: worker i starts at i / inFlight of the spread)
      if (spreadMs > 0) await sleep((index * spreadMs) / inFlight);
      while (running) {
        const slot = idle.shift();
        if (slot === undefined) {
          await sleep(50);
          continue;
        }
        const candidates = slot.model.deployments.filter((id) => id !== slot.current);
        const outcome = await this.promote(slot, pick(candidates));
        // A stuck environment stays out of the pool; a refused request gets a breath before the next.
        if (outcome !== "stuck") idle.push(slot);
        if (outcome === "refused") await sleep(200);
      }
    };
    const workers = Array.from({ length: inFlight }, (_, index) => worker(index));
    return {
      async stop() {
        running = false;
        await Promise.all(workers);
      },
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Setup

function environmentSettings() {
  return {
    autoscaling_settings: { min_replica: REPLICAS, max_replica: REPLICAS },
    promotion_settings: {
      rolling_deploy: true,
      rolling_deploy_config: {
        max_surge_percent: SURGE_PERCENT,
        max_unavailable_percent: 0,
        stabilization_time_seconds: STABILIZATION_S,
        replica_overhead_percent: 0,
      },
      promotion_cleanup_strategy: "SCALE_TO_ZERO" as const,
    },
  };
}

interface SetupFigures {
  modelsSeconds: number;
  deploymentsSeconds: number;
  firstPromotionsSeconds: number;
  /** after the last request of the setup, until the controller had declared every created deployment's set */
  backlogSeconds: number;
}

async function setUp(client: ModelplaneClient, driver: PromotionDriver, world: World, engine: EngineProcess): Promise<SetupFigures> {
  let started = performance.now();
  const indexes = Array.from({ length: MODELS }, (_, index) => index);
  await forEachLimited(indexes, SETUP_CONCURRENCY, async (index) => {
    const model = await client.call("createModel", { body: { name: `bench-model-${index}` } });
    const entry: ModelEntry = { id: model.id, deployments: [] };
    world.models[index] = entry;
    const settings = environmentSettings();
    await client.call("patchEnvironment", { params: { model_id: model.id, env_name: "production" }, body: settings });
    for (const name of ENVIRONMENTS.slice(1)) await client.call("createEnvironment", { params: { model_id: model.id }, body: { name, ...settings } });
  });
  const modelsSeconds = (performance.now() - started) / 1000;
  log(`${MODELS} models × ${ENVIRONMENTS.length} environments in ${modelsSeconds.toFixed(1)} s (load ${load()})`);

  // Round-robin over the models, so that concurrent creations touch different models.
  started = performance.now();
  const creations = Array.from({ length: DEPLOYMENTS }, (_, index) => world.models[index % MODELS]!);
  let created = 0;
  await forEachLimited(creations, SETUP_CONCURRENCY, async (model) => {
    const deployment = await client.call("createDeployment", { params: { model_id: model.id }, body: { command: ["hollow-model"] } });
    model.deployments.push(deployment.id);
    if (++created % 1000 === 0) log(`  ${created} deployments (load ${load()})`);
  });
  const deploymentsSeconds = (performance.now() - started) / 1000;
  log(`${DEPLOYMENTS} deployments in ${deploymentsSeconds.toFixed(1)} s`);

  // Each environment gets a deployment of its own by an instant first promotion.
  started = performance.now();
  for (const model of world.models) {
    ENVIRONMENTS.forEach((name) => world.environments.push({ model, name, current: undefined }));
  }
  await forEachLimited(world.environments, PROMOTIONS, async (slot) => {
    const deploymentId = slot.model.deployments[ENVIRONMENTS.indexOf(slot.name as (typeof ENVIRONMENTS)[number])]!;
    if ((await driver.promote(slot, deploymentId)) !== "ended") throw new Error(`first promotion of ${slot.model.id}/${slot.name} failed: ${driver.lastError}`);
  });
  const firstPromotionsSeconds = (performance.now() - started) / 1000;
  log(`${world.environments.length} first promotions in ${firstPromotionsSeconds.toFixed(1)} s`);

  // The controller works through domain events one at a time: let it catch up, so that the
  // windows measure a settled engine, and say how far behind it was.
  started = performance.now();
  for (let backlog = await engine.backlog(); backlog > 0; backlog = await engine.backlog()) {
    if (performance.now() - started > BACKLOG_GIVE_UP_MS) throw new Error(`the controller still had ${backlog} deployments without a replica set after ${BACKLOG_GIVE_UP_MS / 1000} s`);
    log(`  controller backlog: ${backlog} created deployments without a replica set yet`);
    await sleep(5_000);
  }
  const backlogSeconds = (performance.now() - started) / 1000;
  return { modelsSeconds, deploymentsSeconds, firstPromotionsSeconds, backlogSeconds };
}

// ---------------------------------------------------------------------------------------------
// The API load: open loop, latency from the moment each request was due

type Operation = { name: string; weight: number; run: (client: LoadClient, world: World) => Promise<unknown> };

const OPERATIONS: Operation[] = [
  { name: "GET model", weight: 20, run: (client, world) => client.send("getModel", { params: { model_id: pick(world.models).id } }) },
  {
    name: "GET deployment",
    weight: 28,
    run: (client, world) => {
      const model = pick(world.models);
      return client.send("getDeployment", { params: { model_id: model.id, deployment_id: pick(model.deployments) } });
    },
  },
  { name: "GET environment", weight: 10, run: (client, world) => client.send("getEnvironment", { params: { model_id: pick(world.models).id, env_name: pick(ENVIRONMENTS) } }) },
  {
    name: "GET promotion",
    weight: 10,
    run: (client, world) => {
      const promotion = pick(world.recentPromotions);
      return client.send("getPromotion", { params: { model_id: promotion.modelId, env_name: promotion.environment, promotion_id: promotion.id } });
    },
  },
  { name: "list deployments", weight: 10, run: (client, world) => client.send("listDeployments", { params: { model_id: pick(world.models).id } }) },
  { name: "list environments", weight: 5, run: (client, world) => client.send("listEnvironments", { params: { model_id: pick(world.models).id } }) },
  { name: "list promotions", weight: 5, run: (client, world) => client.send("listPromotions", { params: { model_id: pick(world.models).id, env_name: pick(ENVIRONMENTS) } }) },
  { name: `list models (all ${MODELS})`, weight: 2, run: (client) => client.send("listModels", {}) },
  {
    name: "PATCH autoscaling",
    weight: 5,
    run: (client, world) => {
      const model = pick(world.models);
      return client.send("updateDeploymentAutoscalingSettings", {
        params: { model_id: model.id, deployment_id: pick(model.deployments) },
        body: { scale_down_delay: 600 + Math.floor(Math.random() * 300) },
      });
    },
  },
  {
    name: "create deployment",
    weight: 5,
    run: async (client, world) => {
      const model = pick(world.models);
      const answer = await client.send("createDeployment", { params: { model_id: model.id }, body: { command: ["hollow-model"] } });
      model.deployments.push(contract.createDeployment.response.parse(answerObject(answer)).id);
    },
  },
];
const TOTAL_WEIGHT = OPERATIONS.reduce((sum, operation) => sum + operation.weight, 0);

function pickOperation(): Operation {
  let roll = Math.random() * TOTAL_WEIGHT;
  for (const operation of OPERATIONS) {
    roll -= operation.weight;
    if (roll < 0) return operation;
  }
  return OPERATIONS[0]!;
}

interface ApiFigures {
  byOperation: Map<string, { latencies: number[]; errors: number; lastError: string }>;
  all: number[];
  sent: number;
  /** requests over the latency target: when each was due (epoch ms) and its latency */
  slow: Array<{ dueAt: number; latency: number; operation: string }>;
}

async function apiLoad(client: LoadClient, world: World, rate: number, seconds: number): Promise<ApiFigures> {
  const figures: ApiFigures = { byOperation: new Map(OPERATIONS.map((operation) => [operation.name, { latencies: [], errors: 0, lastError: "" }])), all: [], sent: 0, slow: [] };
  const start = performance.now();
  const total = Math.floor(rate * seconds);
  const pending: Promise<void>[] = [];
  while (figures.sent < total) {
    const due = start + (figures.sent * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    // Every request whose time has come goes now, timed from when it was due (no coordinated omission).
    while (figures.sent < total && start + (figures.sent * 1000) / rate <= performance.now()) {
      const dueAt = start + (figures.sent * 1000) / rate;
      figures.sent++;
      const operation = pickOperation();
      const entry = figures.byOperation.get(operation.name)!;
      pending.push(
        operation.run(client, world).then(
          () => {
            const latency = performance.now() - dueAt;
            entry.latencies.push(latency);
            figures.all.push(latency);
            if (latency >= TARGETS.apiP99Ms) figures.slow.push({ dueAt: performance.timeOrigin + dueAt, latency, operation: operation.name });
          },
          (error: unknown) => {
            entry.errors++;
            entry.lastError = (error as Error).message.slice(0, 200);
          },
        ),
      );
    }
  }
  await Promise.all(pending);
  return figures;
}

// ---------------------------------------------------------------------------------------------
// One store

interface Window {
  name: string;
  stats: WindowStats;
  /** this process's CPU (load generator, driver, SDK client), seconds: it shares the machine with the engine */
  benchCpuSeconds: number;
  /** when it began, epoch ms */
  startedAt: number;
  /** this process's event-loop delay p99, ms: a request due while it is late goes out late */
  benchLoopDelayP99Ms: number;
  /** load average (1/5/15 min) at its end */
  load: string;
  api?: ApiFigures;
}

interface StoreRun {
  store: string;
  ready: Extract<FromEngine, { type: "ready" }>;
  setup: SetupFigures;
  afterSetup: WindowStats;
  setupLoad: string;
  idle: Window;
  apiAlone: Window;
  promotionsAlone: Window;
  both: Window;
  driver: PromotionDriver;
}

async function runStore(store: string): Promise<StoreRun> {
  const dataDir = mkdtempSync(join(tmpdir(), "modelplane-bench-scale-"));
  let postgres: TestPostgres | undefined;
  let engine: EngineProcess | undefined;
  let apiConnections: Pool | undefined;
  try {
    let databaseUrl: string | undefined;
    if (store === "postgres") {
      postgres = await startTestPostgres();
      databaseUrl = await postgres.createDatabase("bench_scale");
    }
    const apiKey = `mpk_bench${randomBytes(24).toString("hex")}`;
    const started = await EngineProcess.start({ dataDir, apiKey, readyAfterMs: READY_MS, ...(databaseUrl ? { databaseUrl } : {}), ...(RESYNC_MS !== undefined ? { storeResyncMs: RESYNC_MS } : {}) });
    engine = started.engine;
    const { ready } = started;
    log(`${store}: engine at ${ready.url} (started in ${ready.startMs.toFixed(0)} ms, RSS ${mib(ready.rssBytes)})`);
    const setupClient = new ModelplaneClient({ endpoint: ready.url, apiKey, timeoutMs: 120_000 });
    // The promotions come from a rollout pipeline with an admin key of its own, as a CI job's
    // would; the API load from the users' (the engine's key). The store takes turns between keys.
    const pipelineKey = await setupClient.call("createApiKey", { body: { name: "rollout-pipeline", scope: "admin" } });
    const client = new ModelplaneClient({ endpoint: ready.url, apiKey: pipelineKey.key, timeoutMs: 120_000 });
    // The API load's own connections: sharing the driver's (the client's default 16 per engine), its
    // requests queued in the client behind promote calls, which wait for the engine to apply them,
    // and that wait was counted as the API's latency.
    apiConnections = new Pool(ready.url, { connections: API_CONNECTIONS, keepAliveTimeout: 10_000 });
    const apiClient = loadClient(API_CLIENT, ready.url, apiKey, apiConnections);
    const world: World = { models: [], environments: [], recentPromotions: [] };
    const driver = new PromotionDriver(client, world);
    engine.onEnded = (promotion) => driver.ended(promotion);

    engine.reset();
    const setup = await setUp(client, driver, world, engine);
    const setupLoad = load();
    const afterSetup = await engine.collect();
    log(`${store}: set up; engine RSS ${mib(afterSetup.rssEndBytes)}, hollow replicas ${JSON.stringify(afterSetup.replicas)}`);

    const measure = async (name: string, during: () => Promise<ApiFigures | undefined>): Promise<Window> => {
      engine!.reset();
      const startedAt = performance.timeOrigin + performance.now();
      const cpu = process.cpuUsage();
      const loopDelay = monitorEventLoopDelay({ resolution: 10 });
      loopDelay.enable();
      const api = await during();
      loopDelay.disable();
      const used = process.cpuUsage(cpu);
      const window: Window = {
        name,
        startedAt,
        stats: await engine!.collect(),
        benchCpuSeconds: (used.user + used.system) / 1e6,
        benchLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
        load: load(),
        ...(api ? { api } : {}),
      };
      log(`${store}: ${name}: ${window.stats.lag.steps} steps, ${api?.sent ?? 0} API requests (load ${window.load})`);
      return window;
    };
    const idle = await measure("idle", async () => {
      await sleep(IDLE_S * 1000);
      return undefined;
    });
    const apiAlone = await measure(`${RATE} API req/s alone`, () => apiLoad(apiClient, world, RATE, API_ALONE_S));

    driver.promoteLatencies.length = 0;
    driver.durations.length = 0;
    // A promotion's expected length: each step waits for its replica, then stabilizes.
    const spreadMs = PROMOTION_START === "staggered" ? REPLICAS * (READY_MS + STABILIZATION_S * 1000) : 0;
    const promotions = driver.runContinuously(PROMOTIONS, spreadMs);
    // The windows begin once the promotions are under way (staggered: all of them started).
    await sleep(Math.max(3_000, spreadMs));
    const promotionsAlone = await measure(`${PROMOTIONS} promotions alone`, async () => {
      await sleep(QUIET_S * 1000);
      return undefined;
    });
    const both = await measure(`${PROMOTIONS} promotions + ${RATE} API req/s`, () => apiLoad(apiClient, world, RATE, LOADED_S));
    await promotions.stop();
    return { store, ready, setup, afterSetup, setupLoad, idle, apiAlone, promotionsAlone, both, driver };
  } finally {
    await engine?.stop();
    await closeAllClients();
    await apiConnections?.close();
    await postgres?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function report(run: StoreRun): string {
  const lines: string[] = [];
  const { setup, idle, apiAlone, promotionsAlone, both } = run;
  const windows = [idle, apiAlone, promotionsAlone, both];
  const ended = (stats: WindowStats) => Object.entries(stats.lag.ended).map(([status, count]) => `${count} ${status}`).join(", ") || "none";
  const apiSummary = (api: ApiFigures | undefined) => summary(api?.all ?? []);
  const apiBoth = apiSummary(both.api);
  const apiOnly = apiSummary(apiAlone.api);
  const lagBoth = summary(both.stats.lag.timerTaken);
  const lagAlone = summary(promotionsAlone.stats.lag.timerTaken);
  const verdict = (ok: boolean) => (ok ? "meets" : "**misses**");
  const rssMax = Math.max(run.afterSetup.rssMaxBytes, ...windows.map((window) => window.stats.rssMaxBytes));

  lines.push(`### ${run.store}`, "");
  lines.push(
    `${MODELS} models × ${ENVIRONMENTS.length} environments, ${DEPLOYMENTS} deployments, ${PROMOTIONS} rolling promotions in flight, ` +
      `${PROMOTION_START === "together" ? "started together (they step and end in waves)" : "their starts spread over a promotion's length"} ` +
      `(${REPLICAS} replicas, ${SURGE_PERCENT} % surge, ${STABILIZATION_S} s stabilization, replicas ready after ${READY_MS} ms). ` +
      `Load average (1/5/15 min) at the end of setup ${run.setupLoad}; of each window in the table below.`,
    "",
  );
  lines.push("| target | measured | |", "|---|---|---|");
  lines.push(
    `| API p99 < ${TARGETS.apiP99Ms} ms at ${RATE} req/s, promotions in flight | p50 ${ms(apiBoth.p50)}, p99 ${ms(apiBoth.p99)} ` +
      `(API alone: p50 ${ms(apiOnly.p50)}, p99 ${ms(apiOnly.p99)}) | ${verdict(apiBoth.p99 < TARGETS.apiP99Ms)} |`,
  );
  lines.push(
    `| reconciler lag p99 < ${TARGETS.lagP99Ms} ms, under the API load | p50 ${ms(lagBoth.p50)}, p99 ${ms(lagBoth.p99)} of ${lagBoth.count} steps due ` +
      `(promotions alone: p50 ${ms(lagAlone.p50)}, p99 ${ms(lagAlone.p99)}) | ${verdict(lagBoth.p99 < TARGETS.lagP99Ms)} |`,
  );
  lines.push(`| engine RSS < ${mib(TARGETS.rssBytes)} | max ${mib(rssMax)} (at start, empty: ${mib(run.ready.rssBytes)}) | ${verdict(rssMax < TARGETS.rssBytes)} |`);
  const quiet = promotionsAlone.stats;
  const perStep = quiet.lag.steps > 0 ? quiet.queries / quiet.lag.steps : Number.NaN;
  const idleRate = idle.stats.queries / idle.stats.seconds;
  // The idle engine's statements (PostgreSQL's periodic resync) are no constant background: they
  // share one queue with the promotions' work and slow down while it runs. Subtracted only when small.
  const idleShare = (idleRate * quiet.seconds) / Math.max(1, quiet.queries);
  const net =
    idleShare < 0.1
      ? `${((quiet.queries - idleRate * quiet.seconds) / Math.max(1, quiet.lag.steps)).toFixed(1)} net of the idle engine's ${idleRate.toFixed(0)}/s`
      : `not separable from the idle engine's own ${idleRate.toFixed(0)}/s (its periodic resync), which slows down while promotions run`;
  lines.push(`| store queries per promotion step (no target) | ${perStep.toFixed(1)} (promotions alone: statements ÷ traffic shifts); ${net} | |`, "");

  lines.push(
    `Setup: engine start ${run.ready.startMs.toFixed(0)} ms, RSS then ${mib(run.ready.rssBytes)} (JS heap ${mib(run.ready.heapUsedBytes)}` +
      `${run.store === "pglite" ? "; the rest is mostly PGlite's WebAssembly PostgreSQL" : ""}); models and environments ${setup.modelsSeconds.toFixed(1)} s; ` +
      `deployments ${setup.deploymentsSeconds.toFixed(1)} s (${(DEPLOYMENTS / setup.deploymentsSeconds).toFixed(0)}/s); ` +
      `first promotions ${setup.firstPromotionsSeconds.toFixed(1)} s; the controller caught up ${setup.backlogSeconds.toFixed(0)} s after that; then RSS ${mib(run.afterSetup.rssEndBytes)} ` +
      `(heap ${mib(run.afterSetup.heapUsedEndBytes)}); hollow replicas: ${run.afterSetup.replicas.environment} in environment sets, ` +
      `${run.afterSetup.replicas.own} in deployments' own sets.`,
    "",
  );

  const controllerSetup = summary(run.afterSetup.controllerLag);
  lines.push(
    `The controller during setup: a created deployment's replica set was declared to the runtime p50 ${ms(controllerSetup.p50)}, ` +
      `p99 ${ms(controllerSetup.p99)}, max ${ms(controllerSetup.max)} after its creation committed (${controllerSetup.count} deployments).`,
    "",
  );
  lines.push("| window | s | load avg | API req done/s | promotions ended | steps | lag p50 / p99 / max (due → taken) | due → persisted p99 | ready → taken p50 / p99 | created → set declared p50 / p99 | API in the engine p50 / p99 / max | engine CPU (bench's) | event-loop delay p99 / max (bench's p99) | GC pauses: minor n, p99 / others n, max | RSS max | queries/s |");
  lines.push("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const { name, stats, load: windowLoad, api, benchCpuSeconds, benchLoopDelayP99Ms } of windows) {
    const taken = summary(stats.lag.timerTaken);
    const persisted = summary(stats.lag.timerPersisted);
    const ready = summary(stats.lag.readyTaken);
    const controller = summary(stats.controllerLag);
    const inEngine = summary(stats.apiInEngine);
    const minorGc = summary(stats.gcPauses.filter((pause) => pause.kind === "minor").map((pause) => pause.ms));
    const otherGc = summary(stats.gcPauses.filter((pause) => pause.kind !== "minor").map((pause) => pause.ms));
    lines.push(
      `| ${name} | ${stats.seconds.toFixed(0)} | ${windowLoad} | ${api ? (api.all.length / stats.seconds).toFixed(0) : "—"} | ${ended(stats)} | ${stats.lag.steps} | ` +
        `${ms(taken.p50)} / ${ms(taken.p99)} / ${ms(taken.max)} | ${ms(persisted.p99)} | ${ms(ready.p50)} / ${ms(ready.p99)} | ${ms(controller.p50)} / ${ms(controller.p99)} | ` +
        `${api ? `${ms(inEngine.p50)} / ${ms(inEngine.p99)} / ${ms(inEngine.max)}` : "—"} | ` +
        `${((100 * stats.cpuSeconds) / stats.seconds).toFixed(0)} % (${((100 * benchCpuSeconds) / stats.seconds).toFixed(0)} %) | ${ms(stats.eventLoopDelayP99Ms)} / ${ms(stats.eventLoopDelayMaxMs)} (${ms(benchLoopDelayP99Ms)}) | ` +
        `${minorGc.count}, ${ms(minorGc.p99)} / ${otherGc.count}, ${ms(otherGc.max)} | ${mib(stats.rssMaxBytes)} | ${(stats.queries / stats.seconds).toFixed(0)} |`,
    );
  }
  lines.push("");

  lines.push(
    `API requests, latency from the moment each was due (open loop, ${RATE}/s) to ${API_CLIENT === "raw" ? "the last byte of its answer" : "ModelplaneClient.call's answer (parsed and checked against the contract)"}:`,
    "",
  );
  lines.push(
    `| request | share | alone: p50 | p99 | with promotions: p50 | p99 | max | over ${TARGETS.apiP99Ms} ms (share of all over it) | errors |`,
    "|---|---|---|---|---|---|---|---|---|",
  );
  // which requests make the tail: the p99 target allows 1 % of all requests over it
  const over = (latencies: readonly number[]) => latencies.filter((latency) => latency > TARGETS.apiP99Ms).length;
  const overAll = [...(both.api?.byOperation.values() ?? [])].reduce((sum, figures) => sum + over(figures.latencies), 0);
  let errorsTotal = 0;
  for (const operation of OPERATIONS) {
    const alone = apiAlone.api?.byOperation.get(operation.name);
    const loaded = both.api?.byOperation.get(operation.name);
    const aloneFigures = summary(alone?.latencies ?? []);
    const loadedFigures = summary(loaded?.latencies ?? []);
    const errors = (alone?.errors ?? 0) + (loaded?.errors ?? 0);
    errorsTotal += errors;
    const lastError = loaded?.lastError || alone?.lastError || "";
    lines.push(
      `| ${operation.name} | ${((100 * operation.weight) / TOTAL_WEIGHT).toFixed(0)} % | ${ms(aloneFigures.p50)} | ${ms(aloneFigures.p99)} | ` +
        `${ms(loadedFigures.p50)} | ${ms(loadedFigures.p99)} | ${ms(loadedFigures.max)} | ` +
        `${over(loaded?.latencies ?? [])} (${((100 * over(loaded?.latencies ?? [])) / Math.max(1, overAll)).toFixed(0)} %) | ${errors > 0 ? `${errors} (${lastError})` : "0"} |`,
    );
  }
  lines.push(
    `| **all** | | ${ms(apiOnly.p50)} | ${ms(apiOnly.p99)} | ${ms(apiBoth.p50)} | ${ms(apiBoth.p99)} | ${ms(apiBoth.max)} | ${overAll} of ${apiBoth.count} | ${errorsTotal} |`,
  );
  for (const window of [apiAlone, both]) lines.push(...slowBursts(window));
  const promote = summary(run.driver.promoteLatencies);
  const durations = summary(run.driver.durations);
  lines.push(
    "",
    `Promote requests (the driver's, both promotion windows): ${promote.count}, p50 ${ms(promote.p50)}, p99 ${ms(promote.p99)}; a promotion from request to end p50 ${ms(durations.p50)}, ` +
      `p99 ${ms(durations.p99)}; refused ${run.driver.errors}${run.driver.errors > 0 ? ` (last: ${run.driver.lastError.slice(0, 160)})` : ""}, never ended ${run.driver.stuck}.`,
    "",
  );

  lines.push(
    `Store statements with the promotions alone (${quiet.queries} in ${quiet.seconds.toFixed(0)} s, ${quiet.transactions} transactions; ` +
      `${quiet.lag.steps} steps, ${quiet.lag.writes} promotion writes), per step, and of the idle engine, per second:`,
    "",
  );
  lines.push("| statement | per step, promotions alone | per second, idle |", "|---|---|---|");
  const idleShapes = new Map(idle.stats.byShape);
  // The promotions' most frequent statements, then the idle engine's.
  const shown = new Set([...quiet.byShape.slice(0, 12), ...idle.stats.byShape.slice(0, 6)].map(([shape]) => shape));
  const quietShapes = new Map(quiet.byShape);
  for (const shape of shown) {
    lines.push(
      `| \`${shape.replace(/\|/g, "\\|")}\` | ${((quietShapes.get(shape) ?? 0) / Math.max(1, quiet.lag.steps)).toFixed(2)} | ` +
        `${((idleShapes.get(shape) ?? 0) / idle.stats.seconds).toFixed(1)} |`,
    );
  }
  const restQuiet = quiet.byShape.filter(([shape]) => !shown.has(shape)).reduce((sum, [, count]) => sum + count, 0);
  const restIdle = idle.stats.byShape.filter(([shape]) => !shown.has(shape)).reduce((sum, [, count]) => sum + count, 0);
  lines.push(`| other statements | ${(restQuiet / Math.max(1, quiet.lag.steps)).toFixed(2)} | ${(restIdle / idle.stats.seconds).toFixed(1)} |`, "");
  const failures = windows.flatMap((window) => window.stats.failureLines);
  if (failures.length > 0) lines.push("Engine log lines reporting failures (last ones):", "", ...failures.map((line) => `    ${line}`), "");
  return lines.join("\n");
}

/**
 * The requests over the latency target, gathered into bursts (due within 100 ms of each other),
 * the largest first, beside the engine's stalls around them: a tail made of a few bursts is a few
 * events that held everything; one spread thin is every request's own cost.
 */
function slowBursts(window: Window): string[] {
  const slow = [...(window.api?.slow ?? [])].sort((a, b) => a.dueAt - b.dueAt);
  if (slow.length === 0) return [];
  const bursts: Array<typeof slow> = [];
  for (const request of slow) {
    const current = bursts.at(-1);
    const last = current?.at(-1);
    if (current !== undefined && last !== undefined && request.dueAt - last.dueAt <= 100) current.push(request);
    else bursts.push([request]);
  }
  bursts.sort((a, b) => b.length - a.length);
  const shown = bursts.slice(0, 6);
  const inShown = shown.reduce((sum, burst) => sum + burst.length, 0);
  const timed = window.stats.statements.length > 0;
  const lines = [
    `Requests over ${TARGETS.apiP99Ms} ms in *${window.name}*: ${slow.length} of ${window.api?.all.length ?? 0}, in ${bursts.length} bursts; the ${shown.length} largest hold ${inShown}:`,
    "",
    `| at (s into the window) | requests | due over (ms) | worst | engine stalls from 300 ms before to its end (at ms: what, how long) |${timed ? " statements asked then, by kind: count, p99 ms | the slowest |" : ""}`,
    `|---|---|---|---|---|${timed ? "---|---|" : ""}`,
  ];
  for (const burst of shown) {
    const first = burst[0]!.dueAt;
    const lastDue = burst.at(-1)!.dueAt;
    const worst = Math.max(...burst.map((request) => request.latency));
    const end = Math.max(...burst.map((request) => request.dueAt + request.latency));
    const stalls = window.stats.stalls
      .filter((stall) => stall.at + stall.ms >= first - 300 && stall.at <= end)
      .map((stall) => `${(stall.at - first).toFixed(0)}: ${stall.what} ${stall.ms.toFixed(0)}`);
    const statements = window.stats.statements.filter((statement) => statement.at >= first - 300 && statement.at <= end);
    const byWork = new Map<string, number[]>();
    for (const statement of statements) {
      const times = byWork.get(statement.work) ?? [];
      times.push(statement.ms);
      byWork.set(statement.work, times);
    }
    const kinds = [...byWork].map(([work, times]) => `${work} ${times.length}, ${ms(summary(times).p99)}`).join("; ");
    const slowest = [...statements]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 2)
      .map((statement) => `${statement.work} ${ms(statement.ms)} \`${statement.shape.slice(0, 50).replace(/\|/g, "\\|")}\``)
      .join("; ");
    lines.push(
      `| ${((first - window.startedAt) / 1000).toFixed(2)} | ${burst.length} | ${(lastDue - first).toFixed(0)} | ${ms(worst)} | ${stalls.slice(0, 8).join("; ") || "none"}${stalls.length > 8 ? ` (+${stalls.length - 8})` : ""} |${timed ? ` ${kinds} | ${slowest} |` : ""}`,
    );
  }
  lines.push("");
  return lines;
}

const results: string[] = [];
log(`${MODELS} models, ${DEPLOYMENTS} deployments, ${PROMOTIONS} promotions in flight, stores ${STORES.join(", ")}; load ${load()}`);
for (const store of STORES) {
  const run = await runStore(store);
  results.push(report(run));
}
process.stdout.write(`${results.join("\n")}\n`);
