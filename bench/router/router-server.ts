/**
 * The modelplane router alone, as the engine mounts it (the fast path in front of one node:http
 * server whose handler calls `router.handle`),
 * in front of one replica given by UPSTREAM_URL. Production is split 90/10 between two
 * deployments that both run on that replica, so the weighted pick is on the measured path.
 * ROUTER_WORKERS > 1 runs that many processes sharing the port through node:cluster;
 * ROUTER_FAST_PATH=0 leaves the fast path out (every request through node:http and undici).
 */
import cluster from "node:cluster";
import { createServer } from "node:http";
import { createFrontDoor, createRouter, RoutingTable } from "../../engine/router/index.js";
import type { ReplicaSetObservation, ReplicaInfo, Runtime } from "../../engine/runtime/runtime.js";

const upstreamUrl = requiredEnv("UPSTREAM_URL");
const port = Number(requiredEnv("PORT"));
const workers = Number(process.env["ROUTER_WORKERS"] ?? "1");
/** "0": no fast path, every request through node:http and undici (router.handle) */
const fastPath = process.env["ROUTER_FAST_PATH"] !== "0";

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
}

/** One ready replica per deployment, fixed: the bench measures forwarding, not the runtime. */
function fixedReplicas(deploymentIds: string[]): Pick<Runtime, "readyReplicas" | "observe" | "onChange"> {
  const replicas = new Map<string, readonly ReplicaInfo[]>(
    deploymentIds.map((deploymentId) => [
      deploymentId,
      [{ id: `${deploymentId}/replica-1`, replicaSetId: deploymentId, url: upstreamUrl, state: "ready", startedAt: 0, revision: "1" }],
    ]),
  );
  return {
    readyReplicas: (deploymentId) => replicas.get(deploymentId) ?? [],
    observe: (deploymentId): ReplicaSetObservation => ({
      replicaSetId: deploymentId, desired: 1, ready: 1, starting: 0, consecutiveFailures: 0, failing: false, replicas: [...(replicas.get(deploymentId) ?? [])],
    }),
    onChange: () => () => undefined,
  };
}

function serve(): void {
  const table = new RoutingTable();
  table.setDeployment("bench", "current", { active: true, predictPath: "/predict", isDevelopment: false });
  table.setDeployment("bench", "candidate", { active: true, predictPath: "/predict", isDevelopment: false });
  table.setEnvironment("bench", "production", { currentDeploymentId: "current", candidateDeploymentId: "candidate", percentToCandidate: 10 });
  const router = createRouter({ table, runtime: fixedReplicas(["current", "candidate"]) });
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
  serve();
}
