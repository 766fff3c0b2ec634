/**
 * Messages between the bench (run.ts) and the engine process it forks (engine-process.ts). The
 * engine runs alone in its process so that its memory and CPU are its own, and API latencies are
 * those a separate client sees.
 */
import type { TimedStatement } from "./counting-sql.js";
import type { LagSamples, PromotionEnded } from "./promotion-watch.js";

export interface EngineProcessConfig {
  dataDir: string;
  /** PostgreSQL instead of PGlite */
  databaseUrl?: string;
  apiKey: string;
  /** the hollow replicas' start-to-ready time */
  readyAfterMs: number;
  /** the engine's periodic resync on PostgreSQL, when not its default */
  storeResyncMs?: number;
}

export interface WindowStats {
  seconds: number;
  queries: number;
  transactions: number;
  /** statement shape → count, most frequent first */
  byShape: Array<[string, number]>;
  /** every statement of the window, timed from the caller's side */
  statements: TimedStatement[];
  lag: LagSamples;
  /** deployment created (its event, emitted after the commit) → its own replica set declared to the runtime, ms */
  controllerLag: number[];
  /** each API request's time inside the engine (arrival → answer sent), ms */
  apiInEngine: number[];
  /** the engine's garbage-collection pauses over the window */
  gcPauses: GcPause[];
  /** the event loop held 20 ms or more, and collections of 5 ms or more: when (epoch ms) and how long */
  stalls: EngineStall[];
  /** engine CPU (user + system) over the window, seconds */
  cpuSeconds: number;
  rssMaxBytes: number;
  rssEndBytes: number;
  heapUsedEndBytes: number;
  /** event-loop delay over the window, ms */
  eventLoopDelayP50Ms: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  /** hollow replica records alive at the end: of deployments' own sets, of environment sets */
  replicas: { own: number; environment: number };
  /** the engine's log lines over the window, and the last few that report a failure */
  logLines: number;
  failureLines: string[];
}

export interface GcPause {
  kind: "minor" | "major" | "incremental" | "weak callbacks";
  ms: number;
}

export interface EngineStall {
  at: number;
  ms: number;
  what: string;
}

export type ToEngine =
  /** start a measurement window (counters, samples, histograms to zero) */
  | { type: "reset" }
  /** end the window: answered with `stats` */
  | { type: "collect" }
  /** how many created deployments the controller has not given a replica set yet: answered with `backlog` */
  | { type: "backlog" }
  | { type: "stop" };

export type FromEngine =
  /** rssBytes/heapUsedBytes: the engine right after its start, with its store open and nothing in it yet */
  | { type: "ready"; url: string; startMs: number; rssBytes: number; heapUsedBytes: number }
  | { type: "ended"; promotion: PromotionEnded }
  | { type: "stats"; stats: WindowStats }
  | { type: "backlog"; deployments: number }
  | { type: "stopped" };
