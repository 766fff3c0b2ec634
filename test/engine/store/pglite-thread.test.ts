import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nextTurn } from "../../../engine/store/pglite-sql.js";
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
  it("gives changes being applied 5 ms ahead of requests, and background work 20 ms behind them", () => {
    expect(nextTurn({})).toBeUndefined();
    expect(nextTurn({ background: 100 })).toBe("background");
    // a change being applied, asked up to 5 ms after a request, goes first
    expect(nextTurn({ applying: 105, request: 100 })).toBe("applying");
    expect(nextTurn({ applying: 106, request: 100 })).toBe("request");
    // background work waits for requests and changes asked up to 20 ms after it, not longer: it cannot starve
    expect(nextTurn({ request: 120, background: 100 })).toBe("request");
    expect(nextTurn({ request: 121, background: 100 })).toBe("background");
    expect(nextTurn({ applying: 125, background: 100 })).toBe("applying");
    expect(nextTurn({ applying: 126, request: 121, background: 100 })).toBe("background");
  });
});
