/**
 * Proves the real Pulumi engine, the bootstrapped CLI and the dynamic-provider host run here:
 * the CLI is the version of the installed @pulumi/pulumi, the provider host runs on the test's
 * Node, up creates, a second up changes nothing, preview after an input change reports one
 * update, destroy removes it.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { afterAll, describe, expect, it } from "vitest";
import { pulumiTestEnv, repoRoot, withStack } from "../support/pulumi.js";

const sdkVersion: string = JSON.parse(readFileSync(join(repoRoot, "node_modules/@pulumi/pulumi/package.json"), "utf8")).version;

// Self-contained on purpose: the dynamic provider is serialized with its closure, so the methods
// reference nothing from module scope.
const greetingProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: { greeting: string }) {
    // The host script runs `node` from PATH: this says which one it found.
    return { id: `greeting-${inputs.greeting.length}`, outs: { greeting: inputs.greeting, created: true, hostNode: process.version } };
  },
  async diff(_id: string, olds: { greeting: string }, news: { greeting: string }) {
    // __provider is ignored on purpose: a change of provider code alone is not a change.
    const changes = olds.greeting !== news.greeting;
    return { changes, replaces: [], deleteBeforeReplace: false };
  },
  async update(_id: string, _olds: { greeting: string }, news: { greeting: string }) {
    return { outs: { greeting: news.greeting, created: true } };
  },
  async delete() {
    return;
  },
};

class Greeting extends pulumi.dynamic.Resource {
  declare readonly greeting: pulumi.Output<string>;
  declare readonly hostNode: pulumi.Output<string>;
  constructor(name: string, greeting: string) {
    super(greetingProvider, name, { greeting, created: undefined, hostNode: undefined }, {});
  }
}

function programWith(greeting: string) {
  return async () => {
    const g = new Greeting("hello", greeting);
    return { greeting: g.greeting, hostNode: g.hostNode };
  };
}

afterAll(async () => (await pulumiTestEnv()).cleanup());

describe("Pulumi Automation API against the bootstrapped CLI", () => {
  it("reports the version of the installed @pulumi/pulumi", async () => {
    expect(sdkVersion).toBe("3.276.0");
    expect(Number(process.versions.node.split(".")[0])).toBeGreaterThanOrEqual(22); // `npm test` runs Node 24 when the machine's is older
    const env = await pulumiTestEnv();
    expect(execFileSync(env.command.command, ["version"], { encoding: "utf8" }).trim()).toBe(`v${sdkVersion}`);
    // The Automation API parses the same string (it fails to when the build lacks the ldflag).
    expect(env.command.version?.version).toBe(sdkVersion);
  });

  it("up creates, up again changes nothing, preview sees one update, destroy removes", async () => {
    let current = "hello";
    const program = async () => programWith(current)();
    await withStack("smoke", program, async (stack: Stack) => {
      const first = await stack.up({ onOutput: () => undefined });
      expect(first.summary.result).toBe("succeeded");
      expect(first.summary.resourceChanges?.create).toBe(2); // the stack + the resource
      expect(first.outputs.greeting?.value).toBe("hello");
      expect(first.outputs.hostNode?.value).toBe(process.version); // Node 24 under `npm test`, whatever the machine's node

      const second = await stack.up({ expectNoChanges: true, onOutput: () => undefined });
      expect(second.summary.resourceChanges?.same).toBe(2);

      current = "hello, modelplane";
      const preview = await stack.preview({ onOutput: () => undefined });
      expect(preview.changeSummary.update).toBe(1);
      expect(preview.changeSummary.create ?? 0).toBe(0);

      const destroyed = await stack.destroy({ onOutput: () => undefined });
      expect(destroyed.summary.resourceChanges?.delete).toBe(2);
    });
  }, 300_000); // four Pulumi operations: 121 s measured here at load 36 (2 cores shared by other agents)
});
