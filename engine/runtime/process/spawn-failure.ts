import { existsSync } from "node:fs";
import { resolve } from "node:path";

/** Why a replica's process could not be started, in the user's terms: node reports a missing
 * working directory as the spawned program's ENOENT (`spawn /bin/sh ENOENT`), which points at the
 * wrong thing. */
export function spawnFailureReason(executable: string, cwd: string | undefined, error: unknown): string {
  if ((error as NodeJS.ErrnoException | undefined)?.code === "ENOENT" && cwd !== undefined && !existsSync(cwd)) {
    return `could not start ${executable}: the working directory ${resolve(cwd)} does not exist`;
  }
  return `could not start ${executable}: ${error instanceof Error ? error.message : String(error)}`;
}
