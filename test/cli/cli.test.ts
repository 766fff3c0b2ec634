/**
 * The `modelplane` CLI as a user runs it: the compiled bin as a child process against a real
 * in-process engine with real replicas. Exit codes: 0 success, 1 engine/API failure, 2 usage.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, realpath, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commands, serveEntry } from "../../cli/command-table.js";
import { serveCommand } from "../../cli/commands/serve.js";
import { ModelplaneClient } from "../../sdk/client.js";
import { startTestEngine, waitFor, type TestEngine } from "../../testing/index.js";
import { assertCliBuilt, cliMain, runCli, startCli } from "./run-cli.js";
import { replicaUserArgs } from "../support/compiled-engine.js";

const models = resolve(import.meta.dirname, "../../examples/models");
const v1Command = ["node", `${models}/sentiment-v1/server.js`];
const v2Command = ["node", `${models}/sentiment-v2/server.js`];

let engine: TestEngine;
/** what a user exports before running the CLI */
let connection: Record<string, string>;

beforeAll(async () => {
  assertCliBuilt();
  engine = await startTestEngine({ runtime: { startupTimeoutMs: 5_000, stopGracePeriodMs: 2_000 }, promotionReadyTimeoutMs: 30_000 });
  connection = { MODELPLANE_ENDPOINT: engine.url, MODELPLANE_API_KEY: engine.apiKey };
});
afterAll(async () => engine?.close());

const modelplane = (...args: string[]) => runCli(args, connection);

/** A model whose production serves v1 on `replicas` fixed replicas. */
async function modelOnV1(name: string, replicas: number) {
  const { client } = engine;
  const model = await client.call("createModel", { body: { name } });
  const params = { model_id: model.id, env_name: "production" };
  await client.call("patchEnvironment", { params, body: { autoscaling_settings: { min_replica: replicas, max_replica: replicas } } });
  const v1 = await client.call("createDeployment", { params: { model_id: model.id }, body: { command: v1Command } });
  const promoted = await modelplane("promote", model.id, "production", v1.id, "--wait");
  expect(promoted.code, promoted.stderr).toBe(0);
  return { model, params, v1 };
}

describe("help and usage errors", () => {
  it("--help lists every command with its summary; <command> --help shows its usage; both exit 0", async () => {
    const help = await runCli(["--help"]);
    expect(help.code).toBe(0);
    for (const command of commands) expect(help.stdout).toContain(`${command.name}`);
    expect(help.stdout).toMatch(/promote\s+promote a deployment to an environment/);
    const promoteHelp = await runCli(["promote", "--help"]);
    expect(promoteHelp.code).toBe(0);
    expect(promoteHelp.stdout).toContain("usage: modelplane promote <model> <env> <deployment> [--wait] [--timeout S] [--json]");
    expect(promoteHelp.stdout).toContain("--api-key KEY");
  });

  it("serve is listed without loading the engine, with serve.ts's own summary and usage", () => {
    expect(serveEntry.summary).toBe(serveCommand.summary);
    expect(serveEntry.usage).toBe(serveCommand.usage);
    expect(serveEntry.help).toBe(serveCommand.help);
  });

  it.each([
    [[], /usage: modelplane <command>/],
    [["frobnicate"], /unknown command 'frobnicate'/],
    [["models"], /missing action: list or get/],
    [["models", "list", "--bogus"], /Unknown option '--bogus'/],
    [["promote", "some-model"], /missing argument <env>/],
    [["deployments", "get", "m", "d", "extra"], /unexpected argument 'extra'/],
    [["predict", "m", "--env", "staging", "--development"], /at most one of --env, --deployment and --development/],
    [["predict", "m", "--data", "{not json"], /--data is not JSON/],
    [["predict", "m", "--candidate", "--development"], /--candidate asks an environment for its candidate: not with --deployment or --development/],
    [["predict", "m", "--header", "x-modelplane-target"], /--header 'x-modelplane-target': expected name:value/],
    [["promote", "m", "production", "d", "--timeout", "soon"], /--timeout must be a whole number/],
    [["pause", "m", "production", "--wait"], /nothing to wait for/],
    [["models", "list", "--endpoint", "not a url"], /not a URL/],
    [["serve", "--readiness-timeout", "0"], /--readiness-timeout must be a whole number of seconds from 1 to 3600, got '0'/],
    [["serve", "--runtime", "docker"], /--runtime must be process or kubernetes, got 'docker'/],
    [["serve", "--namespace", "models"], /--namespace needs --runtime kubernetes/],
    [["serve", "--runtime", "kubernetes", "--image-pull-policy", "Sometimes"], /--image-pull-policy must be IfNotPresent, Always, Never, got 'Sometimes'/],
  ])("modelplane %j exits 2 with the reason and the usage", async (args, reason) => {
    const result = await modelplane(...args);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(reason);
    expect(result.stderr).toMatch(/usage: modelplane/);
    expect(result.stdout).toBe("");
  });
});

describe("reading objects", () => {
  it("prints tables by default and the API objects with --json; takes a model by id or name", async () => {
    const model = await engine.client.call("createModel", { body: { name: "readable" } });
    const deployment = await engine.client.call("createDeployment", { params: { model_id: model.id }, body: { command: v1Command, name: "first" } });

    const table = await modelplane("models", "list");
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+NAME\s+PRODUCTION/);
    expect(table.stdout).toMatch(new RegExp(`${model.id}\\s+readable`));

    const listed = JSON.parse((await modelplane("models", "list", "--json")).stdout) as { models: Array<{ id: string }> };
    expect(listed.models.map((m) => m.id)).toContain(model.id);
    expect(JSON.parse((await modelplane("models", "get", "readable", "--json")).stdout)).toMatchObject({ id: model.id, name: "readable", deployments_count: 1 });

    const deployments = JSON.parse((await modelplane("deployments", "list", model.id, "--json")).stdout) as { deployments: Array<{ id: string }> };
    expect(deployments.deployments.map((d) => d.id)).toEqual([deployment.id]);
    const byName = JSON.parse((await modelplane("deployments", "get", "readable", "first", "--json")).stdout) as { id: string };
    expect(byName.id).toBe(deployment.id);

    const environment = JSON.parse((await modelplane("environments", "get", model.id, "production", "--json")).stdout) as { name: string; model_id: string };
    expect(environment).toMatchObject({ name: "production", model_id: model.id });
    const environments = await modelplane("environments", "list", model.id);
    expect(environments.stdout).toMatch(/^NAME\s+CURRENT\s+CANDIDATE\s+PROMOTION/);
    expect(environments.stdout).toMatch(/\nproduction\s+-\s+-\s+-\s+-\s+0–1\s+instant/);
  });

  it("an API error exits 1 with `error: <message>`, a validation error with each field path and rule", async () => {
    const model = await engine.client.call("createModel", { body: { name: "errors" } });
    const invalid = await modelplane("environments", "get", model.id, "Not_A_Name");
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^error: .*env_name/);
    expect(invalid.stderr).toMatch(/\n {2}env_name: .+ \[[a-z_:]+\]/);
    const missing = await modelplane("models", "get", "no-such-model");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("error: no model with id or name 'no-such-model'\n");
    const conflict = await modelplane("pause", model.id, "production");
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/^error: .*no promotion in progress/);
    const wrongKey = await runCli(["models", "list"], { ...connection, MODELPLANE_API_KEY: "wrong" });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/^error: /);
  });
});

describe("promote --wait", () => {
  it("follows a rolling deploy: one progress line per change (RAMPING_UP with traffic %), ends SUCCEEDED, exit 0", async () => {
    const { model, params, v1 } = await modelOnV1("cli-rolling", 2);
    await engine.client.call("patchEnvironment", {
      params,
      body: { promotion_settings: { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 50, max_unavailable_percent: 0, stabilization_time_seconds: 1 } } },
    });
    const v2 = await engine.client.call("createDeployment", { params: { model_id: model.id }, body: { command: v2Command } });

    // stdout is a pipe here, not a terminal: plain lines, no redraw sequences
    const result = await modelplane("promote", "cli-rolling", "production", v2.name, "--wait");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toContain("\r");
    const lines = result.stdout.trimEnd().split("\n");
    const progress = lines.filter((line) => /^\[\s*\d+\.\d+s\] /.test(line));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    // names first, the id in brackets: "RAMPING_UP step 1/2, 50 % to deployment-2 (dep_…)"
    const candidate = `${v2.name} \\(${v2.id}\\)`;
    expect(progress.some((line) => new RegExp(`RAMPING_UP step 1/2, 50 % to ${candidate} · rolling · `).test(line)), result.stdout).toBe(true);
    for (const line of progress) expect(line).toMatch(new RegExp(`· ready ${v1.name} \\d+/\\d+, ${v2.name} \\d+/\\d+`));
    // one line per change: no line repeats the state of the line before it
    const states = progress.map((line) => line.replace(/^\[\s*\d+\.\d+s\] /, ""));
    for (let index = 1; index < states.length; index++) expect(states[index]).not.toBe(states[index - 1]);
    expect(progress.at(-1)).toMatch(new RegExp(`SUCCEEDED step 2/2, 100 % to ${candidate} · rolling`));
    expect(lines.at(-1)).toMatch(new RegExp(`^promotion \\S+ SUCCEEDED: ${candidate} serves production$`));
    expect((await engine.client.call("getEnvironment", { params })).current_deployment?.id).toBe(v2.id);
  });

  it("a crashing candidate: exit 1 with the engine's reason; predict still answers from v1", async () => {
    const { model, params, v1 } = await modelOnV1("cli-crashing", 1);
    const broken = await engine.client.call("createDeployment", {
      params: { model_id: model.id },
      body: { command: v2Command, env: { MODEL_CRASH_AFTER_MS: "1" } },
    });
    const result = await modelplane("promote", model.id, "production", broken.id, "--wait");
    expect(result.code, result.stdout).toBe(1);
    expect(result.stdout).toMatch(/FAILED /);
    expect(result.stderr).toMatch(new RegExp(`^error: promotion of ${broken.name} \\(${broken.id}\\) to production failed: candidate deployment ${broken.name} \\(${broken.id}\\) .*(exit|crash|fail)`, "i"));
    expect((await engine.client.call("getEnvironment", { params })).current_deployment?.id).toBe(v1.id);

    const predicted = await modelplane("predict", "cli-crashing", "--data", JSON.stringify({ text: "a great and wonderful day" }));
    expect(predicted.code, predicted.stderr).toBe(0);
    expect(JSON.parse(predicted.stdout)).toMatchObject({ label: "positive", version: "v1" });
    expect(predicted.stderr).toBe(`deployment: ${v1.name} (${v1.id})\n`);
  });
});

describe("dev", () => {
  let workDir: string;
  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), "modelplane-dev-"));
  });
  afterAll(async () => rm(workDir, { recursive: true, force: true }));

  it("creates the development deployment, then re-patches it on a file change: same id, higher revision", async () => {
    const model = await engine.client.call("createModel", { body: { name: "cli-dev" } });
    await writeFile(join(workDir, "server.js"), `import "${models}/sentiment-v2/server.js";\n`);
    await mkdir(join(workDir, "node_modules"));
    const dev = startCli(["dev", model.id, workDir, "--command", "node server.js"], connection);
    try {
      const created = await dev.waitForLine(/^created deployment development \((\S+)\) revision 1: node server\.js in (.+)$/);
      const deploymentId = created[1]!;
      expect(created[2]).toBe(workDir);
      await dev.waitForLine(/^watching /);
      await writeFile(join(workDir, "server.js"), `// edited\nimport "${models}/sentiment-v2/server.js";\n`);
      const patched = await dev.waitForLine(/^patched deployment development \((\S+)\) revision (\d+) \(changed: (.+)\)$/);
      expect(patched[1]).toBe(deploymentId);
      expect(Number(patched[2])).toBeGreaterThan(1);
      expect(patched[3]).toContain("server.js");
      const stored = await engine.client.call("getDeployment", { params: { model_id: model.id, deployment_id: "development" } });
      expect(stored).toMatchObject({ id: deploymentId, is_development: true, command: ["node", "server.js"], cwd: workDir });
      expect(stored.revision).toBe(Number(patched[2]));
    } finally {
      dev.child.kill("SIGINT");
    }
    expect(await dev.exited).toBe(0);
    expect(dev.stderr()).toBe("");
  });
});

describe("deploy", () => {
  let appDir: string;
  beforeAll(async () => {
    appDir = await mkdtemp(join(tmpdir(), "modelplane-deploy-"));
    await mkdir(join(appDir, "good"));
    await writeFile(join(appDir, "good", "server.js"), `import "${models}/sentiment-v2/server.js";\n`);
    await mkdir(join(appDir, "broken"));
    await writeFile(join(appDir, "broken", "server.js"), `console.error("model weights missing"); process.exit(3);\n`);
  });
  afterAll(async () => rm(appDir, { recursive: true, force: true }));

  it("creates the model on first use and the deployment from a directory; --wait until it serves", async () => {
    const deployed = await modelplane("deploy", "cli-deploy", join(appDir, "good"), "--name", "first", "--wait");
    expect(deployed.code, deployed.stderr).toBe(0);
    const lines = deployed.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^created model cli-deploy \(mdl_\w+\)$/);
    expect(lines[1]).toMatch(new RegExp(`^created deployment first \\(dep_\\w+\\): node server\\.js in ${join(appDir, "good")}$`));
    expect(deployed.stdout).toMatch(/: ACTIVE, replicas 1\/1 ready/);
    const predictUrl = /^predict: POST (\S+)$/m.exec(deployed.stdout)![1]!;
    const answer = await fetch(predictUrl, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Api-Key ${engine.apiKey}` },
      body: JSON.stringify({ text: "not good" }),
    });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ version: "v2" });

    // the second deploy finds the model by name, and goes straight into production
    const promoted = await modelplane("deploy", "cli-deploy", join(appDir, "good"), "--environment", "production", "--wait");
    expect(promoted.code, promoted.stderr).toBe(0);
    expect(promoted.stdout).not.toContain("created model");
    const deploymentId = /^created deployment \S+ \((dep_\w+)\)/m.exec(promoted.stdout)![1]!;
    expect(promoted.stdout.trim().split("\n").at(-1)).toMatch(new RegExp(`^promotion \\S+ SUCCEEDED: deployment-\\d+ \\(${deploymentId}\\) serves production$`));
    const model = (await engine.client.call("listModels", {})).models.find((candidate) => candidate.name === "cli-deploy")!;
    const production = await engine.client.call("getEnvironment", { params: { model_id: model.id, env_name: "production" } });
    expect(production.current_deployment?.id).toBe(deploymentId);
  });

  it("--wait fails with the replica's own last words when the deployment cannot start", async () => {
    const failed = await modelplane("deploy", "cli-deploy-broken", join(appDir, "broken"), "--wait");
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/: FAILED, replicas 0\/1 ready/);
    expect(failed.stderr).toContain("is FAILED: replica exited with code 3");
    expect(failed.stderr).toContain("model weights missing");
  });
});

describe("serve", () => {
  it("generates an API key without printing it; the CLI run in that directory finds it, elsewhere it does not; --readiness-timeout applies", { timeout: 300_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "modelplane-serve-"));
    const noKey = { MODELPLANE_API_KEY: "", MODELPLANE_ENDPOINT: "" };
    const serve = startCli(["serve", "--port", "0", "--readiness-timeout", "1", ...replicaUserArgs([])], noKey, dir);
    try {
      // a first start creates the database: 5-12 s on 2 idle cores, 30 s seen under load
      const listening = await serve.waitForLine(/^modelplane engine listening on (\S+)$/, 150_000);
      const url = listening[1]!;
      const keyFile = join(dir, ".modelplane", "api-key");
      const key = (await readFile(keyFile, "utf8")).trim();
      expect(key).toMatch(/^mp_[A-Za-z0-9_-]{43}$/);
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
      // stderr says where the key is, and never the key
      expect(serve.stderr()).toContain(`generated an API key in ${await realpath(keyFile)}`);
      // the first start's wait (the database is created) is announced, and its length reported
      expect(serve.stderr()).toMatch(/^modelplane: starting: creating the PGlite database in \S+\/\.modelplane\/pgdata \(first start only, about 10 s\)$/m);
      expect(serve.stderr()).toMatch(/^modelplane: started in \d+\.\d s$/m);
      expect(serve.stderr() + serve.stdoutLines.join("\n")).not.toContain(key);

      const here = await runCli(["models", "list", "--endpoint", url], noKey, dir);
      expect(here.code, here.stderr).toBe(0);
      const elsewhere = await runCli(["models", "list", "--endpoint", url], noKey, tmpdir());
      expect(elsewhere.code).toBe(1);
      expect(elsewhere.stderr).toMatch(/401|API key/i);

      // a replica never ready: replaced after 1 s, the deployment FAILED after 3 such starts, saying so
      const client = new ModelplaneClient({ endpoint: url, apiKey: key });
      const model = await client.call("createModel", { body: { name: "serve-readiness" } });
      const unready = await client.call("createDeployment", { params: { model_id: model.id }, body: { command: v2Command, env: { MODEL_FAIL_READINESS: "1" } } });
      const failed = await waitFor(
        async () => {
          const deployment = await client.call("getDeployment", { params: { model_id: model.id, deployment_id: unready.id } });
          return deployment.status === "FAILED" ? deployment : undefined;
        },
        { timeoutMs: 60_000, message: "the unready deployment to fail" },
      );
      expect(failed.error_message).toMatch(/^replica not ready after 1 s \(GET \/health never answered 200\) \([3-9] failed starts in a row\)/);
      serve.child.kill("SIGTERM");
      // after a clean run only: a failed wait above kills serve mid-start, and its exit code would hide that failure
      expect(await serve.exited).toBe(0);
    } finally {
      serve.child.kill("SIGTERM");
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("--runtime kubernetes that cannot reach its cluster stops at start saying why, without a stack trace", async () => {
    const dir = await mkdtemp(join(tmpdir(), "modelplane-serve-k8s-"));
    try {
      const result = await runCli(["serve", "--port", "0", "--runtime", "kubernetes", "--kubeconfig", join(dir, "missing.kubeconfig")], { MODELPLANE_API_KEY: "k" }, dir);
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split("\n").at(-1)).toBe(`modelplane: the kubernetes runtime cannot start: --kubeconfig ${join(dir, "missing.kubeconfig")}: no such file`);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("shows a generated key once to an operator at a terminal", async () => {
    const dir = await mkdtemp(join(tmpdir(), "modelplane-serve-tty-"));
    // util-linux `script` gives the engine a pseudo-terminal as stderr, as an interactive shell does
    const terminal = spawn("script", ["-qfec", `"${process.execPath}" "${cliMain}" serve --port 0`, "/dev/null"], {
      cwd: dir,
      env: { ...process.env, MODELPLANE_API_KEY: "" },
    });
    let output = "";
    terminal.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolveExit) => terminal.once("exit", resolveExit));
    try {
      await waitFor(() => output.includes("modelplane engine listening on"), { timeoutMs: 90_000, message: "the engine did not start" });
      const key = (await readFile(join(dir, ".modelplane", "api-key"), "utf8")).trim();
      expect(output).toContain(`generated API key ${key}`);
    } finally {
      terminal.kill("SIGTERM");
      await exited;
      await rm(dir, { recursive: true, force: true });
    }
  });
});
