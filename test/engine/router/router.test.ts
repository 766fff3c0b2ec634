import { createHash, randomBytes } from "node:crypto";
import { request as httpRequest, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { InFlightCounts, createRouter, DEPLOYMENT_ID_HEADER, RoutingTable, type Router } from "../../../engine/router/index.js";
import { ProcessRuntime } from "../../../engine/runtime/process/index.js";
import { replicaSetId } from "../../../engine/runtime/runtime.js";
import { FAST_RUNTIME_OPTIONS, SENTIMENT_V2, eventually, sentimentSpec } from "../runtime/helpers.js";
import { ALLOW_EVERY_CALLER, StaticReplicas, engineServer, listen, stop } from "./helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track<T extends Router | ProcessRuntime>(closable: T): T {
  cleanups.push(() => ("stopAll" in closable ? closable.stopAll() : closable.close()));
  return closable;
}
async function serve(router: Router): Promise<string> {
  const { url, close } = await engineServer(router);
  cleanups.push(close);
  return url;
}
async function upstream(handler: Parameters<typeof listen>[0]): Promise<{ server: Server; url: string }> {
  const started = await listen(handler);
  cleanups.push(() => stop(started.server));
  return started;
}

const predict = (url: string, text = "great stuff") =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text }) });

describe("router with process replicas", () => {
  it("splits an environment by percentToCandidate, names the deployment, and answers 404s", async () => {
    const inFlight = new InFlightCounts();
    const runtime = track(new ProcessRuntime({ ...FAST_RUNTIME_OPTIONS, inFlight }));
    const table = new RoutingTable();
    const router = track(createRouter({ table, runtime, inFlight, authorize: ALLOW_EVERY_CALLER }));
    const url = await serve(router);

    table.setDeployment("m1", "dep-v1", { active: true, predictPath: "/predict", isDevelopment: false });
    table.setDeployment("m1", "dep-v2", { active: true, predictPath: "/predict", isDevelopment: false });
    table.setEnvironment("m1", "production", { currentDeploymentId: "dep-v1", candidateDeploymentId: "dep-v2", percentToCandidate: 30 });
    table.setEnvironment("m1", "staging", { currentDeploymentId: null, candidateDeploymentId: null, percentToCandidate: 0 });
    // production's traffic reaches the deployments' production sets; the per-deployment endpoint their own sets
    const [v1Production, v2Production] = [replicaSetId("dep-v1", "production"), replicaSetId("dep-v2", "production")];
    runtime.setDesired(sentimentSpec({ id: v1Production, env: { ENVIRONMENT: "production" } }), 1);
    runtime.setDesired(sentimentSpec({ id: v2Production, command: [process.execPath, SENTIMENT_V2], env: { ENVIRONMENT: "production" } }), 1);
    runtime.setDesired(sentimentSpec({ id: "dep-v2", command: [process.execPath, SENTIMENT_V2] }), 1);
    await eventually("all ready", () => runtime.observe(v1Production).ready === 1 && runtime.observe(v2Production).ready === 1 && runtime.observe("dep-v2").ready === 1);

    const single = await predict(`${url}/models/m1/deployment/dep-v2/predict`, "not good");
    expect(single.status).toBe(200);
    expect(single.headers.get(DEPLOYMENT_ID_HEADER)).toBe("dep-v2");
    expect(await single.json()).toMatchObject({ label: "negative", version: "v2", environment: null });

    // 400 requests at 30 %: mean 120, standard deviation 9.2; ±40 is over 4 standard deviations.
    const requests = 400;
    let toCandidate = 0;
    for (let batch = 0; batch < requests / 20; batch++) {
      const responses = await Promise.all(Array.from({ length: 20 }, () => predict(`${url}/models/m1/production/predict`)));
      for (const response of responses) {
        const body = (await response.json()) as { version: string };
        const deploymentId = response.headers.get(DEPLOYMENT_ID_HEADER);
        expect(body.version).toBe(deploymentId === "dep-v2" ? "v2" : "v1");
        if (deploymentId === "dep-v2") toCandidate++;
      }
    }
    expect(Math.abs(toCandidate - 120)).toBeLessThanOrEqual(40);

    const notFound = async (path: string, message: string) => {
      const response = await predict(`${url}${path}`);
      expect(response.status).toBe(404);
      const body = (await response.json()) as { error: { code: string; message: string; details: object } };
      expect(body).toEqual({ error: { code: "NOT_FOUND", message: expect.stringContaining(message), details: {} } });
    };
    await notFound("/models/nope/production/predict", 'model "nope" not found');
    await notFound("/models/m1/environments/qa/predict", 'environment "qa"');
    await notFound("/models/m1/environments/staging/predict", "has no deployment yet");
    await notFound("/models/m1/deployment/dep-9/predict", 'deployment "dep-9"');
    await notFound("/models/m1/development/predict", "no development deployment");
    table.setDeployment("m1", "dep-v1", { active: false, predictPath: "/predict", isDevelopment: false });
    await notFound("/models/m1/deployment/dep-v1/predict", "inactive");
    table.removeDeployment("m1", "dep-v2");
    await notFound("/models/m1/deployment/dep-v2/predict", "not found");

    const notDataPlane = await fetch(`${url}/v1/models`);
    expect(notDataPlane.status).toBe(418);
    const wrongMethod = await fetch(`${url}/models/m1/production/predict`);
    expect(wrongMethod.status).toBe(405);
  });

  it("wakes a deployment scaled to zero and holds the request until a replica is ready", async () => {
    const runtime = track(new ProcessRuntime(FAST_RUNTIME_OPTIONS));
    const table = new RoutingTable();
    const spec = sentimentSpec({ id: "dev-1", env: { MODEL_STARTUP_DELAY_MS: "300" } });
    const woken: string[] = [];
    const router = track(createRouter({ table, runtime, authorize: ALLOW_EVERY_CALLER }));
    router.onWake((deploymentId) => {
      woken.push(deploymentId);
      runtime.setDesired(spec, 1);
    });
    const arrivals: string[] = [];
    router.onArrival((setId) => arrivals.push(setId));
    const url = await serve(router);
    table.setDeployment("m2", "dev-1", { active: true, predictPath: "/predict", isDevelopment: true });
    expect(runtime.observe("dev-1").ready).toBe(0);

    const responsePromise = predict(`${url}/models/m2/development/predict`);
    await eventually("held request counted as load", () => router.inFlightForSet("dev-1") === 1);
    const response = await responsePromise;
    expect(response.status).toBe(200);
    expect(response.headers.get(DEPLOYMENT_ID_HEADER)).toBe("dev-1");
    expect(woken).toEqual(["dev-1"]);
    expect(router.requestsForSet("dev-1")).toBe(1);
    // told as it arrived (the autoscaler wakes a resting set on it)
    expect(arrivals).toEqual(["dev-1"]);
    await eventually("no longer in flight", () => router.inFlightForSet("dev-1") === 0);
  });

  it("answers 503 when a woken deployment has no ready replica in time", async () => {
    const table = new RoutingTable();
    const router = track(createRouter({ table, runtime: new StaticReplicas(), wakeTimeoutMs: 200, authorize: ALLOW_EVERY_CALLER }));
    const url = await serve(router);
    table.setDeployment("m3", "d", { active: true, predictPath: "/predict", isDevelopment: false });
    const response = await predict(`${url}/models/m3/deployment/d/predict`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: "UNAVAILABLE" } });
  });
});

describe("router: an environment request held for a set a promotion took away", () => {
  it("is routed again to what serves the environment now, instead of waiting for the set it was held for", async () => {
    const replica = await upstream((_req, res) => res.end(JSON.stringify({ served: "v2" })));
    const replicas = new StaticReplicas();
    const table = new RoutingTable();
    const woken: string[] = [];
    const router = track(createRouter({ table, runtime: replicas, authorize: ALLOW_EVERY_CALLER, wakeTimeoutMs: 30_000 }));
    router.onWake((setId) => woken.push(setId));
    const url = await serve(router);
    table.setDeployment("m", "v1", { active: true, predictPath: "/predict", isDevelopment: false });
    table.setDeployment("m", "v2", { active: true, predictPath: "/predict", isDevelopment: false });
    // production still routes to v1, whose production set a promotion has scaled to 0
    table.setEnvironment("m", "production", { currentDeploymentId: "v1", candidateDeploymentId: null, percentToCandidate: 0 });
    const responsePromise = predict(`${url}/models/m/production/predict`);
    await eventually("request held for v1's production set", () => router.inFlightForSet(replicaSetId("v1", "production")) === 1);
    expect(woken).toEqual([replicaSetId("v1", "production")]);
    // the promotion ends: production moves to v2, v1's production set is removed (no replica, none asked for)
    replicas.set(replicaSetId("v2", "production"), [replica.url]);
    table.setEnvironment("m", "production", { currentDeploymentId: "v2", candidateDeploymentId: null, percentToCandidate: 0 });
    replicas.set(replicaSetId("v1", "production"), []);
    const response = await responsePromise;
    expect(response.status).toBe(200);
    expect(response.headers.get(DEPLOYMENT_ID_HEADER)).toBe("v2");
    expect(await response.json()).toEqual({ served: "v2" });
  });
});

describe("router forwarding", () => {
  async function setup(replicaUrls: string[]) {
    const replicas = new StaticReplicas();
    replicas.set("d", replicaUrls);
    const table = new RoutingTable();
    table.setDeployment("m", "d", { active: true, predictPath: "/work", isDevelopment: false });
    const router = track(createRouter({ table, runtime: replicas, authorize: ALLOW_EVERY_CALLER }));
    const url = await serve(router);
    return { router, url: `${url}/models/m/deployment/d/predict` };
  }

  it("streams a 20 MB body both ways without buffering it", async () => {
    // The echo replica answers while the upload is still going on; the client sends the second
    // half only after the first echoed bytes came back. A buffering router would deadlock here.
    const echo = await upstream((req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      req.pipe(res);
    });
    const { url } = await setup([echo.url]);
    const chunk = randomBytes(1024 * 1024);
    const totalChunks = 20;
    const sent = createHash("sha256");
    const received = createHash("sha256");
    let receivedBytes = 0;
    await new Promise<void>((resolve, reject) => {
      const client = httpRequest(url, { method: "POST", headers: { "content-type": "application/octet-stream" } });
      client.on("error", reject);
      let chunksWritten = 0;
      const write = (count: number) => {
        for (let i = 0; i < count; i++, chunksWritten++) {
          sent.update(chunk);
          client.write(chunk);
        }
      };
      write(totalChunks / 2);
      client.on("response", (response) => {
        expect(response.headers[DEPLOYMENT_ID_HEADER]).toBe("d");
        response.on("data", (data: Buffer) => {
          received.update(data);
          receivedBytes += data.length;
          if (chunksWritten === totalChunks / 2 && receivedBytes >= chunk.length) {
            write(totalChunks / 2);
            client.end();
          }
        });
        response.on("end", resolve);
        response.on("error", reject);
      });
    });
    expect(receivedBytes).toBe(totalChunks * chunk.length);
    expect(received.digest("hex")).toBe(sent.digest("hex"));
  });

  it("sends a new request to the replica with the fewest in flight", async () => {
    const held: (() => void)[] = [];
    const servedBy: string[] = [];
    const makeReplica = (name: string) =>
      upstream((req, res) => {
        req.resume();
        servedBy.push(name);
        const answer = () => res.end(name);
        if (req.headers["x-hold"] === "1") held.push(answer);
        else answer();
      });
    const [a, b] = await Promise.all([makeReplica("a"), makeReplica("b")]);
    const { router, url } = await setup([a.url, b.url]);
    const slow = fetch(url, { method: "POST", headers: { "x-hold": "1" }, body: "x" });
    await eventually("a request held", () => held.length === 1);
    const holder = servedBy[0]!;
    const other = holder === "a" ? "b" : "a";
    expect(router.inFlight(`d/r${holder === "a" ? 0 : 1}`)).toBe(1);
    for (let i = 0; i < 6; i++) expect(await (await fetch(url, { method: "POST", body: "x" })).text()).toBe(other);
    held[0]!();
    expect(await (await slow).text()).toBe(holder);
    await eventually("nothing in flight", () => router.inFlightForSet("d") === 0);
  });

  it("retries on another replica when a connection is refused", async () => {
    const live = await upstream((req, res) => {
      req.resume();
      res.end("live");
    });
    const dead = await listen(() => undefined);
    await stop(dead.server); // a port where nothing listens any more
    const { url } = await setup([dead.url, live.url]);
    for (let i = 0; i < 6; i++) {
      const response = await fetch(url, { method: "POST", body: JSON.stringify({ i }) });
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("live");
    }
  });

  it("answers 502 when the replica fails before answering, and cuts the response when it fails mid-way", async () => {
    const flaky = await upstream((req, res) => {
      req.resume();
      if (req.headers["x-mode"] === "before") {
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("partial");
      setImmediate(() => req.socket.destroy());
    });
    const { url } = await setup([flaky.url]);
    const before = await fetch(url, { method: "POST", headers: { "x-mode": "before" }, body: "x" });
    expect(before.status).toBe(502);
    expect(await before.json()).toMatchObject({ error: { code: "BAD_GATEWAY" } });
    const midway = await fetch(url, { method: "POST", headers: { "x-mode": "midway" }, body: "x" });
    expect(midway.status).toBe(200);
    await expect(midway.text()).rejects.toThrow();
  });

  it("forwards method, headers and query, drops hop-by-hop headers and the caller's credential", async () => {
    let seen: { url?: string; headers?: Record<string, unknown> } = {};
    const replica = await upstream((req, res) => {
      req.resume();
      seen = { url: req.url, headers: req.headers };
      res.writeHead(201, { "x-model": "yes", "proxy-authenticate": "Basic" });
      res.end("{}");
    });
    const { url } = await setup([replica.url]);
    const response = await fetch(`${url}?stream=1`, {
      method: "POST",
      headers: { "x-request-id": "abc", authorization: "Api-Key k", "proxy-authorization": "secret" },
      body: "{}",
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("x-model")).toBe("yes");
    expect(response.headers.get("proxy-authenticate")).toBeNull();
    expect(seen.url).toBe("/work?stream=1");
    expect(seen.headers).toMatchObject({ "x-request-id": "abc" });
    expect(seen.headers?.["authorization"]).toBeUndefined();
    expect(seen.headers?.["proxy-authorization"]).toBeUndefined();
  });
});
