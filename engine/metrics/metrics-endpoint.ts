/**
 * `GET /metrics`: the Prometheus text format, for a metrics or an admin key (a Prometheus
 * scrape config sends it as `authorization: {type: Api-Key, credentials: …}` or as a bearer
 * token). Errors are the API's JSON errors.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AccessDecision } from "../auth/access-rules.js";
import { sendError } from "../router/error-response.js";
import type { EngineMetrics } from "./engine-metrics.js";

export const METRICS_PATH = "/metrics";

export interface MetricsEndpointOptions {
  metrics: EngineMetrics;
  authorize: (authorization: string | undefined) => AccessDecision;
  log?: (line: string) => void;
}

/** Serves the request if its path is /metrics (true), else leaves it alone (false). */
export function createMetricsEndpoint(options: MetricsEndpointOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { metrics, authorize } = options;
  return (req, res) => {
    const url = req.url ?? "/";
    const queryStart = url.indexOf("?");
    if ((queryStart === -1 ? url : url.slice(0, queryStart)) !== METRICS_PATH) return false;
    req.resume();
    const access = authorize(req.headers.authorization);
    if (!access.ok) {
      sendError(res, access.code, access.message, access.code === "UNAUTHORIZED" ? { "www-authenticate": 'Api-Key, Bearer realm="modelplane"' } : {});
      return true;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendError(res, "METHOD_NOT_ALLOWED", `${req.method} is not allowed on ${METRICS_PATH}; use GET`, { allow: "GET, HEAD" });
      return true;
    }
    metrics.render().then(
      (text) => {
        res.writeHead(200, { "content-type": metrics.contentType, "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
        res.end(req.method === "HEAD" ? undefined : text);
      },
      (error: unknown) => {
        options.log?.(`metrics: scrape failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        sendError(res, "INTERNAL", "the metrics could not be collected; see the engine log");
      },
    );
    return true;
  };
}
