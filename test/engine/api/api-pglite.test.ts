import { afterAll } from "vitest";
import { createPgliteTemplate, type PgliteTemplate } from "../../support/pglite-template.js";
import { startTestEngine } from "../../support/test-engine.js";
import { describeManagementApi } from "./api-suite.js";

let template: PgliteTemplate | undefined;
afterAll(async () => {
  await template?.cleanup();
});

describeManagementApi("PGlite", async () => {
  template = await createPgliteTemplate();
  return startTestEngine({ dataDir: await template.freshDataDir() });
});
