/**
 * Header routing (issue 17) on both router paths: `x-modelplane-target: candidate` (or the
 * configured header or cookie) reaches the in-progress candidate's set of the environment, an
 * allowed deployment id its own set, anything else a 403; off, the header changes nothing.
 */
import { createConnection } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { decidePredictAccess, type KeyGrant } from "../../../engine/auth/access-rules.js";
import { createRouter, RoutingTable, type AuthorizePredict } from "../../../engine/router/index.js";
import { headerRoutedTarget } from "../../../engine/router/router.js";
import { HeaderRouting, type HeaderRoutingInput } from "../../../sdk/schemas/header-routing.js";
import { ALLOW_EVERY_CALLER, StaticReplicas, engineServer, listen, stop } from "./helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const PATH = "/models/m/production/predict";

async function answering(name: string): Promise<string> {
  const started = await listen((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(name) }).end(name));
  });
  cleanups.push(() => stop(started.server));
  return started.url;
}

async function setup(routing: HeaderRoutingInput | null, authorize: AuthorizePredict = ALLOW_EVERY_CALLER) {
  const replicas = new StaticReplicas();
  replicas.set("v1.production", [await answering("v1")]);
  replicas.set("v2.production", [await answering("v2-in-production")]);
  replicas.set("v3", [await answering("v3-own")]);
  const table = new RoutingTable();
  table.setModel("m");
  for (const id of ["v1", "v2", "v3"]) table.setDeployment("m", id, { active: true, predictPath: "/predict", isDevelopment: false });
  // a promotion paused at 0 %: v2 is the candidate, no traffic goes to it
  table.setEnvironment("m", "production", { currentDeploymentId: "v1", candidateDeploymentId: "v2", percentToCandidate: 0 });
  if (routing !== null) table.setHeaderRouting("m", "production", HeaderRouting.parse(routing));
  const router = createRouter({ table, runtime: replicas, authorize });
  cleanups.push(() => router.close());
  const engine = await engineServer(router);
  cleanups.push(() => engine.close());
  return { engine, table };
}

/** `handOff` adds a Connection option the fast path does not take: node:http serves the request. */
function post(url: string, fields: Record<string, string>, handOff: boolean): Promise<{ status: number; body: string }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = createConnection(Number(port), "127.0.0.1");
    const extra = Object.entries(fields).map(([name, value]) => `${name}: ${value}\r\n`).join("");
    const connection = handOff ? "connection: close, x-hop\r\nx-hop: 1\r\n" : "connection: close\r\n";
    socket.write(`POST ${PATH} HTTP/1.1\r\nhost: x\r\n${connection}${extra}content-length: 2\r\n\r\n{}`);
    let received = "";
    socket.on("data", (chunk) => (received += chunk.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => resolve({ status: Number(received.slice(9, 12)), body: received.slice(received.indexOf("\r\n\r\n") + 4) }));
  });
}

describe("header routing", () => {
  for (const handOff of [false, true]) {
    const path = handOff ? "node:http" : "the fast path";
    it(`on ${path}: the header or cookie reaches the candidate's set, an allowed deployment its own set, another value 403`, async () => {
      const { engine } = await setup({ cookie: "mp-target", allowed_deployments: ["v3"] });
      expect(await post(engine.url, {}, handOff)).toEqual({ status: 200, body: "v1" });
      expect(await post(engine.url, { "X-Modelplane-Target": "candidate" }, handOff)).toEqual({ status: 200, body: "v2-in-production" });
      expect(await post(engine.url, { cookie: "a=b; mp-target=candidate" }, handOff)).toEqual({ status: 200, body: "v2-in-production" });
      expect(await post(engine.url, { "x-modelplane-target": "v3" }, handOff)).toEqual({ status: 200, body: "v3-own" });
      const refused = await post(engine.url, { "x-modelplane-target": "v1-not-allowed" }, handOff);
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.body)).toMatchObject({ error: { code: "FORBIDDEN" } });
    });

    it(`on ${path}: off by default — the header changes nothing`, async () => {
      const { engine } = await setup(null);
      expect(await post(engine.url, { "x-modelplane-target": "candidate" }, handOff)).toEqual({ status: 200, body: "v1" });
      expect(await post(engine.url, { "x-modelplane-target": "anything" }, handOff)).toEqual({ status: 200, body: "v1" });
    });

    it(`on ${path}: the routed target is what the key must be allowed to call`, async () => {
      // an environment-limited key: the candidate (in the environment) yes, a deployment's own endpoint no
      const limited: KeyGrant = { id: "k", scope: "inference", modelIds: null, environmentNames: new Set(["production"]) };
      const { engine } = await setup({ allowed_deployments: ["v3"] }, (target, authorization) => decidePredictAccess(target, false, authorization !== undefined, authorization === undefined ? undefined : limited));
      expect((await post(engine.url, { authorization: "Api-Key k", "x-modelplane-target": "candidate" }, handOff)).body).toBe("v2-in-production");
      expect((await post(engine.url, { authorization: "Api-Key k", "x-modelplane-target": "v3" }, handOff)).status).toBe(403);
    });
  }

  it("a configured header; without a promotion in progress 'candidate' gets the usual split", async () => {
    const { engine, table } = await setup({ header: "X-Try" });
    expect((await post(engine.url, { "x-try": "candidate" }, false)).body).toBe("v2-in-production");
    expect((await post(engine.url, { "x-modelplane-target": "candidate" }, false)).body).toBe("v1");
    table.setEnvironment("m", "production", { currentDeploymentId: "v1", candidateDeploymentId: null, percentToCandidate: 0 });
    expect((await post(engine.url, { "x-try": "candidate" }, true)).body).toBe("v1");
  });

  it("headerRoutedTarget and the access rule: a candidate request on a public environment still needs a key", () => {
    const table = new RoutingTable();
    table.setModel("m");
    table.setHeaderRouting("m", "p", HeaderRouting.parse({}));
    const target = { kind: "environment" as const, modelId: "m", envName: "p" };
    const routed = headerRoutedTarget(table, target, (name) => (name === "x-modelplane-target" ? "candidate" : undefined));
    expect(routed).toEqual({ ...target, candidate: true });
    expect(decidePredictAccess(target, true, false, undefined).ok).toBe(true);
    expect(decidePredictAccess({ ...target, candidate: true }, true, false, undefined)).toMatchObject({ ok: false, code: "UNAUTHORIZED" });
    expect(headerRoutedTarget(table, { kind: "deployment", modelId: "m", deploymentId: "d" }, () => "candidate")).toEqual({ kind: "deployment", modelId: "m", deploymentId: "d" });
  });
});
