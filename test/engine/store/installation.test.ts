import { afterAll, describe, expect, it } from "vitest";
import { installationId } from "../../../engine/store/installation.js";
import { openStore } from "../../../engine/store/open-store.js";
import { createPgliteTemplate } from "../../support/pglite-template.js";

const template = await createPgliteTemplate();
afterAll(() => template.cleanup());

describe("installation id", () => {
  it("is a label value, and the same every time the database is opened", async () => {
    const dataDir = await template.freshDataDir();
    let sql = await openStore({ dataDir });
    const first = await installationId(sql);
    await sql.close();
    expect(first).toMatch(/^mp-[0-9a-f]{10}$/);
    sql = await openStore({ dataDir });
    expect(await installationId(sql)).toBe(first);
    await sql.close();
  });

  it("differs for a database migrated at another time", async () => {
    const sql = await openStore({ dataDir: await template.freshDataDir() });
    const before = await installationId(sql);
    await sql.query("UPDATE schema_migrations SET applied_at = applied_at + interval '1 microsecond' WHERE version = 1");
    expect(await installationId(sql)).not.toBe(before);
    await sql.close();
  });
});
