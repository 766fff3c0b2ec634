/**
 * Node flags for the engine's process when it runs PGlite, which only a process's start can set
 * (v8.setFlagsFromString before the thread starts: no effect, measured).
 *
 * --liftoff-only: PostgreSQL's WebAssembly stays compiled by V8's baseline compiler (Liftoff).
 * Left to V8, its hot functions are recompiled by the optimising compiler in the first seconds of
 * use, on background threads, in one burst whose freed memory glibc keeps: opened standalone,
 * running 10,000 statements a round, the process peaked at 708–786 MiB in the first round and
 * kept 338 MiB; with the flag, 218–263 MiB throughout. CPU for a round: 2.9 s against 1.5 s in the
 * first, 1.0–1.1 s against 1.2–1.5 s later. bench/scale at full size on PGlite: bench/scale/RESULTS.md,
 * run 11. The rest of the engine's WebAssembly (undici's HTTP parser) measured no slower. Not for
 * the short-lived initdb process (pglite-first-open.ts): there the burst is over with the process,
 * and a fresh open took 6.0–6.3 s with the flag against 5.5–5.8 s without.
 */
export const PGLITE_NODE_FLAGS: readonly string[] = ["--liftoff-only"];
