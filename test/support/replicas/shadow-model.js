// A deterministic model for the shadow tests: POST /predict {"i": n} answers
// {"label": "positive"|"negative" (n odd|even), "score": 0.5 + (n % 10) / 100, "version": VERSION}.
//   SHADOW_DISAGREE_EVERY=10  the label is flipped when n % 10 === 0 (a v2 that disagrees on 10 %)
//   SHADOW_DELAY_MS=N         every answer waits N ms (a slow shadow)
//   SHADOW_HANG_UP=1          every predict's connection is destroyed unanswered (a dead shadow; /health still answers)
//   SHADOW_RECORD=1           the answer also carries the request's headers (what reached the model)
import { createServer } from "node:http";

const disagreeEvery = Number(process.env.SHADOW_DISAGREE_EVERY ?? 0);
const delayMs = Number(process.env.SHADOW_DELAY_MS ?? 0);
const hangUp = process.env.SHADOW_HANG_UP === "1";
const record = process.env.SHADOW_RECORD === "1";
const version = process.env.VERSION ?? "v";

const server = createServer((req, res) => {
  if (req.method === "GET" && req.url === "/health") {
    res.end("ok");
    return;
  }
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    if (hangUp) {
      req.socket.destroy();
      return;
    }
    let n = 0;
    try {
      n = Number(JSON.parse(Buffer.concat(chunks).toString()).i ?? 0);
    } catch {
      n = 0;
    }
    let label = n % 2 === 1 ? "positive" : "negative";
    if (disagreeEvery > 0 && n % disagreeEvery === 0) label = label === "positive" ? "negative" : "positive";
    const answer = { label, score: 0.5 + (n % 10) / 100, version, ...(record ? { headers: req.headers } : {}) };
    const send = () => {
      const text = JSON.stringify(answer);
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
    };
    if (delayMs > 0) setTimeout(send, delayMs);
    else send();
  });
});
server.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
