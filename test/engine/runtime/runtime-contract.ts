/**
 * The Runtime contract: what every runtime (processes, Kubernetes) must do, as tests run against
 * the `Runtime` interface only. A runtime's test file calls `describeRuntimeContract` with a
 * factory and workload fixtures; slow runtimes pass longer deadlines.
 *
 * The model fixture behaves like examples/models/shared/model-server.js: GET /health answers 200
 * once ready, POST /predict answers JSON with `version` ("v1" or "v2"), GET /env/NAME answers
 * `{ set, sha256 }` of a variable, MODEL_FAIL_READINESS=1 keeps /health at 503, MODEL_STARTUP_DELAY_MS
 * delays readiness.
 */
import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { InFlightCounter, ReplicaSetId, ReplicaSetSpec, Runtime, Workload } from "../../../engine/runtime/runtime.js";
import { eventually } from "./helpers.js";

export interface RuntimeContractFixtures {
  /** The model server, answering `version` v1 or v2. */
  model(version: "v1" | "v2"): Workload;
  /** Prints `boom: token=$LEAKED_TOKEN` on stdout and stderr, then exits 1 at once. */
  crashing(): Workload;
}

export interface RuntimeContractOptions {
  /** A fresh runtime; it reads in-flight counts from `inFlight`. */
  create(inFlight: InFlightCounter): Runtime | Promise<Runtime>;
  fixtures: RuntimeContractFixtures;
  /** How long a replica may take to become ready (default 15 s). */
  readyTimeoutMs?: number;
  /** How long until a crash-looping set reports `failing` (default 20 s). */
  failingTimeoutMs?: number;
  /** How long a removed replica may take to disappear (default 15 s). */
  goneTimeoutMs?: number;
  /** Runtimes whose replicas outlive the engine (Kubernetes): a second runtime, made after the
   * first detached, sees the same sets. Without it, adoption is checked within one runtime. */
  reattach?: boolean;
  /** Prefix of the set ids the suite creates (sets of concurrent runs must not collide). */
  idPrefix?: string;
}

const sha256 = (value: string): string => createHash("sha256").update(value).digest("hex");

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return response.json();
}

async function predict(url: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}/predict`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text: "great stuff" }),
    signal: AbortSignal.timeout(5_000),
  });
  return { status: response.status, body: await response.json() };
}

async function answers(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
    return true;
  } catch {
    return false;
  }
}

export function describeRuntimeContract(name: string, options: RuntimeContractOptions): void {
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  const failingTimeoutMs = options.failingTimeoutMs ?? 20_000;
  const goneTimeoutMs = options.goneTimeoutMs ?? 15_000;
  const prefix = options.idPrefix ?? "contract";
  const { fixtures } = options;
  const testTimeout = 3 * readyTimeoutMs + failingTimeoutMs + goneTimeoutMs;

  const inFlightCounts = new Map<string, number>();
  const inFlight: InFlightCounter = { inFlight: (replicaId) => inFlightCounts.get(replicaId) ?? 0 };
  const runtimes: Runtime[] = [];
  async function newRuntime(): Promise<Runtime> {
    const runtime = await options.create(inFlight);
    runtimes.push(runtime);
    return runtime;
  }
  afterEach(async () => {
    inFlightCounts.clear();
    await Promise.all(runtimes.splice(0).map((runtime) => runtime.stopAll()));
  });

  let sequence = 0;
  function spec(overrides: Partial<Omit<ReplicaSetSpec, "id" | "owner">> = {}): ReplicaSetSpec {
    const id = `${prefix}-${process.pid}-${++sequence}`;
    return {
      id,
      owner: { modelId: "mdl_contract", modelName: "contract", deploymentId: id, deploymentName: `deployment-${sequence}`, environment: null },
      workload: fixtures.model("v1"),
      env: {},
      secrets: {},
      readinessPath: "/health",
      revision: "1",
      ...overrides,
    };
  }

  const readyCount = (runtime: Runtime, id: ReplicaSetId, count: number) =>
    eventually(`${count} ready replica(s) of ${id}`, () => runtime.observe(id).ready === count && runtime.readyReplicas(id).length === count, readyTimeoutMs);

  describe(`Runtime contract: ${name}`, () => {
    it("scales up with ready replicas whose URLs answer, and scales down", { timeout: testTimeout }, async () => {
      const runtime = await newRuntime();
      const set = spec();
      runtime.setDesired(set, 2);
      expect(runtime.observe(set.id).desired).toBe(2);
      await readyCount(runtime, set.id, 2);
      const ready = runtime.readyReplicas(set.id);
      expect(new Set(ready.map((replica) => replica.url)).size).toBe(2);
      for (const replica of ready) {
        expect(replica).toMatchObject({ replicaSetId: set.id, state: "ready", revision: "1" });
        expect(await predict(replica.url)).toMatchObject({ status: 200, body: { version: "v1" } });
      }
      expect(runtime.observe(set.id)).toMatchObject({ desired: 2, ready: 2, failing: false, consecutiveFailures: 0 });

      runtime.setDesired(set, 1);
      await eventually("one replica left", () => runtime.observe(set.id).replicas.filter((replica) => replica.state !== "stopped").length === 1, goneTimeoutMs);
      expect(runtime.readyReplicas(set.id)).toHaveLength(1);
    });

    it("passes env and secrets to the replica, sets PORT, and keeps other sets apart", { timeout: testTimeout }, async () => {
      const runtime = await newRuntime();
      const staging = spec({ env: { ENVIRONMENT: "staging", REGION: "eu" }, secrets: { API_TOKEN: "s-staging-token" } });
      const production = spec({ env: { ENVIRONMENT: "production" }, secrets: { API_TOKEN: "s-prod-token" } });
      runtime.setDesired(staging, 1);
      runtime.setDesired(production, 1);
      await readyCount(runtime, staging.id, 1);
      await readyCount(runtime, production.id, 1);
      const [stagingReplica] = runtime.readyReplicas(staging.id);
      const [productionReplica] = runtime.readyReplicas(production.id);
      expect(await getJson(`${stagingReplica!.url}/env/ENVIRONMENT`)).toMatchObject({ set: true, sha256: sha256("staging") });
      expect(await getJson(`${stagingReplica!.url}/env/REGION`)).toMatchObject({ set: true, sha256: sha256("eu") });
      expect(await getJson(`${stagingReplica!.url}/env/API_TOKEN`)).toMatchObject({ set: true, sha256: sha256("s-staging-token") });
      expect(await getJson(`${productionReplica!.url}/env/API_TOKEN`)).toMatchObject({ set: true, sha256: sha256("s-prod-token") });
      expect(await getJson(`${productionReplica!.url}/env/REGION`)).toMatchObject({ set: false });
      expect(await getJson(`${stagingReplica!.url}/env/PORT`)).toMatchObject({ set: true, sha256: sha256(new URL(stagingReplica!.url).port) });
    });

    it("replaces replicas new-first on a revision change, never below the desired ready count", { timeout: testTimeout }, async () => {
      const runtime = await newRuntime();
      const v1 = spec();
      runtime.setDesired(v1, 2);
      await readyCount(runtime, v1.id, 2);
      const oldIds = new Set(runtime.readyReplicas(v1.id).map((replica) => replica.id));
      let minimumReady = Number.POSITIVE_INFINITY;
      const sample = () => {
        minimumReady = Math.min(minimumReady, runtime.readyReplicas(v1.id).length);
      };
      const unsubscribe = runtime.onChange((id) => {
        if (id === v1.id) sample();
      });
      const poll = setInterval(sample, 10);
      try {
        runtime.setDesired({ ...v1, workload: fixtures.model("v2"), revision: "2" }, 2);
        await eventually(
          "only revision 2 replicas, 2 ready",
          () => {
            const replicas = runtime.observe(v1.id).replicas.filter((replica) => replica.state !== "stopped");
            return replicas.length === 2 && replicas.every((replica) => replica.revision === "2" && replica.state === "ready");
          },
          2 * readyTimeoutMs + goneTimeoutMs,
        );
      } finally {
        clearInterval(poll);
        unsubscribe();
      }
      expect(minimumReady).toBeGreaterThanOrEqual(2);
      const ready = runtime.readyReplicas(v1.id);
      expect(ready.some((replica) => oldIds.has(replica.id))).toBe(false);
      for (const replica of ready) expect(await predict(replica.url)).toMatchObject({ status: 200, body: { version: "v2" } });
    });

    it("reports a crash loop as failing with the replica's output, secrets redacted", { timeout: testTimeout }, async () => {
      const runtime = await newRuntime();
      const set = spec({ workload: fixtures.crashing(), secrets: { LEAKED_TOKEN: "hf_contract_secret_123" } });
      runtime.setDesired(set, 1);
      const failing = await eventually(
        "failing",
        () => {
          const observation = runtime.observe(set.id);
          return observation.failing && observation.lastError?.includes("boom") ? observation : undefined;
        },
        failingTimeoutMs,
      );
      expect(failing.consecutiveFailures).toBeGreaterThanOrEqual(1);
      expect(failing.ready).toBe(0);
      expect(failing.lastError).not.toContain("hf_contract_secret_123");
      expect(runtime.readyReplicas(set.id)).toHaveLength(0);

      // A working revision recovers the set.
      runtime.setDesired({ ...set, workload: fixtures.model("v1"), revision: "2" }, 1);
      await readyCount(runtime, set.id, 1);
      expect(runtime.observe(set.id)).toMatchObject({ failing: false, consecutiveFailures: 0 });
    });

    it("keeps a replica that never gets ready out of the ready set", { timeout: testTimeout }, async () => {
      const runtime = await newRuntime();
      const set = spec({ env: { MODEL_FAIL_READINESS: "1" } });
      runtime.setDesired(set, 1);
      await eventually("a replica started", () => runtime.observe(set.id).starting >= 1, readyTimeoutMs);
      const started = Date.now();
      // Its process answers, but not ready: it gets no traffic for as long as we look.
      while (Date.now() - started < Math.min(2_000, readyTimeoutMs / 2)) {
        expect(runtime.readyReplicas(set.id)).toHaveLength(0);
        expect(runtime.observe(set.id).ready).toBe(0);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    });

    it("removes a set with its replicas; stopAll stops every set", { timeout: testTimeout }, async () => {
      const runtime = await newRuntime();
      const first = spec();
      const second = spec();
      runtime.setDesired(first, 1);
      runtime.setDesired(second, 1);
      await readyCount(runtime, first.id, 1);
      await readyCount(runtime, second.id, 1);
      const [firstReplica] = runtime.readyReplicas(first.id);
      const [secondReplica] = runtime.readyReplicas(second.id);

      await runtime.remove(first.id);
      expect(runtime.observe(first.id)).toMatchObject({ desired: 0, ready: 0, replicas: [] });
      expect(runtime.readyReplicas(first.id)).toHaveLength(0);
      expect((await runtime.list()).map((set) => set.id)).not.toContain(first.id);
      await eventually("removed replica stops answering", async () => !(await answers(firstReplica!.url)), goneTimeoutMs);
      expect(runtime.readyReplicas(second.id)).toHaveLength(1);

      await runtime.stopAll();
      expect(runtime.readyReplicas(second.id)).toHaveLength(0);
      await eventually("every replica stops answering", async () => !(await answers(secondReplica!.url)), goneTimeoutMs);
      expect(() => runtime.setDesired(second, 1)).toThrow();
    });

    it("tells listeners of changes only, not of a repeated setDesired", { timeout: testTimeout }, async () => {
      const runtime = await newRuntime();
      const set = spec();
      const events: string[] = [];
      runtime.onChange((id) => {
        if (id === set.id) events.push(id);
      });
      runtime.setDesired(set, 1);
      await readyCount(runtime, set.id, 1);
      // Let late events of the start settle (a health check, a status update).
      await eventually(
        "no event for a while",
        async () => {
          const before = events.length;
          await new Promise((resolve) => setTimeout(resolve, 300));
          return events.length === before;
        },
        readyTimeoutMs,
      );
      const before = events.length;
      for (let call = 0; call < 5; call++) runtime.setDesired({ ...set, env: { ...set.env } }, 1);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(events.length).toBe(before);
      runtime.setDesired(set, 2);
      expect(events.length).toBeGreaterThan(before);
    });

    it("lists its sets; setDesired with the same id and revision adopts them without a restart", { timeout: testTimeout }, async () => {
      let runtime = await newRuntime();
      const set = spec();
      runtime.setDesired(set, 2);
      await readyCount(runtime, set.id, 2);
      const replicaIds = runtime.readyReplicas(set.id).map((replica) => replica.id).sort();
      if (options.reattach) {
        await runtime.detach();
        runtime = await newRuntime();
      }
      const listed = (await runtime.list()).find((existing) => existing.id === set.id);
      expect(listed).toMatchObject({ id: set.id, desired: 2, revision: "1", owner: set.owner });
      runtime.setDesired(set, 2);
      await readyCount(runtime, set.id, 2);
      expect(runtime.readyReplicas(set.id).map((replica) => replica.id).sort()).toEqual(replicaIds);
      expect(runtime.observe(set.id).replicas.filter((replica) => replica.state !== "stopped")).toHaveLength(2);
    });
  });
}
