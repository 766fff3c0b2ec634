import { chmodSync, openSync, readFileSync, unlinkSync, writeSync, closeSync, mkdirSync } from "node:fs";
import { join } from "node:path";

/**
 * An exclusive lock on an engine data directory. PGlite has no cross-process lock: two engines
 * opening one directory would corrupt it. The lock file holds the owner's pid; a lock whose pid
 * is no longer alive (the engine was killed) is taken over.
 */
export interface DataDirLock {
  readonly path: string;
  release(): void;
}

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly ownerPid: number,
  ) {
    super(
      `data directory ${dataDir} is in use by another modelplane engine (pid ${ownerPid}); ` +
        `stop that engine, or use another --data-dir, or --database-url for several engines`,
    );
    this.name = "DataDirLockedError";
  }
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readOwnerPid(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function acquireDataDirLock(dataDir: string): DataDirLock {
  // the engine's user only: the database (secrets included), the key files
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  const path = join(dataDir, "engine.lock");
  // two attempts: the second after removing a stale lock
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      let released = false;
      return {
        path,
        release() {
          if (released) return;
          released = true;
          // only remove our own lock: after a takeover the file may belong to someone else
          if (readOwnerPid(path) === process.pid) {
            try {
              unlinkSync(path);
            } catch {
              // already gone
            }
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const ownerPid = readOwnerPid(path);
      if (ownerPid !== undefined && processIsAlive(ownerPid)) throw new DataDirLockedError(dataDir, ownerPid);
      // stale (owner dead) or unreadable (crashed between create and write): take it over
      try {
        unlinkSync(path);
      } catch {
        // someone else removed it first; retry the create
      }
    }
  }
  throw new Error(`could not take the lock ${path}: another engine is starting on ${dataDir}`);
}
