import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { controlLoopGoesNext } from "../../../engine/store/pglite-sql.js";
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
});

describe("the order queued statements go to the PGlite thread in", () => {
  it("serves the control loop's first, except for statements asked more than its head start (5 ms) before", () => {
    expect(controlLoopGoesNext(undefined, undefined)).toBe(false);
    expect(controlLoopGoesNext(undefined, 100)).toBe(false);
    expect(controlLoopGoesNext(100, undefined)).toBe(true);
    // an API statement asked just before (or after) a control-loop one waits for it
    expect(controlLoopGoesNext(100, 97)).toBe(true);
    expect(controlLoopGoesNext(100, 95)).toBe(true);
    expect(controlLoopGoesNext(100, 120)).toBe(true);
    // one that has waited longer than the head start goes first: a burst of the control loop's cannot starve it
    expect(controlLoopGoesNext(100, 94)).toBe(false);
  });
});
