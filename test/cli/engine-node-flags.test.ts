import { describe, expect, it } from "vitest";
import { ENGINE_NODE_FLAGS, missingEngineNodeFlags } from "../../cli/engine-node-flags.js";

describe("the engine's node flags", () => {
  it("are added unless node's command line or NODE_OPTIONS names them, whatever the value given", () => {
    expect(ENGINE_NODE_FLAGS).toContain("--max-semi-space-size=4");
    expect(missingEngineNodeFlags([], "")).toEqual(ENGINE_NODE_FLAGS);
    expect(missingEngineNodeFlags(["--inspect"], "--enable-source-maps")).toEqual(ENGINE_NODE_FLAGS);
    expect(ENGINE_NODE_FLAGS).toContain("--liftoff-only");
    expect(ENGINE_NODE_FLAGS).toContain("--no-flush-bytecode");
    expect(ENGINE_NODE_FLAGS).toContain("--no-memory-reducer");
    expect(ENGINE_NODE_FLAGS).toContain("--heap-growing-percent=100");
    expect(missingEngineNodeFlags(["--max-semi-space-size=32"], "")).toEqual(["--no-flush-bytecode", "--no-memory-reducer", "--heap-growing-percent=100", "--liftoff-only"]);
    expect(missingEngineNodeFlags(["--no-liftoff-only", "--flush-bytecode", "--memory-reducer"], "--enable-source-maps  --max_semi_space_size=16 --heap_growing_percent=50")).toEqual([]);
    expect(missingEngineNodeFlags(["--liftoff_only", "--memory_reducer"], "--flush_bytecode")).toEqual(["--max-semi-space-size=4", "--heap-growing-percent=100"]);
  });
});
