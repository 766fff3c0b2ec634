import { PGLITE_NODE_FLAGS } from "../engine/store/pglite-node-flags.js";

/**
 * Node flags the engine's process needs that only a process's start can set (V8 sizes its heap
 * once, when it starts: v8.setFlagsFromString later has no effect, measured). `modelplane serve`
 * restarts itself with them when they are missing, by process.execve: the same pid, stdio,
 * arguments and environment, so a supervisor, a pipe or a terminal sees one process.
 *
 * --max-semi-space-size=4: the main thread's young generation (where every request, row and event
 * is first allocated) is sized by V8 from the machine's memory, and grew to 2 × 64 MiB in the engine,
 * most of it garbage between scavenges; with 4 MiB semi-spaces (and the PGlite thread's own cap)
 * bench/scale's engine on PGlite used 364 instead of 617 MiB after its setup at 3/10 size, 549
 * instead of 694 MiB at full size (bench/scale/RESULTS.md, session 8).
 *
 * --no-flush-bytecode: V8 drops the bytecode of functions that have not run for a while (aged over
 * a few collections), and an API that has been quiet — the API's handlers, the store's decoders —
 * compiled it all again at its first requests: bench/scale's API-alone window, which follows 20 s
 * of idle engine, began with a burst of 47–110 slow requests (worst 138–310 ms) in most runs on
 * PGlite; with the flag 6–12 (worst 35–44 ms), and the loaded p99 met the target once (19.0 ms);
 * RSS within the runs' spread (466 MiB max). The engine's code is small: keeping its bytecode is
 * cheap (RESULTS.md, runs 14 f and 15 e).
 *
 * --no-memory-reducer: V8's memory reducer, meant for a page gone quiet, runs full collections that
 * compact the whole old space (`reduce_memory=1` in --trace-gc-nvp) on a timer — its watchdog fires
 * every 100 s — and then a second one, whether or not the engine is busy. On this machine's two
 * cores such a pair held the event loop 95–182 ms (pauses of 48 + 20 ms in a traced run), and a
 * burst of 30–120 API requests over 20 ms came with it: the largest burst of the loaded minute in
 * most bench/scale runs, often most of its slow requests (RESULTS.md, run 19). Without it the old space is still
 * collected when it reaches its limit, marked incrementally, with pauses of 3–26 ms in a 3-minute
 * loaded run; what is live is the same (~67 MiB at full size). An engine that was quiet keeps its
 * heap's pages instead of giving them back (RSS within the 60-s runs' spread; 504 MiB once in a
 * 3-minute run, 482 with the reducer).
 *
 * --heap-growing-percent=100: the old space is next collected when it has grown to twice what the
 * last full collection left live. V8 otherwise picks that factor (1.1–4) from how busy the engine
 * was at that collection: one that fell in a quiet spell left a limit ~10 MB above the live ~70 MB,
 * and then a full collection every 10–15 s once requests came (bursts of 20–50 slow requests each;
 * bench/scale's API-alone window after its idle one: p99 20–140 ms), one in the busy set-up a limit
 * of ~260 MB (its garbage all in RSS). Pinned, the collections come at a steady pace from what the
 * engine promotes (~1.2 MB/s under bench/scale's load): API p99 12.6–13.0 ms loaded and 14.2–16.2 ms
 * alone against 14.2–15.8 and 23.5–24.8 ms, RSS max 375–383 against 412–479 MiB (RESULTS.md, run 21).
 *
 * PGlite's (engine/store/pglite-node-flags.ts): its WebAssembly PostgreSQL compiled once.
 */
export const ENGINE_NODE_FLAGS: readonly string[] = [
  "--max-semi-space-size=4",
  "--no-flush-bytecode",
  "--no-memory-reducer",
  "--heap-growing-percent=100",
  ...PGLITE_NODE_FLAGS,
];

/**
 * ENGINE_NODE_FLAGS not given already: one named on node's command line or in NODE_OPTIONS (any
 * value, or its --no- form) is the user's.
 */
export function missingEngineNodeFlags(execArgv: readonly string[], nodeOptions: string): string[] {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].map(flagName));
  return ENGINE_NODE_FLAGS.filter((flag) => !given.has(flagName(flag)));
}

/** `--max_semi_space_size=16` → `--max-semi-space-size`, `--no-liftoff-only` → `--liftoff-only` */
function flagName(flag: string): string {
  return flag.split("=")[0]!.replaceAll("_", "-").replace(/^--no-/, "--");
}

/**
 * Replace this process by one with ENGINE_NODE_FLAGS, unless it has them (or the platform has no
 * execve: Windows, where the engine runs with V8's defaults). Call before anything is started or
 * read from the environment: nothing of this process survives but its pid and file descriptors.
 */
export function restartWithEngineNodeFlags(): void {
  const missing = missingEngineNodeFlags(process.execArgv, process.env["NODE_OPTIONS"] ?? "");
  if (missing.length === 0 || typeof process.execve !== "function") return;
  process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)], process.env);
}
