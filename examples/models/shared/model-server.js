// The HTTP plumbing shared by the example model servers: readiness, predict, the env probe,
// fault-injection knobs and graceful shutdown. node:http only, no dependencies, no build step.
import { createHash } from "node:crypto";
import { appendFileSync } from "node:fs";
import { createServer } from "node:http";

/** Reads a non-negative integer knob from the environment; 0 when unset. */
function knob(name) {
  const value = Number.parseInt(process.env[name] ?? "", 10);
  return Number.isFinite(value) && value > 0 ? value : 0;
}

/** Reads a fraction in [0, 1] from the environment; 0 when unset or out of range. */
function fraction(name) {
  const value = Number.parseFloat(process.env[name] ?? "");
  return Number.isFinite(value) && value > 0 && value <= 1 ? value : 0;
}

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Starts a model server on process.env.PORT, on loopback unless process.env.HOST says otherwise (a pod's
 * server must listen on its pod address: the images set HOST=0.0.0.0).
 * @param {{ version: string, predict: (text: string) => { label: string, score: number } }} model
 */
export function serveModel(model) {
  const port = Number.parseInt(process.env.PORT ?? "8080", 10);
  const host = process.env.HOST ?? "127.0.0.1";
  const environment = process.env.ENVIRONMENT ?? null;
  const failReadiness = process.env.MODEL_FAIL_READINESS === "1";
  const crashAfterMs = knob("MODEL_CRASH_AFTER_MS");
  const startupDelayMs = knob("MODEL_STARTUP_DELAY_MS");
  const latencyMs = knob("MODEL_LATENCY_MS");
  // A candidate that degrades under sustained traffic (a leak, a cache that fills): the first
  // MODEL_ERROR_AFTER_REQUESTS predictions of this process are fine, then MODEL_ERROR_RATE of them
  // answer 500. Deterministic (every 1/rate-th request), so tests do not depend on luck.
  const errorRate = fraction("MODEL_ERROR_RATE");
  const errorAfterRequests = knob("MODEL_ERROR_AFTER_REQUESTS");
  // Tests that must know which requests really reached this replica (not what a router header
  // says): one line "<epoch ms> <version> <pid>" per prediction, appended to this file.
  const requestLog = process.env.MODEL_REQUEST_LOG ?? "";
  let predictions = 0;
  const startedAt = Date.now();

  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/health") {
      // A model that loads weights at start-up is not ready until they are loaded.
      const ready = !failReadiness && Date.now() - startedAt >= startupDelayMs;
      sendJson(res, ready ? 200 : 503, { ready, version: model.version });
      return;
    }
    if (req.method === "GET" && path.startsWith("/env/")) {
      // Lets tests check that a variable or secret arrived without the value ever being printed.
      const name = decodeURIComponent(path.slice("/env/".length));
      const value = process.env[name];
      sendJson(res, 200, {
        name,
        set: value !== undefined,
        sha256: value === undefined ? null : createHash("sha256").update(value).digest("hex"),
      });
      return;
    }
    if (req.method === "POST" && path === "/predict") {
      const chunks = [];
      req.on("data", (chunk) => chunks.push(chunk));
      req.on("end", () => {
        let text;
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
          text = body.text;
        } catch {
          sendJson(res, 400, { error: "body must be JSON" });
          return;
        }
        if (typeof text !== "string") {
          sendJson(res, 400, { error: 'body must be {"text": "..."}' });
          return;
        }
        predictions++;
        if (requestLog !== "") appendFileSync(requestLog, `${Date.now()} ${model.version} ${process.pid}\n`);
        const degraded = predictions - errorAfterRequests;
        if (errorRate > 0 && degraded > 0 && Math.floor(degraded * errorRate) > Math.floor((degraded - 1) * errorRate)) {
          sendJson(res, 500, { error: `simulated failure (MODEL_ERROR_RATE=${errorRate})`, version: model.version });
          return;
        }
        const answer = () =>
          sendJson(res, 200, { ...model.predict(text), version: model.version, environment, pid: process.pid });
        if (latencyMs > 0) setTimeout(answer, latencyMs);
        else answer();
      });
      return;
    }
    sendJson(res, 404, { error: `no route for ${req.method} ${path}` });
  });

  server.listen(port, host, () => {
    console.log(`sentiment ${model.version} listening on ${host}:${port} (environment ${environment ?? "none"})`);
  });

  if (crashAfterMs > 0) {
    setTimeout(() => {
      console.error(`sentiment ${model.version}: simulated crash after ${crashAfterMs} ms`);
      process.exit(1);
    }, crashAfterMs);
  }

  // Graceful stop: finish the requests in progress, then exit 0.
  process.on("SIGTERM", () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
  });
}
