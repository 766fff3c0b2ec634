/**
 * The processes both shadow benches run (./run.ts: the primary's latency; ./copy-cpu.ts: the
 * router's CPU per copy): model replicas answering after a delay, the router under test, the ports
 * they listen on, and the clean-up of all of them when the bench exits.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export const REQUEST_BODY = JSON.stringify({ text: "what a great movie, I love it" });

/** A replica answering after DELAY_MS; HANG=1: reads the request and never answers. */
const REPLICA_SCRIPT = `
const http = require("node:http");
const body = JSON.stringify({ label: "positive", score: 0.9 });
const delay = Number(process.env.DELAY_MS);
const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    if (process.env.HANG === "1") return;
    setTimeout(() => {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    }, delay);
  });
});
server.keepAliveTimeout = 30000;
server.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
`;

const children: ChildProcess[] = [];
process.on("exit", () => {
  for (const child of children) stopChild(child);
});

/** `node <args>` in a process group of its own, killed with the bench. */
export function startNode(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"], detached: true });
  children.push(child);
  return child;
}

export function stopChild(child: ChildProcess): void {
  if (child.pid !== undefined) try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` with the bench's request until it answers 200 (10 s at most). */
export async function waitFor200(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const response = await fetch(url, { method: "POST", body: REQUEST_BODY, headers: { "content-type": "application/json" } });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within 10 s`);
    await sleep(50);
  }
}

/** A replica answering after `delayMs` (or never, `hang`); its URL once it listens. */
export async function replica(delayMs: number, hang = false): Promise<string> {
  const port = await freePort();
  startNode(["-e", REPLICA_SCRIPT], { PORT: String(port), DELAY_MS: String(delayMs), HANG: hang ? "1" : "0" });
  const url = `http://127.0.0.1:${port}`;
  if (!hang) await waitFor200(`${url}/predict`);
  else await sleep(300);
  return url;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
