/**
 * cli/ is an API client of the engine: what `modelplane <command>` loads up front reaches sdk/,
 * never engine/. Only `serve` starts the engine, and command-table.ts imports it when it runs, so
 * `modelplane models list` or `modelplane --help` do not pay for loading the store, runtime and router.
 */
import { readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const repoRoot = resolve(import.meta.dirname, "../..");

/** Relative specifiers of a file's static imports and re-exports (`import type` included: erased, but still a dependency). */
function staticImports(file: string): string[] {
  const source = readFileSync(file, "utf8");
  const specifiers: string[] = [];
  for (const match of source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"|^\s*import\s+"(\.[^"]+)"/gm)) {
    const specifier = match[1] ?? match[2];
    if (specifier !== undefined) specifiers.push(specifier);
  }
  return specifiers;
}

/** Every repository file reached from `entry` through static relative imports, as paths from the repository root. */
function staticClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const pending = [resolve(repoRoot, entry)];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    const path = relative(repoRoot, file);
    if (seen.has(path)) continue;
    seen.add(path);
    for (const specifier of staticImports(file)) pending.push(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")));
  }
  return seen;
}

describe("cli/ layout", () => {
  it("the modelplane bin loads sdk/ and cli/ only; serve (and with it engine/) is imported when serve runs", () => {
    const loaded = [...staticClosure("cli/main.ts")];
    expect(loaded).toContain("cli/command-table.ts");
    expect(loaded).toContain("sdk/client.ts");
    expect(loaded.filter((path) => !path.startsWith("cli/") && !path.startsWith("sdk/"))).toEqual([]);
    expect(loaded).not.toContain("cli/commands/serve.ts");
    expect(readFileSync(resolve(repoRoot, "cli/command-table.ts"), "utf8")).toContain('await import("./commands/serve.js")');
  });

  it("serve is the one command that reaches engine/ (this walk would see it if another did)", () => {
    expect([...staticClosure("cli/commands/serve.ts")]).toContain("engine/main.ts");
  });
});
