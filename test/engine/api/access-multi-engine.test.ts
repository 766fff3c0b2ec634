/**
 * Two engines on one PostgreSQL: a key created or revoked through one is accepted or refused by
 * the other within its access resync period (here 500 ms; 5 s by default), and at once by the
 * engine that made the change.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startEngine, type RunningEngine } from "../../../engine/engine.js";
import { postgresUnavailableReason, startTestPostgres, type TestPostgres } from "../../support/postgres.js";

const unavailable = postgresUnavailableReason();
const ADMIN = "multi-engine-admin-key";
const RESYNC_MS = 500;

async function status(engine: RunningEngine, key: string): Promise<number> {
  const response = await fetch(`${engine.url}/v1/api_keys`, { headers: { authorization: `Api-Key ${key}` } });
  await response.arrayBuffer();
  return response.status;
}

/** How long until `engine` answers `wanted` for `key`, polling every 20 ms (fails after 10 s). */
async function msUntil(engine: RunningEngine, key: string, wanted: number): Promise<number> {
  const started = Date.now();
  while ((await status(engine, key)) !== wanted) {
    if (Date.now() - started > 10_000) throw new Error(`engine never answered ${wanted}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - started;
}

if (unavailable) {
  describe.skip(`API keys across engines: ${unavailable}`, () => {
    it("needs PostgreSQL", () => {});
  });
} else {
  let postgres: TestPostgres | undefined;
  const engines: RunningEngine[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    for (const engine of engines) await engine.close();
    await postgres?.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  describe("API keys across engines on one PostgreSQL", () => {
    it("a key created and revoked through engine A is accepted, then refused, by engine B within its resync period", async () => {
      postgres = await startTestPostgres();
      const databaseUrl = await postgres.createDatabase("modelplane_access");
      const secretKey = randomBytes(32).toString("base64");
      for (let i = 0; i < 2; i++) {
        const dataDir = await mkdtemp(join(tmpdir(), "modelplane-access-"));
        dirs.push(dataDir);
        engines.push(await startEngine({ port: 0, dataDir, databaseUrl, apiKey: ADMIN, secretKey, accessResyncMs: RESYNC_MS, log: () => undefined }));
      }
      const [a, b] = engines as [RunningEngine, RunningEngine];
      const created = await fetch(`${a.url}/v1/api_keys`, {
        method: "POST",
        headers: { authorization: `Api-Key ${ADMIN}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "shared", scope: "admin" }),
      });
      expect(created.status).toBe(201);
      const { id, key } = (await created.json()) as { id: string; key: string };
      expect(await status(a, key)).toBe(200); // at once on the engine that made it
      expect(await msUntil(b, key, 200)).toBeLessThan(RESYNC_MS + 1_000);

      const revoked = await fetch(`${a.url}/v1/api_keys/${id}`, { method: "DELETE", headers: { authorization: `Api-Key ${ADMIN}` } });
      expect(revoked.status).toBe(200);
      expect(await status(a, key)).toBe(401);
      expect(await msUntil(b, key, 401)).toBeLessThan(RESYNC_MS + 1_000);
    }, 120_000);
  });
}
