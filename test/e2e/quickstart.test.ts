/**
 * The README's first command does what it says: `npm start` runs dist/quickstart/main.js, which
 * must complete the rollout with zero failed requests and clean up after itself.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../support/pulumi.js";

describe("quickstart (npm start)", () => {
  it("promotes v2 through staging to production under load with 0 failed requests", { timeout: 300_000 }, async () => {
    const entry = resolve(repoRoot, "dist/quickstart/main.js");
    expect(existsSync(entry), "run `npm run build` first (npm test does)").toBe(true);
    const child = spawn(process.execPath, [entry], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env } });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolveExit) => child.on("exit", resolveExit));
    expect(code, output).toBe(0);
    // names, with the id in brackets
    expect(output).toMatch(/production: RAMPING_UP step 1\/4, 25 % to v2 \(dep_\w+\) · rolling/);
    expect(output).toMatch(/production: SUCCEEDED step 4\/4, 100 % to v2 \(dep_\w+\) · rolling/);
    expect(output).toMatch(/traffic \(last second\): v1 \d+% \| v2 \d+%/);
    expect(output).toMatch(/failed requests {4}0\n/);
    expect(output).toMatch(/production serves {2}v2/);
    expect(output).toMatch(/cleaning up/);
  });
});
