/**
 * A migrated, empty PGlite data dir made once per process: opening a new PGlite directory costs
 * 3–7 s here, copying a template well under one. Engines in tests start from copies of it.
 */
import { cp, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../engine/store/open-store.js";

let template: Promise<string> | undefined;

export function pgliteTemplateDir(): Promise<string> {
  template ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "modelplane-template-"));
    const store = await openStore({ dataDir: dir });
    await store.close();
    return dir;
  })();
  return template;
}

/** Copy the template into `dataDir` (which must not exist yet). */
export async function copyPgliteTemplate(dataDir: string): Promise<void> {
  await cp(await pgliteTemplateDir(), dataDir, { recursive: true });
}
