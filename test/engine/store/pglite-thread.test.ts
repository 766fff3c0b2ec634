import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../../engine/store/index.js";
import { createPgliteTemplate, type PgliteTemplate } from "../../support/pglite-template.js";

let template: PgliteTemplate;
beforeAll(async () => {
  template = await createPgliteTemplate();
});
afterAll(async () => {
  await template.cleanup();
});

describe("the PGlite thread", () => {
  it("answers a result several times its young generation (8 MiB), whole, and keeps answering", async () => {
    const sql = await openStore({ dataDir: await template.freshDataDir() });
    try {
      // 20,000 rows of ~1.2 KB: ~24 MiB parsed in the thread and copied to this one
      const rows = await sql.query<{ n: number; body: string }>("SELECT n, repeat('x', 1200) || n AS body FROM generate_series(1, 20000) AS n");
      expect(rows).toHaveLength(20_000);
      expect(rows[19_999]).toEqual({ n: 20_000, body: `${"x".repeat(1200)}20000` });
      expect(await sql.query("SELECT 1 AS one")).toEqual([{ one: 1 }]);
    } finally {
      await sql.close();
    }
  });

  it("starts PostgreSQL with its settings: new WAL files not written full of zeros first, 32 MB of shared buffers; writes go on after a WAL switch", async () => {
    const sql = await openStore({ dataDir: await template.freshDataDir() });
    try {
      expect(await sql.query("SELECT current_setting('wal_init_zero') AS zero, current_setting('shared_buffers') AS buffers")).toEqual([{ zero: "off", buffers: "32MB" }]);
      await sql.exec("CREATE TABLE wal_probe (n int)");
      await sql.query("SELECT pg_switch_wal()");
      await sql.query("INSERT INTO wal_probe VALUES (1)");
      expect(await sql.query("SELECT count(*)::int AS n FROM wal_probe")).toEqual([{ n: 1 }]);
    } finally {
      await sql.close();
    }
  });
});

describe("rows decoded from the PGlite thread's answers (pglite-rows.ts)", () => {
  // every type the engine's tables use, and the awkward cases of the wire format
  const EVERY_KIND = `SELECT 'héllo ✓ "q"'::text AS t, ''::text AS empty, NULL::text AS nothing, 42::int4 AS i, (-7)::int2 AS small,
    9007199254740991::int8 AS big, true AS yes, false AS no, 1.5::float8 AS f, 12.34::numeric AS n,
    '2026-12-03 18:51:23.123+00'::timestamptz AS at, '2026-12-03 18:51:23'::timestamp AS local, '2026-12-03'::date AS day,
    '{"a": [1, {"b": null}], "é": "✓"}'::jsonb AS j, '{"x": 1}'::json AS js, ARRAY['a', 'b,c', NULL, '{"q"}']::text[] AS words,
    ARRAY[1, 2]::int4[] AS ints, '\\x00ff'::bytea AS bin, 'x' AS twice, 'y' AS twice`;

  it("are the values PGlite's own query gives, for every type the engine uses", async () => {
    const sql = await openStore({ dataDir: await template.freshDataDir() });
    const reference = await PGlite.create();
    try {
      const rows = await sql.query(EVERY_KIND);
      expect(rows).toEqual((await reference.query(EVERY_KIND)).rows);
      expect(rows[0]).toMatchObject({ t: 'héllo ✓ "q"', nothing: null, big: 9007199254740991, at: new Date("2026-12-03T18:51:23.123Z"), words: ["a", "b,c", null, '{"q"}'] });
      const many = "SELECT n, 'row ' || n AS label, n % 2 = 0 AS even FROM generate_series(1, 3000) AS n";
      expect(await sql.query(many)).toEqual((await reference.query(many)).rows);
      // no rows: a SELECT that finds none, a write without RETURNING
      expect(await sql.query("SELECT 1 AS one WHERE false")).toEqual([]);
      expect(await sql.query("UPDATE models SET name = name WHERE false")).toEqual([]);
    } finally {
      await reference.close();
      await sql.close();
    }
  });

  it("fail with the database's error and its fields (SQLSTATE, constraint), and the session answers after", async () => {
    const sql = await openStore({ dataDir: await template.freshDataDir() });
    try {
      const insert = "INSERT INTO models (id, name, created_at) VALUES ($1, 'same-name', now())";
      await sql.query(insert, ["mdl_1"]);
      await expect(sql.query(insert, ["mdl_2"])).rejects.toMatchObject({ code: "23505", constraint: "models_name_live" });
      await expect(sql.query("SELECT * FROM no_such_table")).rejects.toMatchObject({ code: "42P01", message: expect.stringContaining("no_such_table") });
      expect(await sql.query<{ id: string }>("SELECT id FROM models")).toEqual([{ id: "mdl_1" }]);
    } finally {
      await sql.close();
    }
  });
});
