/**
 * What happens to the previous deployment after a promotion (cleanup strategies) and rollback,
 * end to end with real replicas: SCALE_TO_ZERO (scaled to 0, a request to its own endpoint wakes
 * it), KEEP (still running, so a rollback is quick), DEACTIVATE (inactive, predict answers 404).
 * Runs on processes, and on Kubernetes pods as the `kubernetes` vitest project.
 */
import { randomUUID } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad, startTestEngine, waitFor, type TestEngine } from "../../testing/index.js";
import { ENGINE_OPTIONS, expectNoFailures, followPromotion, modelOnV1, predict } from "./promotion-support.js";
import { runtimeUnderTest } from "./runtime-under-test.js";

const runtime = runtimeUnderTest();
let engine: TestEngine;

beforeAll(async () => {
  if (runtime.skipReason !== undefined) return;
  engine = await startTestEngine({ ...ENGINE_OPTIONS, wakeTimeoutMs: 30_000, ...(await runtime.engineOptions("cleanup")) });
});
afterAll(async () => {
  await engine?.close();
  await runtime.cleanup();
});

async function deploymentOf(modelId: string, deploymentId: string) {
  return engine.client.call("getDeployment", { params: { model_id: modelId, deployment_id: deploymentId } });
}

describe.skipIf(runtime.skipReason !== undefined)(`cleanup of the previous deployment (${runtime.name}${runtime.skipReason ? `: ${runtime.skipReason}` : ""})`, () => {
  it("SCALE_TO_ZERO (default): the previous scales to 0 and stays there; a request to its endpoint wakes it", async () => {
    const { model, params, v1, v2, deploymentUrl } = await modelOnV1(engine, "scale-to-zero", 2);
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: v2.id } });
    expect((await followPromotion(engine, model.id, promotion.id)).final.status).toBe("SUCCEEDED");
    await waitFor(async () => {
      const previous = await deploymentOf(model.id, v1.id);
      return previous.status === "SCALED_TO_ZERO" && previous.replicas.ready === 0 && previous.replicas.starting === 0;
    }, { timeoutMs: 30_000, message: "v1 scaled to zero" });
    // It must stay at zero: the autoscaler (ticking every second) must not bring it back to the
    // environment's min_replica. Asserting an absence needs a window, hence this one wait.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const later = await deploymentOf(model.id, v1.id);
    expect({ desired: later.replicas.desired, status: later.status }).toEqual({ desired: 0, status: "SCALED_TO_ZERO" });
    const wakeStartedAt = Date.now();
    const woken = await predict(deploymentUrl(v1.id));
    expect(woken.status).toBe(200);
    expect(woken.deploymentId).toBe(v1.id);
    expect(woken.body.version).toBe("v1");
    console.log(`SCALE_TO_ZERO: first request to the scaled-to-zero previous deployment answered after ${Date.now() - wakeStartedAt} ms`);
    // production is untouched by the wake-up
    expect((await engine.client.call("getEnvironment", { params })).current_deployment?.id).toBe(v2.id);
  });

  it("SCALE_TO_ZERO under load after a rolling deploy: no request reaches the previous once SUCCEEDED, it is at 0 replicas within 10 s and stays there", async () => {
    // The previous replicas write down every prediction they serve: what really reached them,
    // whatever the router's headers say. (Kubernetes pods cannot write to this machine's files.)
    const requestLog = join(tmpdir(), `modelplane-cleanup-${randomUUID()}.log`);
    const { model, params, v1, v2, url } = await modelOnV1(
      engine,
      "scale-to-zero-load",
      2,
      { rolling_deploy: true, rolling_deploy_config: { max_surge_percent: 50, max_unavailable_percent: 0, stabilization_time_seconds: 1 } },
      runtime.name === "process" ? { v1Env: { MODEL_REQUEST_LOG: requestLog } } : {},
    );
    try {
      const load = startLoad({ apiKey: engine.apiKey, url, concurrency: 8 });
      await waitFor(() => load.snapshot().succeeded >= 50, { message: "load on v1" });
      const promotion = await engine.client.call("promote", { params, body: { deployment_id: v2.id } });
      const { final } = await followPromotion(engine, model.id, promotion.id);
      const succeededSeenAt = Date.now();
      const mark = load.snapshot().durationMs;
      expect(final.status).toBe("SUCCEEDED");
      const zeroAt = await waitFor(async () => {
        const previous = await deploymentOf(model.id, v1.id);
        return previous.replicas.desired === 0 && previous.replicas.ready === 0 && previous.replicas.starting === 0 ? Date.now() : undefined;
      }, { timeoutMs: 10_000, intervalMs: 100, message: "v1 at 0 replicas" });
      // Still under load, it must stay at 0: the environment's traffic is v2's now, so nothing may
      // wake v1 (it did ~1 s later, from the load the autoscaler had seen on it during the
      // promotion). Asserting an absence needs a window: 5 s, polled.
      const statuses = new Set<string>();
      const windowEnd = Date.now() + 5_000;
      await waitFor(async () => {
        const previous = await deploymentOf(model.id, v1.id);
        statuses.add(`${previous.status} desired ${previous.replicas.desired}`);
        return Date.now() > windowEnd;
      }, { timeoutMs: 10_000, intervalMs: 200 });
      const report = await load.stop();
      expectNoFailures(report);
      expect([...statuses]).toEqual(["SCALED_TO_ZERO desired 0"]);
      // every answer to a request sent after SUCCEEDED was seen came from v2 …
      const after = report.responses.filter((response) => response.at > mark);
      expect(after.length).toBeGreaterThan(50);
      expect(after.filter((response) => response.deploymentId !== v2.id)).toEqual([]);
      // … and, by v1's own account, no request reached it once SUCCEEDED was seen
      if (runtime.name === "process") {
        const served = (await readFile(requestLog, "utf8")).trim().split("\n").map((line) => Number(line.split(" ")[0]));
        expect(served.length).toBeGreaterThan(50);
        expect(served.filter((at) => at > succeededSeenAt)).toEqual([]);
        const finishedAt = Date.parse(final.finished_at!);
        console.log(
          `SCALE_TO_ZERO under load: v1 at 0 replicas ${zeroAt - succeededSeenAt} ms after SUCCEEDED was seen; ` +
            `v1 served ${served.length} predictions, the last ${finishedAt - Math.max(...served)} ms before finished_at; ${after.length} answers after, all from v2`,
        );
      }
    } finally {
      await rm(requestLog, { force: true });
    }
  });

  it("KEEP: the previous keeps its replicas; rollback promotes it again, quickly because it is warm", async () => {
    const { model, params, v1, v2, url } = await modelOnV1(engine, "keep", 2, { promotion_cleanup_strategy: "KEEP" });
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: v2.id } });
    expect((await followPromotion(engine, model.id, promotion.id)).final.status).toBe("SUCCEEDED");
    const environment = await engine.client.call("getEnvironment", { params });
    expect(environment.current_deployment?.id).toBe(v2.id);
    const kept = await deploymentOf(model.id, v1.id);
    expect(kept.status).toBe("ACTIVE");
    expect(kept.replicas.ready).toBe(2);

    const load = startLoad({ apiKey: engine.apiKey, url, concurrency: 4 });
    await waitFor(() => load.snapshot().succeeded >= 20, { message: "load to start" });
    const rollbackStartedAt = Date.now();
    const rollback = await engine.client.call("rollback", { params, body: {} });
    expect(rollback.deployment_id).toBe(v1.id);
    expect(rollback.previous_deployment_id).toBe(v2.id);
    const { final } = await followPromotion(engine, model.id, rollback.id);
    const rollbackMs = Date.now() - rollbackStartedAt;
    const mark = load.snapshot().durationMs;
    await waitFor(() => load.snapshot().responses.filter((r) => r.at > mark + 200).length >= 30, { message: "answers after the rollback" });
    const report = await load.stop();
    expect(final.status).toBe("SUCCEEDED");
    expectNoFailures(report);
    expect(report.responses.filter((r) => r.at > mark + 200).every((r) => r.deploymentId === v1.id)).toBe(true);
    expect((await engine.client.call("getEnvironment", { params })).current_deployment?.id).toBe(v1.id);
    // warm: no replica had to start, so the rollback is a single pass
    expect(rollbackMs).toBeLessThan(3_000);
    // and the deployment rolled back from is itself kept (KEEP applies to every promotion)
    expect((await deploymentOf(model.id, v2.id)).replicas.ready).toBe(2);
    console.log(`rollback to a KEEP-warm previous deployment: ${rollbackMs} ms`);
  });

  it("rollback of an environment with no previous deployment is a 409", async () => {
    const model = await engine.client.call("createModel", { body: { name: "no-previous" } });
    await expect(engine.client.call("rollback", { params: { model_id: model.id, env_name: "production" }, body: {} })).rejects.toThrow(/no previous deployment/);
  });

  it("DEACTIVATE: the previous becomes INACTIVE, its replicas stop, its predict answers 404", async () => {
    const { model, params, v1, v2, url, deploymentUrl } = await modelOnV1(engine, "deactivate", 2, { promotion_cleanup_strategy: "DEACTIVATE" });
    expect((await predict(deploymentUrl(v1.id))).status).toBe(200);
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: v2.id } });
    expect((await followPromotion(engine, model.id, promotion.id)).final.status).toBe("SUCCEEDED");
    await waitFor(async () => {
      const previous = await deploymentOf(model.id, v1.id);
      return previous.status === "INACTIVE" && previous.active === false && previous.replicas.ready === 0 && previous.replicas.starting === 0;
    }, { timeoutMs: 30_000, message: "v1 inactive with no replicas" });
    expect(engine.engine.dataPlane.runtime.observe(v1.id).replicas.filter((r) => r.state !== "stopped")).toEqual([]);
    const answer = await predict(deploymentUrl(v1.id));
    expect(answer.status).toBe(404);
    expect((await predict(url)).deploymentId).toBe(v2.id);
    // promoting it again needs an activation first: the 409 says so
    await expect(engine.client.call("promote", { params, body: { deployment_id: v1.id } })).rejects.toThrow(new RegExp(`deployment ${v1.name} \\(${v1.id}\\) is inactive; activate it first`));
    // and rollback goes through the same rule
    await expect(engine.client.call("rollback", { params, body: {} })).rejects.toThrow(/activate/);
  });
});
