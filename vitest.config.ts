import { defineConfig } from "vitest/config";

/**
 * The promotion end-to-end scenarios written once and run on both runtimes: the `kubernetes`
 * project runs these files again with MODELPLANE_TEST_RUNTIME=kubernetes (test/e2e/runtime-under-test.ts),
 * on the cluster of scripts/kubernetes/cluster.sh; without a cluster they skip, saying why, unless
 * MODELPLANE_TEST_KUBERNETES=1 (CI), where that is a failure.
 */
const ON_BOTH_RUNTIMES = ["test/e2e/promotions.test.ts", "test/e2e/promotion-crash.test.ts", "test/e2e/promotion-cleanup.test.ts"];

// 2 cores: two workers. End-to-end tests start real processes, PGlite and the Pulumi engine,
// so their timeouts are generous; unit tests finish in milliseconds regardless.
export default defineConfig({
  test: {
    pool: "forks",
    maxWorkers: 2,
    fileParallelism: true,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 30_000,
    // The compiled package (dist/) is loaded by Node itself, never transformed: Pulumi serializes
    // the dynamic providers' closures, and a vitest-transformed module would be captured by value.
    server: { deps: { external: [/\/dist\//] } },
    projects: [
      { extends: true, test: { name: "process", include: ["test/**/*.test.ts"] } },
      { extends: true, test: { name: "kubernetes", include: ON_BOTH_RUNTIMES, env: { MODELPLANE_TEST_RUNTIME: "kubernetes" } } },
    ],
  },
});
