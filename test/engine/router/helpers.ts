import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { ReplicaSetObservation, ReplicaInfo, Runtime } from "../../../engine/runtime/runtime.js";
import { closeFrontDoor, createFrontDoor, type AuthorizePredict, type Router } from "../../../engine/router/index.js";

/** Router tests that are not about access let every caller in (the engine never does: its
 * AccessView decides; test/e2e/data-plane-auth.test.ts covers that). */
export const ALLOW_EVERY_CALLER: AuthorizePredict = () => ({ ok: true });

export async function listen(handler: RequestListener): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}

export async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** The engine's single port, reduced to the data plane: the router's fast path in front of a
 * node:http server that serves what the fast path hands over. */
export interface EngineServer {
  server: Server;
  url: string;
  /** connections the fast path gave to node:http so far */
  handOffs(): number;
  close(): Promise<void>;
}

export async function engineServer(router: Router): Promise<EngineServer> {
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (router.handle(req, res)) return;
    res.writeHead(418).end("not a data-plane path");
  });
  const sockets = new Set<Socket>();
  let handOffs = 0;
  const front = createFrontDoor(http, (socket, handOff) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    router.acceptConnection(socket, (handed) => {
      handOffs++;
      handOff(handed);
    });
  });
  await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
  const { port } = front.address() as AddressInfo;
  return {
    server: http,
    url: `http://127.0.0.1:${port}`,
    handOffs: () => handOffs,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await closeFrontDoor(front, http);
    },
  };
}

/**
 * Ready replicas fixed by the test, for router cases that need replicas behaving in ways a model
 * process does not (holding a request, refusing connections, resetting mid-response). The
 * replicas are real HTTP servers; only the replica bookkeeping is static.
 */
export class StaticReplicas implements Pick<Runtime, "readyReplicas" | "observe" | "onChange"> {
  private readonly replicas = new Map<string, ReplicaInfo[]>();
  private readonly listeners = new Set<(deploymentId: string) => void>();

  set(deploymentId: string, urls: string[]): void {
    this.replicas.set(
      deploymentId,
      urls.map((url, index) => ({ id: `${deploymentId}/r${index}`, replicaSetId: deploymentId, url, state: "ready", startedAt: index, revision: "1" })),
    );
    for (const listener of this.listeners) listener(deploymentId);
  }

  readyReplicas(deploymentId: string): readonly ReplicaInfo[] {
    return this.replicas.get(deploymentId) ?? [];
  }

  observe(deploymentId: string): ReplicaSetObservation {
    const replicas = this.readyReplicas(deploymentId);
    return { replicaSetId: deploymentId, desired: replicas.length, ready: replicas.length, starting: 0, consecutiveFailures: 0, failing: false, replicas: [...replicas] };
  }

  onChange(listener: (deploymentId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
