import { chmodSync, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";

/**
 * Make a directory tree the owner's only: directories 0700, files 0600 (execute bits kept for
 * the owner, never for others). Symlinks are left alone (their mode means nothing, and following
 * one could chmod outside the tree). Cheap: a PGlite data dir is about a thousand entries.
 */
export function restrictToOwner(root: string): void {
  const stats = lstatSync(root);
  if (stats.isSymbolicLink()) return;
  if (stats.isDirectory()) {
    if ((stats.mode & 0o777) !== 0o700) chmodSync(root, 0o700);
    for (const entry of readdirSync(root)) restrictToOwner(join(root, entry));
  } else if ((stats.mode & 0o077) !== 0) {
    chmodSync(root, stats.mode & 0o700);
  }
}
