import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import { postgresUnavailableReason, startTestPostgres, type TestPostgres } from "../../support/postgres.js";
import { startTestEngine } from "../../support/test-engine.js";
import { describeManagementApi } from "./api-suite.js";

const unavailable = postgresUnavailableReason();

if (unavailable) {
  describe.skip(`management API on PostgreSQL: ${unavailable}`, () => {
    it("needs PostgreSQL", () => {});
  });
} else {
  let postgres: TestPostgres | undefined;
  let dataDir: string | undefined;
  afterAll(async () => {
    await postgres?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  describeManagementApi("PostgreSQL 15", async () => {
    postgres = await startTestPostgres();
    const databaseUrl = await postgres.createDatabase("modelplane_api");
    // the data dir still holds nothing but is where the engine would keep its key file
    dataDir = await mkdtemp(join(tmpdir(), "modelplane-pg-engine-"));
    return startTestEngine({ dataDir, databaseUrl });
  });
}
