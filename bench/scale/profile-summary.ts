/**
 * Where the engine's CPU went, from the profile a run with BENCH_CPU_PROF=<dir> wrote (node
 * --cpu-prof): self time by part (the store's PGlite — its WebAssembly PostgreSQL, its JS glue and
 * the file-system calls it makes —, the engine's own code, the validation library, Node itself,
 * garbage collection), then the heaviest functions, then the engine's functions by inclusive time.
 *
 *   node dist/bench/scale/profile-summary.js /tmp/prof/CPU.….cpuprofile [--last S] [--skip-last S]
 *
 * --last S keeps the samples of the profile's last S seconds (the engine exits right after the last
 * window, so `--last 40` with BENCH_DURATION_S=40 is the loaded window alone, without the setup);
 * --skip-last S drops the final S seconds (with --last: an earlier window).
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  endTime: number;
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, ...options] = process.argv.slice(2);
function secondsOption(name: string): number {
  const index = options.indexOf(name);
  if (index === -1) return name === "--last" ? Infinity : 0;
  const value = Number(options[index + 1]);
  if (!(value >= 0)) throw new Error(`${name} needs a number of seconds, got ${options[index + 1]}`);
  return value;
}
if (file === undefined) {
  process.stderr.write("usage: node dist/bench/scale/profile-summary.js <file.cpuprofile> [--last S] [--skip-last S]\n");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parents = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);

/** Self time per node, µs. */
const selfTime = new Map<number, number>();
let total = 0;
const windowEnd = profile.endTime - secondsOption("--skip-last") * 1e6;
const windowStart = windowEnd - secondsOption("--last") * 1e6;
let sampledAt = profile.startTime;
profile.samples.forEach((id, index) => {
  const delta = profile.timeDeltas[index] ?? 0;
  sampledAt += delta;
  if (sampledAt < windowStart || sampledAt > windowEnd) return;
  selfTime.set(id, (selfTime.get(id) ?? 0) + delta);
  total += delta;
});

/** The nearest caller outside Node's own code: whose work a native or node: frame (fstat via
 * fs.fstatSync, a socket write…) does. */
function userCaller(id: number): ProfileNode | undefined {
  for (let current: number | undefined = parents.get(id); current !== undefined; current = parents.get(current)) {
    const node = nodes.get(current)!;
    if (node.callFrame.url !== "" && !node.callFrame.url.startsWith("node:")) return node;
  }
  return undefined;
}

const isPglite = (url: string) => url.startsWith("wasm://") || url.includes("@electric-sql/pglite");

function partOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (isPglite(url)) return "store: PGlite (WebAssembly PostgreSQL + its JS)";
  if ((url === "" || url.startsWith("node:")) && !functionName.startsWith("(") && isPglite(userCaller(node.id)?.callFrame.url ?? "")) {
    return "store: Node calls PGlite makes (file system, buffer copies)";
  }
  if (url.includes("/node_modules/pg") || url.includes("/node_modules/pg-")) return "store: pg client";
  if (url.includes("/dist/engine/")) return "engine code";
  if (url.includes("/dist/sdk/") || url.includes("/node_modules/zod/")) return "sdk schemas / zod";
  if (url.includes("/dist/bench/")) return "bench instrumentation";
  if (functionName === "(garbage collector)") return "garbage collection";
  if (functionName === "(idle)" || functionName === "(program)") return "idle / program";
  if (url.startsWith("node:")) return "node internals (http, sockets, timers, …)";
  return "native, called by node internals or the engine (socket writes, JSON, …)";
}

const location = (node: ProfileNode) =>
  `${node.callFrame.functionName || "(anonymous)"} ${node.callFrame.url.replace(/^.*\/(dist|node_modules)\//, "$1/")}:${node.callFrame.lineNumber + 1}`;

const byPart = new Map<string, number>();
const byFunction = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, time] of selfTime) {
  const node = nodes.get(id)!;
  byPart.set(partOf(node), (byPart.get(partOf(node)) ?? 0) + time);
  byFunction.set(location(node), (byFunction.get(location(node)) ?? 0) + time);
  const seen = new Set<string>();
  for (let current: number | undefined = id; current !== undefined; current = parents.get(current)) {
    const frame = nodes.get(current)!;
    if (!frame.callFrame.url.includes("/dist/engine/")) continue;
    const key = location(frame);
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + time);
  }
}

const table = (entries: Map<string, number>, limit: number) =>
  [...entries]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, time]) => `| ${name} | ${((100 * time) / total).toFixed(1)} % |`)
    .join("\n");

process.stdout.write(
  [
    `${(total / 1e6).toFixed(1)} s sampled`,
    "",
    "| part (self time) | share |",
    "|---|---|",
    table(byPart, 20),
    "",
    "| function (self time) | share |",
    "|---|---|",
    table(byFunction, 20),
    "",
    "| engine function (inclusive of what it calls synchronously) | share |",
    "|---|---|",
    table(inclusive, 20),
    "",
  ].join("\n"),
);
