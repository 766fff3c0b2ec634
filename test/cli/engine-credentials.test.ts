import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { takeEngineCredentials } from "../../cli/engine-credentials.js";

describe("the engine's credentials (finding 3)", () => {
  it("come from a file option or the variable, and every credential variable is gone from the environment afterwards", () => {
    const dir = mkdtempSync(join(tmpdir(), "modelplane-creds-"));
    try {
      writeFileSync(join(dir, "key"), "key-from-file\n", { mode: 0o600 });
      const env: NodeJS.ProcessEnv = { MODELPLANE_API_KEY: "key-from-env", MODELPLANE_SECRET_KEY: "secret-key", MODELPLANE_DATABASE_URL: "postgres://u:pw@h/db", PATH: "/usr/bin" };
      expect(takeEngineCredentials({ "api-key-file": join(dir, "key") }, {}, env)).toEqual({ apiKey: "key-from-file", secretKey: "secret-key", databaseUrl: "postgres://u:pw@h/db" });
      expect(env).toEqual({ PATH: "/usr/bin" });
      expect(() => takeEngineCredentials({ "secret-key-file": join(dir, "missing") }, {}, {})).toThrow(/--secret-key-file .*missing: ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
