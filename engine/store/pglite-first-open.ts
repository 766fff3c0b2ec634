import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { InitdbArguments } from "./pglite-initdb-process.js";

/**
 * Create the PGlite database in `pgdata` if it holds none yet (no PG_VERSION, as PGlite decides),
 * in a short-lived process (pglite-initdb-process.ts says why), so that the engine's database
 * thread only ever opens an existing one. Resolves with whether it created one.
 */
export async function initialisePgliteDataDir(pgdata: string, settings: readonly string[]): Promise<boolean> {
  if (existsSync(join(pgdata, "PG_VERSION"))) return false;
  // the entry next to this module: .js when compiled, .ts when the engine runs from source
  const entry = fileURLToPath(new URL(`./pglite-initdb-process${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
  // execFile, not fork: no IPC channel, and none of the engine's node flags (a --cpu-prof or
  // --inspect of the engine's) are passed to it
  await new Promise<void>((resolve, reject) => {
    const args: InitdbArguments = [pgdata, JSON.stringify(settings)];
    execFile(process.execPath, [entry, ...args], { maxBuffer: 1024 * 1024 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`creating the embedded database in ${pgdata} failed: ${stderr.trim() || error.message}`, { cause: error }));
      else resolve();
    });
  });
  return true;
}
