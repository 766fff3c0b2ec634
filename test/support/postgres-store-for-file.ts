/**
 * One PostgreSQL 15 store for every test of a suite, the twin of pglite-store-for-file.ts: a server
 * started before the suite with an empty database (openStore migrates it), stopped and removed after.
 * Where PostgreSQL is not installed the suite is skipped, saying why.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { openStore } from "../../engine/store/open-store.js";
import type { Sql } from "../../engine/store/sql.js";
import { postgresUnavailableReason, startTestPostgres, type TestPostgres } from "./postgres.js";

/** `suite` registers its tests with the store's accessor: call it inside tests and hooks. */
export function describeOnPostgres(name: string, suite: (store: () => Sql) => void): void {
  const unavailable = postgresUnavailableReason();
  if (unavailable) {
    describe.skip(`${name}: ${unavailable}`, () => {
      it("needs PostgreSQL", () => {});
    });
    return;
  }
  describe(name, () => {
    let postgres: TestPostgres | undefined;
    let dataDir: string | undefined;
    let store: Sql | undefined;
    beforeAll(async () => {
      postgres = await startTestPostgres();
      dataDir = await mkdtemp(join(tmpdir(), "modelplane-pg-store-"));
      store = await openStore({ dataDir, databaseUrl: await postgres.createDatabase("modelplane_test") });
    }, 120_000);
    afterAll(async () => {
      await store?.close();
      await postgres?.stop();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });
    suite(() => {
      if (!store) throw new Error("describeOnPostgres: the store is read before its beforeAll ran");
      return store;
    });
  });
}
