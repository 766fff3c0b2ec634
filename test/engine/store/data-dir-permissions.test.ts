/**
 * Issue 13 finding 5: the engine's data dir (database, WAL, key files) is its user's only — the
 * dir 0700, every directory in it 0700, every file without group or other bits — including the
 * files PGlite creates itself, and those it creates while the engine runs.
 */
import { lstatSync, readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTOSCALING_DEFAULTS, defaultPromotionSettings } from "../../../sdk/index.js";
import { insertEnvironment, insertModel, openStore, upsertVariable } from "../../../engine/store/index.js";
import { copyPgliteTemplate } from "../../../testing/pglite-template.js";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "modelplane-perms-"));
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** Every entry under `dir` whose mode lets anyone but the owner in, as "path mode". */
function openToOthers(dir: string): string[] {
  const found: string[] = [];
  const walk = (path: string) => {
    const stats = lstatSync(path);
    if (stats.isSymbolicLink()) return;
    if ((stats.mode & 0o077) !== 0) found.push(`${path} ${(stats.mode & 0o777).toString(8)}`);
    if (stats.isDirectory()) for (const entry of readdirSync(path)) walk(join(path, entry));
  };
  walk(dir);
  return found;
}

describe("data dir permissions (finding 5)", () => {
  // a fresh PGlite database: 5-12 s idle, over 100 s seen at load 25 on 2 cores
  it("a new data dir and an existing one (copied 0755/0644, as before this change) end up owner-only, while open and after", { timeout: 400_000 }, async () => {
    const fresh = join(root, "fresh");
    const copied = join(root, "copied");
    await copyPgliteTemplate(copied);
    // as an engine before this change left it
    await writeFile(join(copied, "stray-file"), "x", { mode: 0o644 });
    for (const dataDir of [fresh, copied]) {
      const sql = await openStore({ dataDir });
      try {
        expect(lstatSync(dataDir).mode & 0o777).toBe(0o700);
        expect(lstatSync(join(dataDir, "pgdata")).mode & 0o777).toBe(0o700);
        expect(openToOthers(dataDir)).toEqual([]);
        await insertModel(sql, { id: "mdl_p", name: "perms", at: new Date().toISOString() });
        await insertEnvironment(sql, {
          id: "env_p",
          modelId: "mdl_p",
          name: "production",
          autoscalingSettings: { ...AUTOSCALING_DEFAULTS },
          inlinePromotionSettings: defaultPromotionSettings(),
          promotionSettingsId: null,
          at: new Date().toISOString(),
        });
        await upsertVariable(sql, { environmentId: "env_p", name: "TOKEN", value: "t", secret: true, at: new Date().toISOString() });
      } finally {
        await sql.close();
      }
      expect(openToOthers(dataDir)).toEqual([]);
    }
  });
});
