/**
 * The engine under test, in a process of its own (forked by run.ts with an IPC channel): the whole
 * engine as `modelplane serve` runs it (startModelplane), its replicas on the hollow runtime, its
 * store instrumented (counting-sql.ts) and its promotion writes watched (promotion-watch.ts).
 * Configured by the JSON in argv[2] (EngineProcessConfig); answers ToEngine messages.
 */
import { writeFileSync } from "node:fs";
import { Server, type IncomingMessage, type ServerResponse } from "node:http";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { constants as perfConstants, monitorEventLoopDelay, PerformanceObserver, type PerformanceEntry } from "node:perf_hooks";
import { startModelplane } from "../../engine/main.js";
import { instrumentSql } from "./counting-sql.js";
import { HollowRuntime } from "./hollow-runtime.js";
import { PromotionWatch } from "./promotion-watch.js";
import type { EngineProcessConfig, EngineStall, FromEngine, GcPause, ToEngine, WindowStats } from "./protocol.js";

function send(message: FromEngine): void {
  process.send?.(message);
}

const config = JSON.parse(process.argv[2] ?? "{}") as EngineProcessConfig;
const watch = new PromotionWatch((promotion) => send({ type: "ended", promotion }));
let runtime: HollowRuntime | undefined;
/** deployments created (their first deployment.changed event) whose own set the controller has not declared yet → when */
const createdAt = new Map<string, number>();
const seenDeployments = new Set<string>();
let controllerLag: number[] = [];
let logLines = 0;
let failureLines: string[] = [];

// API requests timed inside the engine, from their arrival to their answer's last byte handed to
// the socket: beside the latency the bench sees (run.ts), it tells the engine's share of a tail
// from the client's, the kernel's and the 2 cores' scheduling. Every HTTP server in this process
// is the engine's; its API is under /v1/. The driver's promote requests are not the API load's.
let apiInEngine: number[] = [];
const emit = Server.prototype.emit;
Server.prototype.emit = function (this: Server, event: string | symbol, ...args: unknown[]): boolean {
  if (event === "request") {
    const [request, response] = args as [IncomingMessage, ServerResponse];
    if (request.url?.startsWith("/v1/") === true && !request.url.endsWith("/promote")) {
      const arrived = performance.now();
      response.once("finish", () => apiInEngine.push(performance.now() - arrived));
    }
  }
  return Reflect.apply(emit, this, [event, ...args]) as boolean;
} as Server["emit"];

const started = performance.now();
const engine = await startModelplane({
  port: 0,
  dataDir: config.dataDir,
  apiKey: config.apiKey,
  ...(config.databaseUrl !== undefined ? { databaseUrl: config.databaseUrl } : {}),
  ...(config.storeResyncMs !== undefined ? { storeResyncMs: config.storeResyncMs } : {}),
  log: (line) => {
    logLines++;
    if (/fail|error/i.test(line)) {
      failureLines.push(line.slice(0, 300));
      if (failureLines.length > 20) failureLines.shift();
    }
  },
  createRuntime: (inFlight) => {
    runtime = new HollowRuntime({
      inFlight,
      readyAfterMs: config.readyAfterMs,
      onReplicaReady: (setId, at) => watch.replicaReady(setId, at),
      // A deployment's own set has the deployment's id (replicaSetId(id, null)).
      onSetCreated: (setId, at) => {
        const emitted = createdAt.get(setId);
        if (emitted === undefined) return;
        createdAt.delete(setId);
        controllerLag.push(at - emitted);
      },
    });
    return runtime;
  },
});
// BENCH_STATEMENTS_TIMED=1: every statement's timing, for the slow-request bursts (run.ts); off by
// default, as its records cost the engine under test memory (RSS +20–40 MiB at full size) and time.
const counting = instrumentSql(engine.store, (text, rows) => watch.rows(text, rows), process.env["BENCH_STATEMENTS_TIMED"] === "1");
// Subscribed after the data plane, so this listener runs after the one that queues the controller's work.
engine.service.onChange((event) => {
  if (event.type !== "deployment.changed" || event.deleted || seenDeployments.has(event.deploymentId)) return;
  seenDeployments.add(event.deploymentId);
  createdAt.set(event.deploymentId, Date.now());
});

// The window's figures.
const eventLoopDelay = monitorEventLoopDelay({ resolution: 10 });
eventLoopDelay.enable();
let windowStart = performance.now();
let cpuStart = process.cpuUsage();
let rssMax = 0;
// The engine's stalls (the event loop held, long collections), which the bench lines up with the
// API requests that were slow at the time.
const STALL_MS = 20;
let stalls: EngineStall[] = [];
// Garbage collections' pauses (the main thread stopped), to tell a tail's share that is the heap's.
let gcPauses: GcPause[] = [];
const gcKinds = new Map<number, GcPause["kind"]>([
  [perfConstants.NODE_PERFORMANCE_GC_MINOR, "minor"],
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR, "major"],
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL, "incremental"],
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB, "weak callbacks"],
]);
new PerformanceObserver((list) => {
  for (const entry of list.getEntries() as Array<PerformanceEntry & { detail?: { kind?: number } }>) {
    const kind = gcKinds.get(entry.detail?.kind ?? 0) ?? "minor";
    gcPauses.push({ kind, ms: entry.duration });
    if (entry.duration >= STALL_MS / 4) stalls.push({ at: performance.timeOrigin + entry.startTime, ms: entry.duration, what: `${kind} GC` });
  }
}).observe({ entryTypes: ["gc"] });
// A 5-ms timer that ran late by STALL_MS or more: the loop was held by whatever ran before it.
let lastTick = performance.now();
setInterval(() => {
  const now = performance.now();
  const late = now - lastTick - 5;
  if (late >= STALL_MS) stalls.push({ at: performance.timeOrigin + lastTick + 5, ms: late, what: "event loop held" });
  lastTick = now;
}, 5).unref();
const rssTimer = setInterval(() => {
  rssMax = Math.max(rssMax, process.memoryUsage.rss());
}, 500);
rssTimer.unref();

// BENCH_ALLOCATION_PROF=<dir>: what the engine allocated in each window (V8's sampling heap
// profiler, keeping the samples of objects collected since: allocation, not retention), written
// as <dir>/<n>.heapprofile at the window's end (a .heapprofile opens in Chrome DevTools' Memory panel).
const allocationDir = process.env["BENCH_ALLOCATION_PROF"];
const inspector = allocationDir === undefined ? undefined : new Session();
inspector?.connect();
let allocationWindows = 0;
async function startAllocationSampling(): Promise<void> {
  await inspector?.post("HeapProfiler.startSampling", { samplingInterval: 32 * 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}
async function writeAllocationSamples(): Promise<void> {
  if (inspector === undefined || allocationDir === undefined) return;
  const { profile } = await inspector.post("HeapProfiler.stopSampling");
  writeFileSync(join(allocationDir, `${++allocationWindows}.heapprofile`), JSON.stringify(profile));
}

function reset(): void {
  void startAllocationSampling();
  counting.reset();
  watch.take();
  eventLoopDelay.reset();
  windowStart = performance.now();
  cpuStart = process.cpuUsage();
  rssMax = process.memoryUsage.rss();
  controllerLag = [];
  apiInEngine = [];
  gcPauses = [];
  stalls = [];
  logLines = 0;
  failureLines = [];
}

function collect(): WindowStats {
  const counts = counting.counts();
  const cpu = process.cpuUsage(cpuStart);
  const memory = process.memoryUsage();
  rssMax = Math.max(rssMax, memory.rss);
  const nsToMs = (ns: number) => ns / 1e6;
  return {
    seconds: (performance.now() - windowStart) / 1000,
    queries: counts.queries,
    transactions: counts.transactions,
    byShape: [...counts.byShape].sort((a, b) => b[1] - a[1]),
    statements: counts.timeline,
    lag: watch.take(),
    controllerLag,
    apiInEngine,
    gcPauses,
    stalls,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    rssMaxBytes: rssMax,
    rssEndBytes: memory.rss,
    heapUsedEndBytes: memory.heapUsed,
    eventLoopDelayP50Ms: nsToMs(eventLoopDelay.percentile(50)),
    eventLoopDelayP99Ms: nsToMs(eventLoopDelay.percentile(99)),
    eventLoopDelayMaxMs: nsToMs(eventLoopDelay.max),
    replicas: runtime?.replicaCountByKind() ?? { own: 0, environment: 0 },
    logLines,
    failureLines,
  };
}

process.on("message", (message: ToEngine) => {
  switch (message.type) {
    case "reset":
      reset();
      return;
    case "collect": {
      const stats = collect();
      void writeAllocationSamples().finally(() => send({ type: "stats", stats }));
      return;
    }
    case "backlog":
      send({ type: "backlog", deployments: createdAt.size });
      return;
    case "stop":
      void engine.close().finally(() => {
        send({ type: "stopped" });
        process.disconnect?.();
        // The CPU profile (--cpu-prof) is written on a normal exit.
        setTimeout(() => process.exit(0), 100).unref();
      });
      return;
  }
});
// The bench died: do not outlive it.
process.on("disconnect", () => {
  void engine.close().finally(() => process.exit(0));
});

const memory = process.memoryUsage();
send({ type: "ready", url: engine.url, startMs: performance.now() - started, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed });
