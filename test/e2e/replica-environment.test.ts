/**
 * Issue 13 finding 3, against `modelplane serve` as a real child process: a replica sees an
 * allow-listed environment plus what its deployment and environment give — never the engine's
 * admin key, a cloud token in the engine's environment, or any other engine variable — and, when
 * the engine runs as root, runs as an unprivileged user that can read neither the engine's
 * /proc/<pid>/environ nor its data dir. With --api-key-file the key is not even in the engine's
 * initial environment.
 */
import { chmod, copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelplaneClient } from "../../sdk/client.js";
import { waitForPromotion } from "../../sdk/wait.js";
import { compileEngineCli, removeCompiledEngineCli, spawnEngine, type EngineProcess } from "../support/compiled-engine.js";

const PROBE_SOURCE = resolve(import.meta.dirname, "../support/replicas/probe-server.js");
/** The probe as the replica user can reach it: the repository may sit in a 0700 directory (CI's clone, /root). */
let probe: string[];
const ADMIN_KEY = "engine-admin-key-4b1d9e0c7a";
const CLOUD_TOKEN = "cloud-token-in-the-engines-env-77aa";
const isRoot = process.getuid?.() === 0;
/** Every variable a replica may have: the allow-list, the replica user's identity, and what the deployment and environment give. */
const ALLOWED = new Set(["PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME", "PORT", "ENVIRONMENT", "PWD", "PROBE_READ_ENVIRON", "PROBE_READ_DIR", "MODEL_SETTING", "MODEL_SECRET"]);

let mainJs: string;
let root: string;
const engines: EngineProcess[] = [];

beforeAll(async () => {
  mainJs = await compileEngineCli();
  root = await mkdtemp(join(tmpdir(), "modelplane-replica-env-"));
  // the data dirs' parent is open to all: only the engine's own modes keep a replica out
  await chmod(root, 0o755);
  const probeScript = join(root, "probe-server.js");
  await copyFile(PROBE_SOURCE, probeScript);
  await chmod(probeScript, 0o644);
  probe = ["node", probeScript];
});
afterAll(async () => {
  for (const engine of engines) {
    engine.child.kill("SIGTERM");
    await engine.exited;
  }
  await rm(root, { recursive: true, force: true });
  if (mainJs) await removeCompiledEngineCli(mainJs);
});

interface ProbeAnswer {
  env: Record<string, string>;
  environ: string | null;
  dir: string[] | string | null;
  uid: number | null;
}

/** Start an engine, deploy the probe into production with a variable and a secret, ask it what it sees. */
async function probeReplica(name: string, args: string[], env: Record<string, string>, apiKey: string): Promise<{ answer: ProbeAnswer; engine: EngineProcess; dataDir: string }> {
  const dataDir = join(root, name);
  // serve's own choice of replica user is what this file tests
  const engine = await spawnEngine(mainJs, ["--port", "0", "--data-dir", dataDir, "--readiness-timeout", "30", ...args], env, { replicaUser: "serve's default" });
  engines.push(engine);
  const client = new ModelplaneClient({ endpoint: engine.url, apiKey });
  const model = await client.call("createModel", { body: { name } });
  const params = { model_id: model.id, env_name: "production" };
  await client.call("putVariable", { params: { ...params, name: "MODEL_SETTING" }, body: { value: "plain-setting" } });
  await client.call("putVariable", { params: { ...params, name: "MODEL_SECRET" }, body: { value: "model-secret-value", secret: true } });
  const deployment = await client.call("createDeployment", {
    params: { model_id: model.id },
    body: { command: probe, env: { PROBE_READ_ENVIRON: String(engine.child.pid), PROBE_READ_DIR: dataDir } },
  });
  const promotion = await client.call("promote", { params, body: { deployment_id: deployment.id } });
  await waitForPromotion(client, { modelId: model.id, environment: "production", promotionId: promotion.id }, { deadline: Date.now() + 90_000 });
  const response = await fetch(`${engine.url}/models/${model.id}/production/predict`, {
    method: "POST",
    headers: { authorization: `Api-Key ${apiKey}`, "content-type": "application/json" },
    body: "{}",
  });
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return { answer: JSON.parse(text) as ProbeAnswer, engine, dataDir };
}

function expectOnlyAllowedVariables(answer: ProbeAnswer): void {
  expect(Object.keys(answer.env).filter((name) => !ALLOWED.has(name))).toEqual([]);
  const values = JSON.stringify(answer.env);
  expect(values).not.toContain(ADMIN_KEY);
  expect(values).not.toContain(CLOUD_TOKEN);
  // what the deployment and the environment give does arrive
  expect(answer.env).toMatchObject({ MODEL_SETTING: "plain-setting", MODEL_SECRET: "model-secret-value", ENVIRONMENT: "production" });
}

describe("what a replica sees of the engine (finding 3)", () => {
  it.skipIf(!isRoot)("engine as root, key in its environment: the replica runs as an unprivileged user, gets only the allow-list, cannot read the engine's environ or data dir", async () => {
    const { answer, engine } = await probeReplica("as-root", [], { MODELPLANE_API_KEY: ADMIN_KEY, CLOUD_TOKEN }, ADMIN_KEY);
    expectOnlyAllowedVariables(answer);
    expect(answer.uid).not.toBe(0);
    expect(answer.env.HOME).not.toBe(process.env.HOME);
    expect(answer.environ).toMatch(/^unreadable: E(ACCES|PERM)$/);
    expect(answer.dir).toMatch(/^unreadable: EACCES$/);
    expect(engine.stderr()).toMatch(/replicas run as user \S+ \(uid \d+\)/);
  });

  it("engine with --api-key-file: the key is not in its initial environment, so not in /proc/<engine pid>/environ either", async () => {
    const keyFile = join(root, "admin-key");
    await writeFile(keyFile, `${ADMIN_KEY}\n`, { mode: 0o600 });
    // as root, keep the replica root so that it *can* read the engine's environ and show what is in it
    const { answer } = await probeReplica("key-file", ["--api-key-file", keyFile, ...(isRoot ? ["--replica-user", "root"] : [])], { CLOUD_TOKEN }, ADMIN_KEY);
    expectOnlyAllowedVariables(answer);
    expect(answer.environ).toEqual(expect.any(String));
    expect(answer.environ).not.toMatch(/^unreadable/);
    expect(answer.environ).toContain("CLOUD_TOKEN="); // it is the engine's environ indeed…
    expect(answer.environ).not.toContain(ADMIN_KEY); // …without the key
  });
});
