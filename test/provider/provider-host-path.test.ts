import { delimiter, join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { nodeModulesOfPulumi, withNodePath } from "../../provider/provider-host-path.js";
import { repoRoot } from "../support/pulumi.js";

describe("NODE_PATH for the dynamic-provider host", () => {
  it("appends the directory once, keeping what was there", () => {
    expect(withNodePath(undefined, "/p/node_modules")).toBe("/p/node_modules");
    expect(withNodePath("", "/p/node_modules")).toBe("/p/node_modules");
    expect(withNodePath(["/a", "/b"].join(delimiter), "/p/node_modules")).toBe(["/a", "/b", "/p/node_modules"].join(delimiter));
    expect(withNodePath(["/p/node_modules", "/a"].join(delimiter), "/p/node_modules")).toBe(["/p/node_modules", "/a"].join(delimiter));
  });

  it("names the node_modules holding the @pulumi/pulumi a module resolves", () => {
    expect(nodeModulesOfPulumi(pathToFileURL(join(repoRoot, "provider/shim.ts")).href)).toBe(join(repoRoot, "node_modules"));
  });
});
