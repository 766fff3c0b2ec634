import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENGINE_NODE_FLAGS } from "../../../cli/engine-node-flags.js";
import { compileEngineCli, removeCompiledEngineCli, spawnEngine } from "../../support/compiled-engine.js";
import { createPgliteTemplate, type PgliteTemplate } from "../../support/pglite-template.js";
import { startTestEngine, TEST_API_KEY } from "../../support/test-engine.js";

const execFileAsync = promisify(execFile);
const auth = { authorization: `Api-Key ${TEST_API_KEY}` };
let template: PgliteTemplate;
let mainJs: string;

beforeAll(async () => {
  [template, mainJs] = await Promise.all([createPgliteTemplate(), compileEngineCli()]);
});
afterAll(async () => {
  await template?.cleanup();
  if (mainJs) await removeCompiledEngineCli(mainJs);
});

async function createModel(url: string, name: string): Promise<number> {
  const response = await request(`${url}/v1/models`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ name }),
  });
  await response.body.dump();
  return response.statusCode;
}

describe("engine process", () => {
  it("restarting on the same data dir keeps every object", async () => {
    const dataDir = await template.freshDataDir();
    const first = await startTestEngine({ dataDir });
    const modelId = (await first.call("POST", "/v1/models", { name: "durable" })).body.id;
    const deployment = (await first.call("POST", `/v1/models/${modelId}/deployments`, { command: ["x"] })).body;
    await first.call("POST", `/v1/models/${modelId}/environments`, { name: "staging" });
    await first.call("PUT", `/v1/models/${modelId}/environments/staging/variables/TOKEN`, { value: "t", secret: true });
    await first.close();
    const second = await startTestEngine({ dataDir });
    try {
      expect((await second.call("GET", `/v1/models/${modelId}/deployments/${deployment.id}`)).body).toEqual(deployment);
      expect((await second.call("GET", `/v1/models/${modelId}/environments/staging`)).body.variables).toEqual([
        { name: "TOKEN", secret: true },
      ]);
      expect((await second.call("GET", `/v1/models/${modelId}/audit_logs`)).body.audit_logs).toHaveLength(5);
    } finally {
      await second.close();
    }
  });

  it("serve: one listening line, refuses a second engine on the dir, exits 0 on SIGTERM, 2 on usage errors", async () => {
    const dataDir = await template.freshDataDir();
    const engine = await spawnEngine(mainJs, ["--port", "0", "--data-dir", dataDir], { MODELPLANE_API_KEY: TEST_API_KEY });
    expect(await createModel(engine.url, "cli")).toBe(201);
    const second = await execFileAsync(process.execPath, [mainJs, "serve", "--port", "0", "--data-dir", dataDir]).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`in use by another modelplane engine \\(pid ${engine.child.pid}\\)`));
    // serve restarted itself in place (same pid, which holds the lock) with the engine's node flags
    if (process.platform === "linux") {
      expect(readFileSync(`/proc/${engine.child.pid}/cmdline`, "utf8").split("\0")).toEqual(expect.arrayContaining([...ENGINE_NODE_FLAGS]));
    }
    engine.child.kill("SIGTERM");
    expect(await engine.exited).toBe(0);
    expect(engine.stdoutLines.filter((line) => line !== "")).toEqual([`modelplane engine listening on ${engine.url}`]);
    const usage = await execFileAsync(process.execPath, [mainJs, "serve", "--bogus"]).then(
      () => ({ code: 0 }),
      (error: { code: number }) => error,
    );
    expect(usage.code).toBe(2);
    const unknownCommand = await execFileAsync(process.execPath, [mainJs, "frobnicate"]).then(
      () => ({ code: 0 }),
      (error: { code: number }) => error,
    );
    expect(unknownCommand.code).toBe(2);
  });

  it("kill -9 during a burst of writes loses no acknowledged write", async () => {
    const dataDir = await template.freshDataDir();
    const acknowledged: string[] = [];
    for (let round = 0; round < 2; round++) {
      const engine = await spawnEngine(mainJs, ["--port", "0", "--data-dir", dataDir], { MODELPLANE_API_KEY: TEST_API_KEY });
      let stop = false;
      let sequence = 0;
      // 8 concurrent writers until the kill; a write counts only once its 201 arrived
      const writers = Array.from({ length: 8 }, async () => {
        while (!stop) {
          const name = `burst-${round}-${sequence++}`;
          try {
            if ((await createModel(engine.url, name)) === 201) acknowledged.push(name);
          } catch {
            return; // connection reset by the kill
          }
        }
      });
      const target = acknowledged.length + 60;
      while (acknowledged.length < target) await new Promise((resolveWait) => setTimeout(resolveWait, 5));
      engine.child.kill("SIGKILL");
      await engine.exited;
      stop = true;
      await Promise.all(writers);
    }
    // the dead engine's lock is stale: a new engine takes over
    const survivor = await startTestEngine({ dataDir });
    try {
      const names = new Set(((await survivor.call("GET", "/v1/models")).body.models as { name: string }[]).map((model) => model.name));
      const lost = acknowledged.filter((name) => !names.has(name));
      expect(lost).toEqual([]);
      expect(acknowledged.length).toBeGreaterThanOrEqual(120);
    } finally {
      await survivor.close();
    }
  });
});
