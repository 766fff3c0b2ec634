import { beforeAll, expect, it } from "vitest";
import { insertModel } from "../../../engine/store/index.js";
import { describeOnPostgres } from "../../support/postgres-store-for-file.js";

describeOnPostgres("statements on PostgreSQL (postgres-sql.ts)", (store) => {
  beforeAll(async () => {
    await insertModel(store(), { id: "mdl_1", name: "one", at: "2026-01-01T00:00:00.000Z" });
  });

  const READ = "SELECT * FROM models WHERE id = $1";

  it("are prepared once per connection, then only bound and executed", async () => {
    const prepared = await store().transaction(async (tx) => {
      for (let run = 0; run < 3; run++) expect(await tx.query<{ name: string }>(READ, ["mdl_1"])).toMatchObject([{ name: "one" }]);
      return tx.query<{ statement: string }>("SELECT statement FROM pg_prepared_statements WHERE statement = $1", [READ]);
    });
    // one prepared statement on the transaction's connection for the three runs
    expect(prepared).toEqual([{ statement: READ }]);
  });

  it("keep answering a prepared SELECT * after its table gained a column (another engine migrated)", async () => {
    const sql = store();
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
