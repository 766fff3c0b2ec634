import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import { createPgliteTemplate, type PgliteTemplate } from "../../support/pglite-template.js";
import { postgresUnavailableReason, startTestPostgres, type TestPostgres } from "../../support/postgres.js";
import { startTestEngine } from "../../support/test-engine.js";
import { describeWorkspaceEnvironmentsApi } from "./workspace-environments-suite.js";

/** The workspace environments' rules on both stores, each on an engine of its own. */
let template: PgliteTemplate | undefined;
let postgres: TestPostgres | undefined;
let dataDir: string | undefined;
afterAll(async () => {
  await template?.cleanup();
  await postgres?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describeWorkspaceEnvironmentsApi("PGlite", async () => {
  template = await createPgliteTemplate();
  return startTestEngine({ dataDir: await template.freshDataDir() });
});

const unavailable = postgresUnavailableReason();
if (unavailable) {
  describe.skip(`workspace environments on PostgreSQL: ${unavailable}`, () => {
    it("needs PostgreSQL", () => {});
  });
} else {
  describeWorkspaceEnvironmentsApi("PostgreSQL 15", async () => {
    postgres = await startTestPostgres();
    const databaseUrl = await postgres.createDatabase("modelplane_workspace_environments");
    dataDir = await mkdtemp(join(tmpdir(), "modelplane-pg-wse-"));
    return startTestEngine({ dataDir, databaseUrl });
  });
}
