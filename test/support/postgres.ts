import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chown, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

/**
 * A throwaway PostgreSQL 15 server for a test file: initdb into a temp dir, pg_ctl start on a free
 * port (unix socket in the same dir), trust auth on localhost. As root it runs as the `postgres`
 * user (initdb refuses root) with a temp dir that user owns.
 */
const execFileAsync = promisify(execFile);
export const POSTGRES_BIN = "/usr/lib/postgresql/15/bin";

export interface TestPostgres {
  /** URL of the server's `postgres` database */
  url: string;
  /** create an empty database and return its URL */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** Why the PostgreSQL suite cannot run here, or undefined when it can. */
export function postgresUnavailableReason(): string | undefined {
  for (const binary of ["initdb", "pg_ctl", "postgres"]) {
    if (!existsSync(join(POSTGRES_BIN, binary))) {
      return `PostgreSQL 15 binaries not found in ${POSTGRES_BIN} (apt-get install postgresql-15); skipping the PostgreSQL suite`;
    }
  }
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const isRoot = process.getuid?.() === 0;
  const root = await mkdtemp(join(tmpdir(), "modelplane-pg-"));
  const dataDir = join(root, "data");
  const run = async (binary: string, args: string[]) => {
    const file = join(POSTGRES_BIN, binary);
    const [command, commandArgs] = isRoot ? ["runuser", ["-u", "postgres", "--", file, ...args]] : [file, args];
    return execFileAsync(command, commandArgs, { env: { ...process.env, LC_ALL: "C" } });
  };
  if (isRoot) {
    const { stdout } = await execFileAsync("id", ["-u", "postgres"]);
    const { stdout: gid } = await execFileAsync("id", ["-g", "postgres"]);
    await chown(root, Number(stdout.trim()), Number(gid.trim()));
  }
  await run("initdb", ["-D", dataDir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
  const port = await freePort();
  // fsync off: a test database does not need to survive a power loss, and it is much faster here
  const serverOptions = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50`;
  await run("pg_ctl", ["-D", dataDir, "-o", serverOptions, "-l", join(root, "postgres.log"), "-w", "-t", "60", "start"]);
  const urlFor = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  let stopped = false;
  return {
    url: urlFor("postgres"),
    async createDatabase(name) {
      await run("createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", name]);
      return urlFor(name);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await run("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"]);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    },
  };
}
