import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../../engine/store/index.js";

/**
 * A migrated PGlite data dir made once per test file and copied for each test that needs a fresh
 * database: opening a new PGlite dir costs 3–7 s here, copying one well under a second.
 */
export interface PgliteTemplate {
  /** a fresh data dir (copy of the template); removed by `cleanup` */
  freshDataDir(): Promise<string>;
  cleanup(): Promise<void>;
}

export async function createPgliteTemplate(): Promise<PgliteTemplate> {
  const root = await mkdtemp(join(tmpdir(), "modelplane-test-"));
  const template = join(root, "template");
  const store = await openStore({ dataDir: template });
  await store.close();
  let copies = 0;
  return {
    async freshDataDir() {
      const dir = join(root, `data-${++copies}`);
      await cp(template, dir, { recursive: true });
      return dir;
    },
    async cleanup() {
      await rm(root, { recursive: true, force: true });
    },
  };
}
