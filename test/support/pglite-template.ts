import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { copyPgliteTemplate } from "../../testing/pglite-template.js";

/** Fresh PGlite data dirs for a test file, copied from the process's migrated template. */
export interface PgliteTemplate {
  /** a fresh data dir (copy of the template); removed by `cleanup` */
  freshDataDir(): Promise<string>;
  cleanup(): Promise<void>;
}

export async function createPgliteTemplate(): Promise<PgliteTemplate> {
  const root = await mkdtemp(join(tmpdir(), "modelplane-test-"));
  let copies = 0;
  return {
    async freshDataDir() {
      const dir = join(root, `data-${++copies}`);
      await copyPgliteTemplate(dir);
      return dir;
    },
    async cleanup() {
      await rm(root, { recursive: true, force: true });
    },
  };
}
