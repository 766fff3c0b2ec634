/**
 * The modelplane router alone (fast path in front of node:http, request metrics on, as the engine
 * mounts it) serving environment "production" of model "bench" from PRIMARY_URL, with the shadow
 * of SHADOW_MODE: "off" (none configured: the fast path's one check), or "on": 100 % of the
 * requests copied to deployment "shadow" at SHADOW_URL (max_concurrency 8, max_queue 64, the
 * defaults). GET /stats answers the shadow's report, the process's memory, and since POST
 * /stats/reset its event loop's delay (what the router's own work, mirroring included, made
 * requests wait for the loop, as against what the machine's other load did to the whole process)
 * and its CPU time (user + system: what mirroring costs, barely moved by the machine's load).
 */
import { createServer } from "node:http";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { EngineMetrics } from "../../engine/metrics/index.js";
import { createFrontDoor, createRouter, RoutingTable } from "../../engine/router/index.js";
import { SHADOW_BACKOFF } from "../../engine/router/shadow/backoff.js";
import { replicaSetId, type ReplicaInfo, type ReplicaSetObservation, type Runtime } from "../../engine/runtime/runtime.js";
import { ShadowSettings } from "../../sdk/schemas/shadow.js";

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
}

const port = Number(requiredEnv("PORT"));
const primaryUrl = requiredEnv("PRIMARY_URL");
const shadowMode = process.env["SHADOW_MODE"] ?? "off";
const shadowUrl = process.env["SHADOW_URL"] ?? primaryUrl;

const replicas = new Map<string, readonly ReplicaInfo[]>([
  [replicaSetId("current", "production"), [{ id: "current/r1", replicaSetId: "current.production", url: primaryUrl, state: "ready", startedAt: 0, revision: "1" }]],
  [replicaSetId("shadow", null), [{ id: "shadow/r1", replicaSetId: "shadow", url: shadowUrl, state: "ready", startedAt: 0, revision: "1" }]],
]);
const runtime: Pick<Runtime, "readyReplicas" | "observe" | "onChange"> = {
  readyReplicas: (setId) => replicas.get(setId) ?? [],
  observe: (setId): ReplicaSetObservation => ({ replicaSetId: setId, desired: 1, ready: 1, starting: 0, consecutiveFailures: 0, failing: false, replicas: [...(replicas.get(setId) ?? [])] }),
  onChange: () => () => undefined,
};

const table = new RoutingTable();
table.setDeployment("bench", "current", { active: true, predictPath: "/predict", isDevelopment: false });
table.setDeployment("bench", "shadow", { active: true, predictPath: "/predict", isDevelopment: false });
table.setEnvironment("bench", "production", { currentDeploymentId: "current", candidateDeploymentId: null, percentToCandidate: 0 });
const settings = ShadowSettings.parse({ deployment: "shadow", timeout_ms: 2_000, comparison: { mode: "json" } });
if (shadowMode === "on") table.setShadow("bench", "production", settings);

const metrics = new EngineMetrics();
// 10 ms resolution (the default): a finer one wakes the loop 1000 times a second, a cost of its own
const LOOP_DELAY_RESOLUTION_MS = 10;
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
loopDelay.enable();
let cpuAtReset = process.cpuUsage();
// BENCH_SHADOW_BACKOFF=off: never back off (what the back-off saves, measured against it)
const noBackoff = process.env["BENCH_SHADOW_BACKOFF"] === "off" ? { shadowBackoff: { ...SHADOW_BACKOFF, failuresToBackOff: Number.POSITIVE_INFINITY } } : {};
const router = createRouter({ table, runtime, authorize: () => ({ ok: true }), metrics: metrics.requests, shadowStats: metrics.shadows, ...noBackoff });
const server = createServer((req, res) => {
  if (router.handle(req, res)) return;
  if (req.url === "/stats/reset" && req.method === "POST") {
    loopDelay.reset();
    cpuAtReset = process.cpuUsage();
    res.writeHead(204).end();
    return;
  }
  if (req.url === "/stats") {
    const report = metrics.shadows.report("bench", "production", settings);
    // the histogram holds the time between two ticks: what the loop made a tick wait is beyond the 10 ms
    const beyondTick = (ns: number) => Math.max(0, ns / 1e6 - LOOP_DELAY_RESOLUTION_MS);
    const loopDelayMs = { p99: beyondTick(loopDelay.percentile(99)), max: beyondTick(loopDelay.max) };
    const cpu = process.cpuUsage(cpuAtReset);
    res
      .writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ counts: report.counts, rssBytes: process.memoryUsage().rss, loopDelayMs, cpuMicroseconds: cpu.user + cpu.system }));
    return;
  }
  res.writeHead(404).end();
});
server.keepAliveTimeout = 30_000;
createFrontDoor(server, (socket, handOff) => router.acceptConnection(socket, handOff)).listen(port, "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
