import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertModel, openStore, type Sql } from "../../../engine/store/index.js";
import { postgresUnavailableReason, startTestPostgres, type TestPostgres } from "../../support/postgres.js";

const postgresUnavailable = postgresUnavailableReason();
if (postgresUnavailable) {
  describe.skip(`statements on PostgreSQL: ${postgresUnavailable}`, () => {
    it("needs PostgreSQL", () => {});
  });
} else {
  describe("statements on PostgreSQL (postgres-sql.ts)", () => {
    let postgres: TestPostgres | undefined;
    let dataDir: string | undefined;
    let sql: Sql;
    beforeAll(async () => {
      postgres = await startTestPostgres();
      dataDir = await mkdtemp(join(tmpdir(), "modelplane-statements-"));
      sql = await openStore({ dataDir, databaseUrl: await postgres.createDatabase("modelplane_statements") });
      await insertModel(sql, { id: "mdl_1", name: "one", at: "2026-01-01T00:00:00.000Z" });
    }, 120_000);
    afterAll(async () => {
      await sql?.close();
      await postgres?.stop();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    const READ = "SELECT * FROM models WHERE id = $1";

    it("are prepared once per connection, then only bound and executed", async () => {
      const prepared = await sql.transaction(async (tx) => {
        for (let run = 0; run < 3; run++) expect(await tx.query<{ name: string }>(READ, ["mdl_1"])).toMatchObject([{ name: "one" }]);
        return tx.query<{ statement: string }>("SELECT statement FROM pg_prepared_statements WHERE statement = $1", [READ]);
      });
      // one prepared statement on the transaction's connection for the three runs
      expect(prepared).toEqual([{ statement: READ }]);
    });

    it("keep answering a prepared SELECT * after its table gained a column (another engine migrated)", async () => {
      // prepared on several of the pool's connections
      await Promise.all(Array.from({ length: 6 }, () => sql.query(READ, ["mdl_1"])));
      await sql.exec("ALTER TABLE models ADD COLUMN added_by_test text DEFAULT 'new'");
      try {
        for (let run = 0; run < 12; run++) expect(await sql.query(READ, ["mdl_1"])).toMatchObject([{ name: "one", added_by_test: "new" }]);
        await Promise.all(Array.from({ length: 6 }, async () => expect(await sql.query(READ, ["mdl_1"])).toMatchObject([{ added_by_test: "new" }])));
      } finally {
        await sql.exec("ALTER TABLE models DROP COLUMN added_by_test");
      }
    });
  });
}
