/**
 * The engine under test, in a process of its own (forked by run.ts with an IPC channel): the whole
 * engine as `modelplane serve` runs it (startModelplane), its replicas on the hollow runtime, its
 * store instrumented (counting-sql.ts) and its promotion writes watched (promotion-watch.ts).
 * Configured by the JSON in argv[2] (EngineProcessConfig); answers ToEngine messages.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { startModelplane } from "../../engine/main.js";
import { instrumentSql } from "./counting-sql.js";
import { HollowRuntime } from "./hollow-runtime.js";
import { PromotionWatch } from "./promotion-watch.js";
import type { EngineProcessConfig, FromEngine, ToEngine, WindowStats } from "./protocol.js";

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

const started = performance.now();
const engine = await startModelplane({
  port: 0,
  dataDir: config.dataDir,
  apiKey: config.apiKey,
  ...(config.databaseUrl !== undefined ? { databaseUrl: config.databaseUrl } : {}),
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
const counting = instrumentSql(engine.store, (text, rows) => watch.rows(text, rows));
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
const rssTimer = setInterval(() => {
  rssMax = Math.max(rssMax, process.memoryUsage.rss());
}, 500);
rssTimer.unref();

function reset(): void {
  counting.reset();
  watch.take();
  eventLoopDelay.reset();
  windowStart = performance.now();
  cpuStart = process.cpuUsage();
  rssMax = process.memoryUsage.rss();
  controllerLag = [];
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
    lag: watch.take(),
    controllerLag,
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
    case "collect":
      send({ type: "stats", stats: collect() });
      return;
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
