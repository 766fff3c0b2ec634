/**
 * modelplane as a user gets it: packed from a checkout without dist/ (prepare builds), installed
 * into a fresh project of its own with the project's own @pulumi/pulumi, typechecked against the
 * shipped .d.ts, and an Automation API program run from that project's directory against a real
 * engine and the real Pulumi CLI: create, promote, a failed promotion, revert, destroy.
 */
import { execFile, type ExecFileOptions } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEngine, temporaryPulumi, type TemporaryPulumi, type TestEngine } from "../../testing/index.js";
import { repoRoot } from "../support/pulumi.js";

const fixture = join(repoRoot, "test/consumer/project");
const rootPackage = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
  version: string;
  devDependencies: Record<string, string>;
};
const pulumiVersion = rootPackage.devDependencies["@pulumi/pulumi"]!;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a child npm/node: none of the npm_* settings `npm test` put there (npm_config_local_prefix would point the child npm at this repository). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.toLowerCase().startsWith("npm_") && name !== "NODE_PATH") env[name] = value;
  }
  // this Node first: npm's scripts and the dynamic-provider host run `node` from PATH
  return { ...env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`, ...extra };
}

function run(command: string, args: string[], options: ExecFileOptions & { timeout: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { maxBuffer: 64 * 1024 * 1024, ...options }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

// Generous: at load 30 here (2 cores shared by other agents) `npm pack`'s build alone passed 300 s.
const npm = (args: string[], cwd: string, timeout = 900_000) => run("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd, env: cleanEnv(), timeout });

/** Every copy of a package installed under `dir` (walks node_modules, nested ones included). */
function installedCopies(dir: string, name: string): string[] {
  const found: string[] = [];
  const walk = (nodeModules: string) => {
    if (!existsSync(nodeModules)) return;
    if (existsSync(join(nodeModules, name, "package.json"))) found.push(join(nodeModules, name));
    for (const entry of readdirSync(nodeModules)) {
      const packages = entry.startsWith("@") ? readdirSync(join(nodeModules, entry)).map((sub) => join(entry, sub)) : [entry];
      for (const pkg of packages) walk(join(nodeModules, pkg, "node_modules"));
    }
  };
  walk(join(dir, "node_modules"));
  return found;
}

let work: string;
let tarball: string;
let tarballFiles: string[];
let project: string;
let engine: TestEngine | undefined;
let pulumi: TemporaryPulumi | undefined;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "modelplane-consumer-"));

  // A checkout as git has it (tracked and new files, nothing ignored: no dist/), with the
  // repository's node_modules for the build tools. `npm pack` runs `prepare`, which builds.
  const checkout = join(work, "checkout");
  const listed = await run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: repoRoot, timeout: 30_000 });
  expect(listed.code, listed.stderr).toBe(0);
  for (const file of listed.stdout.split("\0").filter((path) => path !== "" && existsSync(join(repoRoot, path)))) {
    mkdirSync(dirname(join(checkout, file)), { recursive: true });
    cpSync(join(repoRoot, file), join(checkout, file));
  }
  expect(existsSync(join(checkout, "dist"))).toBe(false);
  symlinkSync(join(repoRoot, "node_modules"), join(checkout, "node_modules"));
  const packed = await npm(["pack", "--pack-destination", work], checkout);
  expect(packed.code, packed.stderr).toBe(0);
  tarball = join(work, `modelplane-${rootPackage.version}.tgz`);
  const listing = await run("tar", ["-tzf", tarball], { timeout: 30_000 });
  tarballFiles = listing.stdout.split("\n").filter((line) => line !== "").map((line) => line.replace(/^package\//, ""));

  // The user's project: its own package.json with its own @pulumi/pulumi, modelplane from the tarball.
  project = join(work, "project");
  cpSync(fixture, project, { recursive: true });
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({
      name: "consumer-project",
      private: true,
      type: "module",
      dependencies: { "@pulumi/pulumi": pulumiVersion, modelplane: `file:${tarball}` },
      devDependencies: { typescript: rootPackage.devDependencies.typescript, "@types/node": rootPackage.devDependencies["@types/node"] },
    }),
  );
  const installed = await npm(["install", "--prefer-offline"], project);
  expect(installed.code, installed.stderr).toBe(0);
}, 1_800_000);

afterAll(async () => {
  await engine?.close();
  pulumi?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("modelplane installed into a project of its own", () => {
  it("the package holds what a user needs, built by prepare, and nothing else", () => {
    for (const file of ["package.json", "README.md", "LICENSE", "dist/provider/index.js", "dist/provider/index.d.ts", "dist/sdk/index.js", "dist/engine/index.js", "dist/cli/main.js", "dist/testing/index.js"]) {
      expect(tarballFiles).toContain(file);
    }
    const unwanted = tarballFiles.filter((file) => /^(test|\.ci|bench|scripts|examples|quickstart|dist\/bench|dist\/quickstart)\//.test(file) || (file.endsWith(".ts") && !file.endsWith(".d.ts")) || file.endsWith(".map"));
    expect(unwanted).toEqual([]);
  });

  it("one @pulumi/pulumi in the project's tree: modelplane uses the project's", async () => {
    expect(installedCopies(project, "@pulumi/pulumi")).toEqual([join(project, "node_modules/@pulumi/pulumi")]);
    const ls = await npm(["ls", "@pulumi/pulumi"], project);
    expect(ls.code, ls.stdout + ls.stderr).toBe(0); // no missing or invalid peer
    expect(ls.stdout).toContain(`modelplane@${rootPackage.version}`);
    expect(ls.stdout).toContain(`@pulumi/pulumi@${pulumiVersion} deduped`);
    expect(existsSync(join(project, "node_modules/.bin/modelplane"))).toBe(true);
  });

  it("the modelplane bin runs from the project (package.json's bin names the compiled CLI)", async () => {
    const help = await run(join(project, "node_modules/.bin/modelplane"), ["--help"], { cwd: project, env: cleanEnv(), timeout: 60_000 });
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain("usage: modelplane <command>");
    expect(help.stdout).toMatch(/serve\s+run the engine/);
  });

  it("a TypeScript program typechecks against modelplane's types (the README's), and a wrong input does not", async () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const readmeProgram = /## Add modelplane to a project[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(readmeProgram).toBeDefined();
    expect(readFileSync(join(fixture, "index.ts"), "utf8")).toContain(readmeProgram!);
    const tsc = join(project, "node_modules/typescript/bin/tsc");
    const built = await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: project, env: cleanEnv(), timeout: 180_000 });
    expect(built.code, built.stdout).toBe(0);
    writeFileSync(join(project, "tsconfig.bad.json"), JSON.stringify({ extends: "./tsconfig.json", files: ["bad-input.ts"], compilerOptions: { noEmit: true } }));
    const bad = await run(process.execPath, [tsc, "-p", "tsconfig.bad.json"], { cwd: project, env: cleanEnv(), timeout: 180_000 });
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toMatch(/bad-input\.ts.*'nmae' does not exist in type 'ModelArgs'/);
  }, 400_000);

  describe("an Automation API program run from the project's directory", () => {
    const phases = new Map<string, Record<string, unknown>>();
    let result: Run;

    beforeAll(async () => {
      engine = await startTestEngine();
      pulumi = await temporaryPulumi({ passphrase: "consumer" });
      // temporaryPulumi's NODE_PATH is left out on purpose: modelplane must find its way alone.
      const { NODE_PATH: _left, ...pulumiEnv } = pulumi.envVars;
      result = await run(process.execPath, ["dist/rollout.js"], {
        cwd: project,
        env: cleanEnv({ ...pulumiEnv, PATH: `${dirname(process.execPath)}${delimiter}${pulumiEnv.PATH!}`, ENGINE_URL: engine.url, ENGINE_API_KEY: engine.apiKey }),
        timeout: 600_000,
      });
      for (const line of result.stdout.split("\n")) {
        if (!line.startsWith("{")) continue;
        const { phase, ...data } = JSON.parse(line) as { phase: string } & Record<string, unknown>;
        phases.set(phase, data);
      }
    }, 700_000);

    const phase = (name: string) => {
      const data = phases.get(name);
      if (data === undefined) throw new Error(`no ${name} phase; exit ${result.code}\n${result.stdout}\n${result.stderr.slice(-4000)}`);
      return data as { result?: string; changes?: Record<string, number>; outputs?: Record<string, unknown> } & Record<string, unknown>;
    };

    it("Pulumi works in a directory of its own, without node_modules, from the project's directory", () => {
      const workspace = phase("workspace") as { workDir: string; cwd: string };
      expect(workspace.cwd).toBe(project);
      expect(existsSync(join(workspace.workDir, "node_modules"))).toBe(false);
      expect(phases.get("error")).toBeUndefined();
    });

    it("creates the model, two deployments, the settings and two environments; production on v1", () => {
      const create = phase("create");
      expect(create.result).toBe("succeeded");
      expect(create.changes).toEqual({ create: 7 }); // the stack and six resources
      expect(create.outputs?.production).toBe(create.outputs?.v1);
    });

    it("promotes production to v2, which then answers", () => {
      const promote = phase("promote") as ReturnType<typeof phase> & { predict: { status: number; body: { version: string; environment: string } } };
      expect(promote.result).toBe("succeeded");
      expect(promote.changes?.update).toBe(1);
      expect(promote.outputs?.production).toBe(promote.outputs?.v2);
      expect(promote.outputs?.lastPromotion).toMatchObject({ status: "SUCCEEDED" });
      expect(promote.predict).toEqual({ status: 200, body: { version: "v2", environment: "production" } });
    });

    it("a candidate that cannot start in production fails the up, and production stays on v2", () => {
      const fail = phase("fail") as { failed: boolean; errors: string[]; serving: string };
      expect(fail.failed).toBe(true);
      expect(fail.errors.join("\n")).toMatch(/production/);
      expect(fail.serving).toBe(phase("promote").outputs?.v2); // the engine, asked right after the failed up
    });

    // Issue 12 finding 5: a failed promotion used to leave a permanent `~ production update`.
    it("the revert to what serves previews no change", () => {
      const preview = phase("revert-preview") as { changes: Record<string, number>; stdout: string };
      const changed = Object.entries(preview.changes).filter(([kind, count]) => kind !== "same" && count > 0);
      expect(changed, preview.stdout).toEqual([]);
    });

    it("the revert's up succeeds with production on v2, and destroy removes everything", async () => {
      const revert = phase("revert");
      expect(revert.result).toBe("succeeded");
      expect(revert.outputs?.production).toBe(phase("promote").outputs?.v2);
      const destroy = phase("destroy");
      expect(destroy.result).toBe("succeeded");
      expect(destroy.changes?.delete).toBe(8); // the stack, six resources and v3
      const models = await engine!.client.call("listModels", {});
      expect(models.models.map((model) => model.name)).not.toContain("consumer-sentiment");
      expect(result.code).toBe(0);
    });
  });
});
