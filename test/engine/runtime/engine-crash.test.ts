import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SENTIMENT_V1, eventually, processGroupAlive } from "./helpers.js";

const RUNTIME_DIR = fileURLToPath(new URL("../../../engine/runtime/", import.meta.url));
let workDir: string;

/** The runtime as plain JS (TypeScript's transpiler, file by file), so a real child "engine"
 * process can run it and be SIGKILLed. */
function transpileRuntime(outDir: string): void {
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.name.endsWith(".ts")) {
        const output = ts.transpileModule(readFileSync(path, "utf8"), {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        }).outputText;
        const target = join(outDir, relative(RUNTIME_DIR, path)).replace(/\.ts$/, ".js");
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, output);
      }
    }
  };
  visit(RUNTIME_DIR);
}

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), "modelplane-engine-crash-"));
  writeFileSync(join(workDir, "package.json"), JSON.stringify({ type: "module" }));
  transpileRuntime(join(workDir, "runtime"));
  writeFileSync(
    join(workDir, "engine.js"),
    `import { ProcessRuntime } from "./runtime/process/index.js";
const runtime = new ProcessRuntime({ readinessPollIntervalMs: 50 });
runtime.onChange(() => {
  const ready = runtime.readyReplicas("dep");
  if (ready.length === 2) console.log(JSON.stringify(ready.map((replica) => replica.pid)));
});
runtime.setDesired({ id: "dep", owner: { modelId: "m", modelName: "m", deploymentId: "dep", deploymentName: "dep", environment: null }, workload: { kind: "process", command: [process.execPath, ${JSON.stringify(SENTIMENT_V1)}] }, env: {}, secrets: {}, readinessPath: "/health", revision: "1" }, 2);
`,
  );
});
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe("an engine killed with SIGKILL", () => {
  it("leaves no replica process behind", async () => {
    const engine = spawn(process.execPath, [join(workDir, "engine.js")], { stdio: ["ignore", "pipe", "inherit"] });
    const pids = await new Promise<number[]>((resolve, reject) => {
      let output = "";
      engine.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const line = output.split("\n").find((candidate) => candidate.startsWith("["));
        if (line !== undefined) resolve(JSON.parse(line) as number[]);
      });
      engine.on("exit", (code) => reject(new Error(`engine exited early with code ${code}`)));
    });
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(processGroupAlive(pid)).toBe(true);
    engine.kill("SIGKILL"); // no 'exit' handler runs
    for (const pid of pids) await eventually(`replica group ${pid} gone`, () => !processGroupAlive(pid), 5_000);
  });
});
