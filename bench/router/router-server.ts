/**
 * The modelplane router alone, as the engine mounts it (the fast path in front of one node:http
 * server whose handler calls `router.handle`),
 * in front of one replica given by UPSTREAM_URL. Production is split 90/10 between two
 * deployments that both run on that replica, so the weighted pick is on the measured path.
 * ROUTER_WORKERS > 1 runs that many processes sharing the port through node:cluster;
 * ROUTER_FAST_PATH=0 leaves the fast path out (every request through node:http and undici).
 * ROUTER_API_KEY=<key> turns the engine's key check on (the engine's AccessView, with that key as
 * a live inference key limited to model "bench"); without it every caller is let in — only the
 * bench does that, to measure what the check costs.
 * ROUTER_METRICS=0 leaves the request metrics out (the engine always counts; only the bench turns
 * it off, to measure what counting costs). With them on, the router counts into an EngineMetrics,
 * as the engine does (prom-client's process collectors included), rendered every 5 s as a
 * scraper would ask for it.
 */
import cluster from "node:cluster";
import { createServer } from "node:http";
import { AccessView } from "../../engine/auth/access-view.js";
import { EngineMetrics } from "../../engine/metrics/index.js";
import { hashApiKey } from "../../engine/auth/api-key-secret.js";
import { createFrontDoor, createRouter, RoutingTable, type AuthorizePredict } from "../../engine/router/index.js";
import type { SqlExecutor } from "../../engine/store/sql.js";
import { replicaSetId, type ReplicaSetObservation, type ReplicaInfo, type Runtime } from "../../engine/runtime/runtime.js";

const upstreamUrl = requiredEnv("UPSTREAM_URL");
const port = Number(requiredEnv("PORT"));
const workers = Number(process.env["ROUTER_WORKERS"] ?? "1");
/** "0": no fast path, every request through node:http and undici (router.handle) */
const fastPath = process.env["ROUTER_FAST_PATH"] !== "0";
const apiKey = process.env["ROUTER_API_KEY"];
const withMetrics = process.env["ROUTER_METRICS"] !== "0";

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
}

/** One ready replica per replica set, fixed: the bench measures forwarding, not the runtime. */
function fixedReplicas(setIds: string[]): Pick<Runtime, "readyReplicas" | "observe" | "onChange"> {
  const replicas = new Map<string, readonly ReplicaInfo[]>(
    setIds.map((setId) => [
      setId,
      [{ id: `${setId}/replica-1`, replicaSetId: setId, url: upstreamUrl, state: "ready", startedAt: 0, revision: "1" }],
    ]),
  );
  return {
    readyReplicas: (setId) => replicas.get(setId) ?? [],
    observe: (setId): ReplicaSetObservation => ({
      replicaSetId: setId, desired: 1, ready: 1, starting: 0, consecutiveFailures: 0, failing: false, replicas: [...(replicas.get(setId) ?? [])],
    }),
    onChange: () => () => undefined,
  };
}

/** The engine's check with one stored inference key, from a store that holds just that row. */
async function keyCheck(key: string): Promise<AuthorizePredict> {
  const row = {
    id: "key_bench", name: "bench", scope: "inference", model_ids: ["bench"], environment_names: null, prefix: key.slice(0, 12),
    key_hash: hashApiKey(key), created_at: new Date(), last_used_at: null, revoked_at: null,
  };
  const sql: Pick<SqlExecutor, "query"> = {
    query: async <Row>(text: string) => (text.includes("FROM api_keys") ? [row] : []) as Row[],
  };
  const access = new AccessView({ sql, bootstrapKey: `bootstrap-${key}`, resyncMs: 60_000 });
  await access.refresh();
  return (target, authorization) => access.authorizePredict(target, authorization);
}

async function serve(): Promise<void> {
  const table = new RoutingTable();
  table.setDeployment("bench", "current", { active: true, predictPath: "/predict", isDevelopment: false });
  table.setDeployment("bench", "candidate", { active: true, predictPath: "/predict", isDevelopment: false });
  table.setEnvironment("bench", "production", { currentDeploymentId: "current", candidateDeploymentId: "candidate", percentToCandidate: 10 });
  const authorize: AuthorizePredict = apiKey === undefined ? () => ({ ok: true }) : await keyCheck(apiKey);
  // production's traffic goes to each deployment's replica set for production
  const sets = ["current", "candidate"].map((deploymentId) => replicaSetId(deploymentId, "production"));
  const metrics = withMetrics ? new EngineMetrics() : undefined;
  const router = createRouter({ table, runtime: fixedReplicas(sets), authorize, ...(metrics ? { metrics: metrics.requests } : {}) });
  if (metrics !== undefined) setInterval(() => void metrics.render(), 5_000).unref();
  const server = createServer((req, res) => {
    if (router.handle(req, res)) return;
    res.writeHead(404).end();
  });
  server.keepAliveTimeout = 30_000;
  if (fastPath) createFrontDoor(server, (socket, handOff) => router.acceptConnection(socket, handOff)).listen(port, "127.0.0.1");
  else server.listen(port, "127.0.0.1");
  process.on("SIGTERM", () => process.exit(0));
}

if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on("SIGTERM", () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill("SIGTERM");
    process.exit(0);
  });
} else {
  await serve();
}
