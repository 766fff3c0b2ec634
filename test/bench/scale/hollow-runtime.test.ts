/**
 * The hollow runtime of bench/scale keeps the Runtime port's bookkeeping, so the engine it runs
 * behaves as with real replicas: counts converge over time, a revision change replaces replicas
 * new-first, draining waits for in-flight requests, listeners hear of changes only. (It cannot pass
 * the contract suite of test/engine/runtime: its replicas answer nothing, by design.)
 */
import { afterEach, describe, expect, it } from "vitest";
import { HollowRuntime } from "../../../bench/scale/hollow-runtime.js";
import type { ReplicaSetSpec } from "../../../engine/runtime/runtime.js";
import { eventually } from "../../engine/runtime/helpers.js";

const runtimes: HollowRuntime[] = [];
function newRuntime(options: ConstructorParameters<typeof HollowRuntime>[0] = {}): HollowRuntime {
  const runtime = new HollowRuntime({ readyAfterMs: 30, stopAfterMs: 5, ...options });
  runtimes.push(runtime);
  return runtime;
}
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stopAll()));
});

let sequence = 0;
function spec(overrides: Partial<ReplicaSetSpec> = {}): ReplicaSetSpec {
  const id = `dep_hollow${++sequence}.production`;
  return {
    id,
    owner: { modelId: "mdl_hollow", modelName: "hollow", deploymentId: `dep_hollow${sequence}`, deploymentName: "d", environment: "production" },
    workload: { kind: "container", image: "localhost/anything:v1", port: 8080 },
    env: {},
    secrets: {},
    readinessPath: "/health",
    revision: "1",
    ...overrides,
  };
}

const live = (runtime: HollowRuntime, id: string) => runtime.observe(id).replicas.filter((replica) => replica.state !== "stopped");

describe("HollowRuntime", () => {
  it("starts replicas at once, makes them ready after the delay at URLs that never resolve, and scales down", async () => {
    const runtime = newRuntime();
    const set = spec();
    runtime.setDesired(set, 3);
    expect(runtime.observe(set.id)).toMatchObject({ desired: 3, ready: 0, starting: 3, failing: false });
    expect(runtime.readyReplicas(set.id)).toHaveLength(0);
    await eventually("3 ready", () => runtime.observe(set.id).ready === 3);
    const ready = runtime.readyReplicas(set.id);
    expect(new Set(ready.map((replica) => replica.url)).size).toBe(3);
    for (const replica of ready) expect(new URL(replica.url).hostname).toMatch(/\.invalid$/);

    runtime.setDesired(set, 1);
    // The two removed go draining at once: no longer ready, gone shortly after.
    expect(runtime.observe(set.id).ready).toBe(1);
    await eventually("one replica left", () => live(runtime, set.id).length === 1);
    expect(runtime.observe(set.id)).toMatchObject({ desired: 1, ready: 1, starting: 0 });
  });

  it("replaces replicas new-first on a revision change: never fewer ready than desired", async () => {
    const runtime = newRuntime();
    const v1 = spec({ maxSurgePercent: 50 });
    runtime.setDesired(v1, 2);
    await eventually("2 ready", () => runtime.observe(v1.id).ready === 2);
    let minimumReady = Number.POSITIVE_INFINITY;
    let maximumLive = 0;
    const unsubscribe = runtime.onChange(() => {
      minimumReady = Math.min(minimumReady, runtime.readyReplicas(v1.id).length);
      maximumLive = Math.max(maximumLive, live(runtime, v1.id).filter((replica) => replica.state !== "draining").length);
    });
    runtime.setDesired({ ...v1, revision: "2" }, 2);
    await eventually("only revision 2, 2 ready", () => {
      const replicas = live(runtime, v1.id);
      return replicas.length === 2 && replicas.every((replica) => replica.revision === "2" && replica.state === "ready");
    });
    unsubscribe();
    expect(minimumReady).toBeGreaterThanOrEqual(2);
    // 50 % surge of 2: one extra replica at a time.
    expect(maximumLive).toBeLessThanOrEqual(3);
  });

  it("keeps a draining replica until its in-flight requests are done", async () => {
    const inFlight = new Map<string, number>();
    const runtime = newRuntime({ inFlight: { inFlight: (replicaId) => inFlight.get(replicaId) ?? 0 } });
    const set = spec();
    runtime.setDesired(set, 1);
    await eventually("1 ready", () => runtime.observe(set.id).ready === 1);
    const [replica] = runtime.readyReplicas(set.id);
    inFlight.set(replica!.id, 1);
    runtime.setDesired(set, 0);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(live(runtime, set.id).map((each) => each.state)).toEqual(["draining"]);
    inFlight.set(replica!.id, 0);
    await eventually("gone", () => live(runtime, set.id).length === 0);
  });

  it("tells listeners of changes only, not of a repeated setDesired", async () => {
    const runtime = newRuntime();
    const set = spec();
    const events: string[] = [];
    runtime.onChange((id) => events.push(id));
    runtime.setDesired(set, 1);
    await eventually("1 ready", () => runtime.observe(set.id).ready === 1);
    const before = events.length;
    for (let call = 0; call < 5; call++) runtime.setDesired({ ...set, env: { ...set.env } }, 1);
    expect(events.length).toBe(before);
    runtime.setDesired(set, 2);
    expect(events.length).toBeGreaterThan(before);
  });

  it("lists and removes sets; stopAll ends the runtime", async () => {
    const runtime = newRuntime();
    const first = spec();
    const second = spec();
    runtime.setDesired(first, 1);
    runtime.setDesired(second, 2);
    expect((await runtime.list()).map((set) => [set.id, set.desired])).toEqual([
      [first.id, 1],
      [second.id, 2],
    ]);
    await runtime.remove(first.id);
    expect(runtime.observe(first.id)).toMatchObject({ desired: 0, ready: 0, replicas: [] });
    expect((await runtime.list()).map((set) => set.id)).toEqual([second.id]);
    await runtime.stopAll();
    expect(runtime.readyReplicas(second.id)).toHaveLength(0);
    expect(runtime.replicaCount).toBe(0);
    expect(() => runtime.setDesired(second, 1)).toThrow(/closed/);
  });
});
