import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ProcessRuntime } from "../../../engine/runtime/process/index.js";
import type { ProcessRuntimeOptions } from "../../../engine/runtime/process/index.js";
import {
  FAST_RUNTIME_OPTIONS,
  SENTIMENT_V2,
  eventually,
  getJson,
  processGroupAlive,
  sentimentSpec,
} from "./helpers.js";

const runtimes: ProcessRuntime[] = [];
function newRuntime(options: ProcessRuntimeOptions = {}): ProcessRuntime {
  const runtime = new ProcessRuntime({ ...FAST_RUNTIME_OPTIONS, ...options });
  runtimes.push(runtime);
  return runtime;
}
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stopAll()));
});

const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");

describe("ProcessRuntime", () => {
  it("scales up, passes env and secrets (not the engine's variables), scales down the newest, leaves no process", async () => {
    const runtime = newRuntime({ baseEnv: { ...process.env, MODELPLANE_API_KEY: "engine-only", CLOUD_TOKEN: "engine-cloud-token", LANG: "C.UTF-8" } });
    const spec = sentimentSpec({
      id: "dep-scale",
      env: { ENVIRONMENT: "staging" },
      secrets: { API_TOKEN: "s3cret-token" },
    });
    runtime.setDesired(spec, 2);
    expect(runtime.observe("dep-scale").desired).toBe(2);
    await eventually("2 ready replicas", () => runtime.observe("dep-scale").ready === 2);
    const replicas = runtime.readyReplicas("dep-scale");
    expect(new Set(replicas.map((replica) => replica.url)).size).toBe(2);

    const first = replicas[0]!;
    expect(await getJson(`${first.url}/env/API_TOKEN`)).toMatchObject({ set: true, sha256: sha256("s3cret-token") });
    expect(await getJson(`${first.url}/env/ENVIRONMENT`)).toMatchObject({ set: true, sha256: sha256("staging") });
    expect(await getJson(`${first.url}/env/PORT`)).toMatchObject({ sha256: sha256(new URL(first.url).port) });
    expect(await getJson(`${first.url}/env/MODELPLANE_API_KEY`)).toMatchObject({ set: false });
    // an allow-list, not a deny-list: any other engine variable stays with the engine
    expect(await getJson(`${first.url}/env/CLOUD_TOKEN`)).toMatchObject({ set: false });
    expect(await getJson(`${first.url}/env/LANG`)).toMatchObject({ set: true, sha256: sha256("C.UTF-8") });

    const [oldest, newest] = [...replicas].sort((a, b) => a.startedAt - b.startedAt);
    runtime.setDesired(spec, 1);
    await eventually("1 replica left", () => runtime.observe("dep-scale").replicas.length === 1);
    expect(runtime.observe("dep-scale").replicas[0]!.id).toBe(oldest!.id);
    await eventually("scaled-down process gone", () => !processGroupAlive(newest!.pid!));

    await runtime.stopAll();
    await eventually("all processes gone", () => !processGroupAlive(oldest!.pid!));
  });

  it("replaces a ready replica that crashes", async () => {
    const runtime = newRuntime();
    runtime.setDesired(sentimentSpec({ id: "dep-crash", env: { MODEL_CRASH_AFTER_MS: "700" } }), 1);
    const first = await eventually("first ready", () => runtime.readyReplicas("dep-crash")[0]);
    const second = await eventually("a replacement ready", () =>
      runtime.readyReplicas("dep-crash").find((replica) => replica.id !== first.id),
    );
    expect(second.pid).not.toBe(first.pid);
    await eventually("crashed replica's group gone", () => !processGroupAlive(first.pid!));
  });

  it("reports a crash loop with the last output, secrets redacted, and keeps retrying", async () => {
    const runtime = newRuntime({ crashLoopThreshold: 3 });
    const script = "console.log('loading with token ' + process.env.HF_TOKEN); console.error('boom: weights missing'); process.exit(1)";
    runtime.setDesired(
      sentimentSpec({
        id: "dep-loop",
        command: [process.execPath, "-e", script],
        secrets: { HF_TOKEN: "hf_abcdef123456" },
      }),
      1,
    );
    const failing = await eventually("failing", () => {
      const observation = runtime.observe("dep-loop");
      return observation.failing ? observation : undefined;
    });
    expect(failing.consecutiveFailures).toBeGreaterThanOrEqual(3);
    expect(failing.lastError).toContain("exited with code 1");
    expect(failing.lastError).toContain("boom: weights missing");
    expect(failing.lastError).toContain("loading with token [REDACTED]");
    expect(failing.lastError).not.toContain("hf_abcdef123456");
    // Still retrying (with back-off) while failing: a fixed deployment may recover.
    await eventually("more attempts", () => runtime.observe("dep-loop").consecutiveFailures >= 5);

    // A new revision that works recovers the deployment.
    runtime.setDesired(sentimentSpec({ id: "dep-loop", revision: "2" }), 1);
    await eventually("recovered", () => runtime.observe("dep-loop").ready === 1);
    expect(runtime.observe("dep-loop")).toMatchObject({ failing: false, consecutiveFailures: 0 });
  });

  it("a replica's last output is its own: the supervisor adds no 'Killed' line when it exits", async () => {
    // The supervisor's own "Killed" (reaping its guard) raced the replica's exit: it ended about
    // half of these failure reports before. 20 deployments failing once each, in parallel.
    const runtime = newRuntime({ crashLoopThreshold: 1, backoffInitialMs: 60_000 });
    const ids = Array.from({ length: 20 }, (_, index) => `dep-exit-3-${index}`);
    for (const id of ids) {
      runtime.setDesired(sentimentSpec({ id, command: ["/bin/sh", "-c", "echo model weights missing >&2; exit 3"] }), 1);
    }
    const errors = await eventually("all failed", () => {
      const observed = ids.map((id) => runtime.observe(id));
      return observed.every((observation) => observation.failing) ? observed.map((observation) => observation.lastError ?? "") : undefined;
    });
    for (const error of errors) {
      expect(error).toContain("exited with code 3");
      expect(error.trimEnd().split("\n").at(-1)).toBe("model weights missing");
    }
  });

  it("restarts on a new port at once when the port was taken before the replica bound it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "modelplane-port-"));
    const startsLog = join(dir, "starts");
    try {
      const runtime = newRuntime({ crashLoopThreshold: 1, backoffInitialMs: 5_000 });
      // Always "loses the race" for its port: retried on a new port 3 times without back-off,
      // then counted as an ordinary failure.
      const script = `require("fs").appendFileSync(${JSON.stringify(startsLog)}, process.env.PORT + "\\n"); console.error("Error: listen EADDRINUSE: address already in use"); process.exit(1)`;
      runtime.setDesired(sentimentSpec({ id: "dep-port", command: [process.execPath, "-e", script] }), 1);
      const failing = await eventually("failing", () => {
        const observation = runtime.observe("dep-port");
        return observation.failing ? observation : undefined;
      });
      expect(failing.consecutiveFailures).toBe(1);
      expect(failing.lastError).toContain("EADDRINUSE");
      const ports = readFileSync(startsLog, "utf8").trim().split("\n");
      expect(ports).toHaveLength(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails a replica that never becomes ready; the deployment fails after crashLoopThreshold starts in a row, and says so", async () => {
    const runtime = newRuntime({ startupTimeoutMs: 3000, crashLoopThreshold: 2 });
    runtime.setDesired(sentimentSpec({ id: "dep-unready", env: { MODEL_FAIL_READINESS: "1" } }), 1);
    const failing = await eventually("failing", () => {
      const observation = runtime.observe("dep-unready");
      return observation.failing ? observation : undefined;
    });
    // 2 when observed at once; a later observation may already see the next start fail too
    const inARow = /^replica not ready after 3 s \(GET \/health never answered 200\) \((\d+) failed starts in a row\); last output:/.exec(failing.lastError ?? "");
    expect(Number(inARow?.[1]), failing.lastError).toBeGreaterThanOrEqual(2);
    expect(failing.lastError).toContain("listening on");
    expect(failing.ready).toBe(0);
  });

  it("replaces every replica on a revision change, new ones first, without losing capacity", async () => {
    const runtime = newRuntime();
    runtime.setDesired(sentimentSpec({ id: "dep-rev", revision: "a" }), 2);
    await eventually("2 ready on a", () => runtime.observe("dep-rev").ready === 2);
    const oldPids = runtime.readyReplicas("dep-rev").map((replica) => replica.pid!);

    let minimumReady = Number.POSITIVE_INFINITY;
    runtime.onChange((deploymentId) => {
      if (deploymentId === "dep-rev") minimumReady = Math.min(minimumReady, runtime.readyReplicas("dep-rev").length);
    });
    runtime.setDesired(sentimentSpec({ id: "dep-rev", revision: "b", command: [process.execPath, SENTIMENT_V2] }), 2);
    await eventually("only revision b left", () => {
      const observation = runtime.observe("dep-rev");
      return observation.replicas.length === 2 && observation.replicas.every((r) => r.revision === "b" && r.state === "ready");
    });
    expect(minimumReady).toBeGreaterThanOrEqual(2);
    for (const pid of oldPids) await eventually(`old pid ${pid} gone`, () => !processGroupAlive(pid));
    const replica = runtime.readyReplicas("dep-rev")[0]!;
    const response = await fetch(`${replica.url}/predict`, { method: "POST", body: JSON.stringify({ text: "great" }) });
    expect(await response.json()).toMatchObject({ version: "v2" });
  });

  it("drains a replica until the router has no request in flight on it", async () => {
    const inFlight = new Map<string, number>();
    const runtime = newRuntime({ inFlight: { inFlight: (replicaId) => inFlight.get(replicaId) ?? 0 } });
    const spec = sentimentSpec({ id: "dep-drain" });
    runtime.setDesired(spec, 1);
    const replica = await eventually("ready", () => runtime.readyReplicas("dep-drain")[0]);
    inFlight.set(replica.id, 1);
    runtime.setDesired(spec, 0);
    expect(runtime.observe("dep-drain").replicas[0]?.state).toBe("draining");
    expect(runtime.readyReplicas("dep-drain")).toHaveLength(0);
    // Several drain polls later it is still there, because a request is still in flight.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(processGroupAlive(replica.pid!)).toBe(true);
    inFlight.set(replica.id, 0);
    await eventually("stopped", () => runtime.observe("dep-drain").replicas.length === 0);
    expect(processGroupAlive(replica.pid!)).toBe(false);
  });

  it("kills the whole process group, grandchildren included, on close and on SIGTERM-ignoring replicas", async () => {
    const runtime = newRuntime({ stopGracePeriodMs: 300 });
    // A shell wrapper that forks the model and ignores SIGTERM itself: only a group kill stops all.
    const wrapper = `trap '' TERM; "${process.execPath}" "${SENTIMENT_V2}" & wait`;
    runtime.setDesired(sentimentSpec({ id: "dep-group", command: ["sh", "-c", wrapper] }), 1);
    const replica = await eventually("ready", () => runtime.readyReplicas("dep-group")[0]);
    await runtime.stopAll();
    expect(processGroupAlive(replica.pid!)).toBe(false);
    expect(runtime.observe("dep-group").replicas).toHaveLength(0);
  });

  it("kills every replica group synchronously from the engine's 'exit' handler", async () => {
    const runtime = newRuntime();
    expect(process.listeners("exit")).toContain(runtime.killAllNow);
    runtime.setDesired(sentimentSpec({ id: "dep-exit" }), 2);
    await eventually("2 ready", () => runtime.observe("dep-exit").ready === 2);
    const pids = runtime.readyReplicas("dep-exit").map((replica) => replica.pid!);
    runtime.killAllNow();
    for (const pid of pids) await eventually(`pid ${pid} gone`, () => !processGroupAlive(pid));
    await runtime.stopAll();
    expect(process.listeners("exit")).not.toContain(runtime.killAllNow);
  });

  it("tells listeners of a changed count or spec only, not of a repeated setDesired", async () => {
    // The promotion reconciler sets counts on every pass and is woken by these events: an event
    // per call made it pass back to back for a whole rollout.
    const runtime = newRuntime();
    const spec = sentimentSpec({ id: "dep-quiet" });
    const events: string[] = [];
    runtime.onChange((deploymentId) => events.push(deploymentId));
    runtime.setDesired(spec, 0);
    expect(events).toEqual(["dep-quiet"]);
    // (at 0 replicas nothing else happens that would tell listeners anything)
    runtime.setDesired(spec, 0);
    runtime.setDesired(spec, 0);
    expect(events).toHaveLength(1);
    const revised = { ...spec, revision: "2" };
    runtime.setDesired(revised, 0);
    expect(events).toHaveLength(2);
    runtime.setDesired(revised, 0);
    expect(events).toHaveLength(2);
    runtime.setDesired(revised, 1);
    expect(events.length).toBeGreaterThan(2);
  });

  it("remove() stops and forgets a deployment", async () => {
    const runtime = newRuntime();
    runtime.setDesired(sentimentSpec({ id: "dep-remove" }), 1);
    const replica = await eventually("ready", () => runtime.readyReplicas("dep-remove")[0]);
    await runtime.remove("dep-remove");
    expect(processGroupAlive(replica.pid!)).toBe(false);
    expect(runtime.observe("dep-remove")).toMatchObject({ desired: 0, replicas: [] });
  });
});
