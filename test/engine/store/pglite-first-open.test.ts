import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initialisePgliteDataDir } from "../../../engine/store/pglite-first-open.js";
import { insertModel, openStore } from "../../../engine/store/index.js";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "modelplane-first-open-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("a PGlite data directory's first open", () => {
  it("creates the database in a process of its own, which the engine's store then opens with its data", async () => {
    const dataDir = join(root, "fresh");
    const pgdata = join(dataDir, "pgdata");
    // (the store's data-dir lock creates it first)
    mkdirSync(dataDir);
    const rssBefore = process.memoryUsage.rss();
    expect(await initialisePgliteDataDir(pgdata, ["-c", "shared_buffers=32MB"])).toBe(true);
    // Created in this process, PGlite's two WebAssembly instances leave 200–600 MiB here
    // (measured); in a child that exited, nothing.
    expect(process.memoryUsage.rss() - rssBefore).toBeLessThan(100 * 1024 * 1024);
    expect(existsSync(join(pgdata, "PG_VERSION"))).toBe(true);

    const created = statSync(join(pgdata, "PG_VERSION")).mtimeMs;
    const first = await openStore({ dataDir });
    await insertModel(first, { id: "mdl_first", name: "first", at: "2026-01-01T00:00:00.000Z" });
    await first.close();
    const second = await openStore({ dataDir });
    const names = await second.query<{ name: string }>("SELECT name FROM models");
    await second.close();
    expect(names.map((row) => row.name)).toEqual(["first"]);
    // an existing database is left as it is
    expect(await initialisePgliteDataDir(pgdata, [])).toBe(false);
    expect(statSync(join(pgdata, "PG_VERSION")).mtimeMs).toBe(created);
  });

  it("says which directory it could not create the database in, and why", async () => {
    const blocked = join(root, "blocked");
    writeFileSync(blocked, "a file where the data directory's parent should be\n");
    const pgdata = join(blocked, "pgdata");
    await expect(initialisePgliteDataDir(pgdata, [])).rejects.toThrow(`creating the embedded database in ${pgdata} failed`);
  });
});
