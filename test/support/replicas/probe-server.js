// A replica that reports what it receives, for the security tests: the request headers and its
// own environment on POST /predict; on start it can print things and exit instead of serving.
//   PROBE_PRINT_AND_EXIT=A,B print process.env every way a model might (util.inspect, JSON), then
//                            the values of A and B raw and in base64, then exit 1
//   PROBE_LONG_LINE=N        print one line of N characters, then exit 1
//   PROBE_READ_ENVIRON=PID   POST /predict also answers what /proc/PID/environ held (or the error)
//   PROBE_READ_DIR=PATH      POST /predict also answers the names in directory PATH (or the error)
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";

if (process.env.PROBE_PRINT_AND_EXIT) {
  console.log(process.env);
  console.log(JSON.stringify(process.env));
  for (const name of process.env.PROBE_PRINT_AND_EXIT.split(",")) {
    const value = process.env[name] ?? "";
    console.log(`${name}=${value}`);
    console.log(`${name} base64 ${Buffer.from(value).toString("base64")}`);
  }
  process.exitCode = 1;
} else if (process.env.PROBE_LONG_LINE) {
  process.stdout.write(`${"x".repeat(Number(process.env.PROBE_LONG_LINE))}\n`, () => process.exit(1));
} else {
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/health") {
      res.end("ok");
      return;
    }
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      let environ = null;
      if (process.env.PROBE_READ_ENVIRON) {
        try {
          environ = readFileSync(`/proc/${process.env.PROBE_READ_ENVIRON}/environ`, "latin1");
        } catch (error) {
          environ = `unreadable: ${error.code}`;
        }
      }
      let dir = null;
      if (process.env.PROBE_READ_DIR) {
        try {
          dir = readdirSync(process.env.PROBE_READ_DIR);
        } catch (error) {
          dir = `unreadable: ${error.code}`;
        }
      }
      const body = JSON.stringify({ headers: req.headers, env: process.env, environ, dir, uid: process.getuid?.() ?? null, bytes: Buffer.concat(chunks).length });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.listen(Number(process.env.PORT), "127.0.0.1");
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}
