/**
 * The whole engine: the management API (startEngine) with the data plane mounted on the same
 * port — replicas, router, autoscaler, promotion reconciler. This is what `modelplane serve`,
 * the quickstart and `modelplane/testing` start.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { startDataPlane, type DataPlane, type DataPlaneOptions } from "./data-plane.js";
import { startEngine, type EngineOptions, type RunningEngine } from "./engine.js";

export interface ModelplaneOptions
  extends Omit<EngineOptions, "fallbackHandler" | "acceptConnection">,
    Omit<DataPlaneOptions, "authorizePredict"> {}

export interface RunningModelplane extends RunningEngine {
  dataPlane: DataPlane;
}

function notFound(res: ServerResponse, message: string, status = 404): void {
  const body = JSON.stringify({ error: { code: status === 404 ? "NOT_FOUND" : "ENGINE_UNAVAILABLE", message, details: {} } });
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

export async function startModelplane(options: ModelplaneOptions = {}): Promise<RunningModelplane> {
  let dataPlane: DataPlane | undefined;
  const fallbackHandler = (req: IncomingMessage, res: ServerResponse): void => {
    if (!dataPlane) return notFound(res, "engine starting: the data plane is not ready yet", 503);
    if (!dataPlane.handle(req, res)) notFound(res, `no route for ${req.method} ${req.url?.split("?")[0]}`);
  };
  const engine = await startEngine({
    ...options,
    fallbackHandler,
    acceptConnection: (socket, handOff) => (dataPlane ? dataPlane.acceptConnection(socket, handOff) : handOff(socket)),
  });
  try {
    const { access } = engine;
    dataPlane = await startDataPlane(engine.service, {
      ...options,
      authorizePredict: (target, authorization) => access.authorizePredict(target, authorization),
      metrics: engine.metrics,
    });
  } catch (error) {
    await engine.close();
    throw error;
  }
  const started = dataPlane;
  let closing: Promise<void> | undefined;
  return {
    ...engine,
    dataPlane: started,
    close() {
      // Replicas stop first (drained), then the API and the store.
      closing ??= started.close().finally(() => engine.close());
      return closing;
    },
  };
}
