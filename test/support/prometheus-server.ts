/**
 * A real Prometheus server (the Debian package `prometheus`, `apt-get install prometheus`) started
 * by a test, scraping what it is told with its own config, storage and port, stopped after.
 *
 * Outside CI a missing `prometheus` binary skips the suites that need it, naming why; with
 * MODELPLANE_TEST_PROMETHEUS=1 (set by .ci/run, which installs the package) it fails them instead:
 *
 *   const skipReason = prometheusSkipReason();
 *   describe.skipIf(skipReason !== undefined)(`…${skipReason ? ` — ${skipReason}` : ""}`, () => {
 *     beforeAll(async () => { prometheus = await startPrometheus({ jobs: [...] }); });
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BINARY = process.env.MODELPLANE_PROMETHEUS_BIN ?? "prometheus";

function prometheusMissing(): string | undefined {
  const probe = spawnSync(BINARY, ["--version"], { encoding: "utf8" });
  if (probe.error !== undefined || probe.status !== 0) return `no '${BINARY}' binary on PATH (apt-get install prometheus)`;
  return undefined;
}

/** Why the Prometheus suites skip here, or undefined when they run (throws when CI requires them). */
export function prometheusSkipReason(): string | undefined {
  const missing = prometheusMissing();
  if (missing === undefined) return undefined;
  if (process.env.MODELPLANE_TEST_PROMETHEUS === "1") throw new Error(`MODELPLANE_TEST_PROMETHEUS=1 but ${missing}`);
  return missing;
}

export interface ScrapeJob {
  name: string;
  /** host:port */
  target: string;
  /** sent as `Authorization: Api-Key <key>` (Prometheus reads it from a 0600 file) */
  apiKey?: string;
  metricsPath?: string;
}

export interface RunningPrometheus {
  url: string;
  /** an instant PromQL query: the result vector (empty when nothing matches) */
  query(promql: string): Promise<Array<{ metric: Record<string, string>; value: number }>>;
  /** the scrape targets as Prometheus sees them */
  targets(): Promise<Array<{ job: string; health: string; lastError: string }>>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

interface ApiAnswer<T> {
  status: string;
  data: T;
  error?: string;
}

async function api<T>(url: string): Promise<T> {
  const response = await fetch(url);
  const answer = (await response.json()) as ApiAnswer<T>;
  if (answer.status !== "success") throw new Error(`Prometheus ${url}: ${answer.error ?? response.status}`);
  return answer.data;
}

/** Starts Prometheus with a 1 s scrape interval over `jobs`; resolves once it answers /-/ready. */
export async function startPrometheus(options: { jobs: ScrapeJob[]; scrapeIntervalSeconds?: number }): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), "modelplane-prometheus-"));
  const interval = options.scrapeIntervalSeconds ?? 1;
  const jobs: string[] = [];
  for (const [index, job] of options.jobs.entries()) {
    let authorization = "";
    if (job.apiKey !== undefined) {
      const keyFile = join(dir, `key-${index}`);
      await writeFile(keyFile, job.apiKey, { mode: 0o600 });
      authorization = `\n    authorization: { type: Api-Key, credentials_file: ${JSON.stringify(keyFile)} }`;
    }
    jobs.push(`  - job_name: ${JSON.stringify(job.name)}
    metrics_path: ${JSON.stringify(job.metricsPath ?? "/metrics")}${authorization}
    static_configs: [{ targets: [${JSON.stringify(job.target)}] }]`);
  }
  const config = join(dir, "prometheus.yml");
  await writeFile(config, `global:\n  scrape_interval: ${interval}s\n  scrape_timeout: ${interval}s\nscrape_configs:\n${jobs.join("\n")}\n`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const output: string[] = [];
  const child: ChildProcess = spawn(
    BINARY,
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const keep = (chunk: Buffer) => output.push(chunk.toString());
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited with ${child.exitCode}: ${output.join("").slice(-2000)}`);
    }
    const ready = await fetch(`${url}/-/ready`).then((response) => response.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready after 60 s: ${output.join("").slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    async query(promql) {
      const data = await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      return data.result.map((entry) => ({ metric: entry.metric, value: Number(entry.value[1]) }));
    },
    async targets() {
      const data = await api<{ activeTargets: Array<{ scrapePool: string; health: string; lastError: string }> }>(`${url}/api/v1/targets`);
      return data.activeTargets.map((target) => ({ job: target.scrapePool, health: target.health, lastError: target.lastError }));
    },
    stop,
  };
}
