// A replica that says, on every answer, which configuration it runs with: its ENVIRONMENT, the
// sha256 of the variable named by ECHO_SECRET_NAME (default API_TOKEN; the hash, so a secret value
// never travels in a response), ECHO_VERSION and its pid. GET /health answers 200 once listening;
// SIGTERM finishes the requests in flight, then exits 0.
import { createHash } from "node:crypto";
import { createServer } from "node:http";

const secretName = process.env.ECHO_SECRET_NAME ?? "API_TOKEN";
const secret = process.env[secretName];
const identity = JSON.stringify({
  environment: process.env.ENVIRONMENT ?? null,
  secret_sha256: secret === undefined ? null : createHash("sha256").update(secret).digest("hex"),
  version: process.env.ECHO_VERSION ?? null,
  pid: process.pid,
});

const server = createServer((req, res) => {
  if (req.method === "GET" && req.url === "/health") {
    res.end("ok");
    return;
  }
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(identity) });
    res.end(identity);
  });
});
server.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
