// A user's model server: answers on $PORT, says which version it is, and exits at start when
// CRASH_IN names the environment it is started for (the consumer test's failing promotion).
import { createServer } from "node:http";

if (process.env.CRASH_IN !== undefined && process.env.CRASH_IN === process.env.ENVIRONMENT) {
  console.error(`refusing to start in ${process.env.ENVIRONMENT}`);
  process.exit(3);
}
createServer((req, res) => {
  res.setHeader("content-type", "application/json");
  if (req.url === "/health") return res.end("{}");
  res.end(JSON.stringify({ version: process.env.VERSION, environment: process.env.ENVIRONMENT }));
}).listen(Number(process.env.PORT), "127.0.0.1");
