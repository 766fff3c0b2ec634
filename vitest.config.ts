import { defineConfig } from "vitest/config";

// 2 cores: two workers. End-to-end tests start real processes, PGlite and the Pulumi engine,
// so their timeouts are generous; unit tests finish in milliseconds regardless.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 2,
    fileParallelism: true,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 30_000,
    // The compiled package (dist/) is loaded by Node itself, never transformed: Pulumi serializes
    // the dynamic providers' closures, and a vitest-transformed module would be captured by value.
    server: { deps: { external: [/\/dist\//] } },
  },
});
