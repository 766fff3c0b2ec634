/**
 * One PGlite store for every test of a file, the set-up the store-level tests would otherwise each
 * repeat: a fresh data dir copied from the migrated template before the file, the store closed and
 * the copy removed after it. Call it once at a file's top level: it registers beforeAll/afterAll.
 */
import { afterAll, beforeAll } from "vitest";
import { openStore } from "../../engine/store/open-store.js";
import type { Sql } from "../../engine/store/sql.js";
import { createPgliteTemplate, type PgliteTemplate } from "./pglite-template.js";

/** Returns the store's accessor: call it inside tests and hooks, once the file's beforeAll has run. */
export function pgliteStoreForFile(): () => Sql {
  let template: PgliteTemplate | undefined;
  let store: Sql | undefined;
  beforeAll(async () => {
    template = await createPgliteTemplate();
    store = await openStore({ dataDir: await template.freshDataDir() });
  });
  afterAll(async () => {
    await store?.close();
    await template?.cleanup();
  });
  return () => {
    if (!store) throw new Error("pgliteStoreForFile: the store is read before its beforeAll ran");
    return store;
  };
}
