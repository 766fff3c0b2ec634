import { statSync } from "node:fs";
import { resolve } from "node:path";
import { invalidField } from "../errors.js";

/**
 * A deployment's `cwd` must be a directory the engine can see: replicas run on the engine's machine
 * (process runtime), and a missing one would otherwise surface only later, as the spawn's
 * `spawn /bin/sh ENOENT`. Relative paths are resolved against the engine's working directory, as
 * the runtime resolves them.
 */
export function requireWorkingDirectory(cwd: string | undefined): void {
  if (cwd === undefined) return;
  const absolute = resolve(cwd);
  let isDirectory: boolean;
  try {
    isDirectory = statSync(absolute).isDirectory();
  } catch {
    throw invalidField("cwd", "directory_exists", `working directory ${absolute} does not exist on the engine's machine`);
  }
  if (!isDirectory) throw invalidField("cwd", "directory_exists", `working directory ${absolute} is not a directory`);
}
