/**
 * Where the engine's CPU went, from the profile a run with BENCH_CPU_PROF=<dir> wrote (node
 * --cpu-prof): self time by part (the store's PGlite — its WebAssembly PostgreSQL, its JS glue and
 * the file-system calls it makes —, the engine's own code, the validation library, Node itself,
 * garbage collection), then the heaviest functions, then the engine's functions by inclusive time.
 *
 *   node dist/bench/scale/profile-summary.js /tmp/prof/CPU.….cpuprofile [--last S] [--skip-last S] [--holds MS]
 *
 * --last S keeps the samples of the profile's last S seconds (the engine exits right after the last
 * window, so `--last 40` with BENCH_DURATION_S=40 is the loaded window alone, without the setup);
 * --skip-last S drops the final S seconds (with --last: an earlier window); --holds MS lists the
 * main thread's tasks of MS ms or more in the window, with what they ran.
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
  process.stderr.write("usage: node dist/bench/scale/profile-summary.js <file.cpuprofile> [--last S] [--skip-last S] [--holds MS]\n");
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

/**
 * --holds MS: the main thread's tasks of MS ms or more in the window — a run of samples none of
 * which is idle — each with what it spent its time in (by part) and the engine's or a library's
 * outermost frames it ran (what started the task: a timer, a socket's data, a promise's reaction).
 * The event loop serves nothing else while one runs: a request due then waits for it.
 */
const holdOption = options.indexOf("--holds");
if (holdOption !== -1) {
  const minimumUs = Number(options[holdOption + 1]) * 1000;
  if (!(minimumUs > 0)) throw new Error(`--holds needs a number of milliseconds, got ${options[holdOption + 1]}`);
  type Task = { start: number; duration: number; samples: Array<{ id: number; delta: number }> };
  const tasks: Task[] = [];
  let current: Task | undefined;
  let at = profile.startTime;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    at += delta;
    if (at < windowStart || at > windowEnd) return;
    if (nodes.get(id)!.callFrame.functionName === "(idle)") {
      if (current !== undefined && current.duration >= minimumUs) tasks.push(current);
      current = undefined;
      return;
    }
    current ??= { start: at, duration: 0, samples: [] };
    current.duration += delta;
    current.samples.push({ id, delta });
  });
  if (current !== undefined && current.duration >= minimumUs) tasks.push(current);

  const outermost = (id: number): string => {
    let found: ProfileNode | undefined;
    for (let node: number | undefined = id; node !== undefined; node = parents.get(node)) {
      const { url } = nodes.get(node)!.callFrame;
      if (url.includes("/dist/") || url.includes("/node_modules/")) found = nodes.get(node);
    }
    return found === undefined ? "(no engine or library frame)" : location(found);
  };
  const top = (entries: Map<string, number>, duration: number, limit: number) =>
    [...entries]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, time]) => `${name} ${((100 * time) / duration).toFixed(0)} %`)
      .join("; ");
  const lines = [`Tasks of ${minimumUs / 1000} ms or more: ${tasks.length}, ${(tasks.reduce((sum, task) => sum + task.duration, 0) / 1000).toFixed(0)} ms in all`, ""];
  lines.push("| at (s into the window) | ms | parts | entered through | heaviest functions (self) |", "|---|---|---|---|---|");
  for (const task of tasks.sort((a, b) => b.duration - a.duration).slice(0, 30)) {
    const parts = new Map<string, number>();
    const entries = new Map<string, number>();
    const functions = new Map<string, number>();
    for (const { id, delta } of task.samples) {
      const node = nodes.get(id)!;
      parts.set(partOf(node), (parts.get(partOf(node)) ?? 0) + delta);
      entries.set(outermost(id), (entries.get(outermost(id)) ?? 0) + delta);
      functions.set(location(node), (functions.get(location(node)) ?? 0) + delta);
    }
    lines.push(
      `| ${((task.start - windowStart) / 1e6).toFixed(2)} | ${(task.duration / 1000).toFixed(1)} | ${top(parts, task.duration, 3)} | ` +
        `${top(entries, task.duration, 3)} | ${top(functions, task.duration, 4)} |`,
    );
  }
  process.stdout.write(`\n${lines.join("\n")}\n`);
}
