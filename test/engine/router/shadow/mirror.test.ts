/**
 * The router's shadow mirror on real sockets: both router paths copy an environment's requests to
 * its shadow and compare the answers; the client never waits for the shadow; a slow or dead
 * shadow sheds copies (counted); the copy carries no more than the primary (no Authorization).
 */
import { createConnection, createServer as createNetServer, type AddressInfo } from "node:net";
import { createServer, type IncomingHttpHeaders, type RequestListener } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { ShadowStats } from "../../../../engine/metrics/shadow-stats.js";
import { createRouter, RoutingTable, type RouterOptions } from "../../../../engine/router/index.js";
import { ShadowSettings, type ShadowSettingsInput } from "../../../../sdk/schemas/shadow.js";
import { eventually } from "../../runtime/helpers.js";
import { ALLOW_EVERY_CALLER, StaticReplicas, engineServer, listen, stop } from "../helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const PATH = "/models/m/production/predict";

interface ModelKnobs {
  disagreeEvery?: number;
  delayMs?: number;
  hangUp?: boolean;
  seen?: IncomingHttpHeaders[];
  /** performance.now() when each request's body had arrived */
  arrivals?: number[];
  /** pad every answer to about this many bytes */
  answerBytes?: number;
}

/** The test model: {"i": n} → {"label": odd/even, "score"}; knobs as the e2e replica's. */
function modelHandler(knobs: ModelKnobs): RequestListener {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      knobs.seen?.push(req.headers);
      knobs.arrivals?.push(performance.now());
      if (knobs.hangUp) {
        req.socket.destroy();
        return;
      }
      const n = Number((JSON.parse(Buffer.concat(chunks).toString() || "{}") as { i?: number }).i ?? 0);
      let label = n % 2 === 1 ? "positive" : "negative";
      if (knobs.disagreeEvery !== undefined && n % knobs.disagreeEvery === 0) label = label === "positive" ? "negative" : "positive";
      const pad = knobs.answerBytes === undefined ? {} : { pad: "x".repeat(knobs.answerBytes) };
      const send = () => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ label, score: 0.5 + (n % 10) / 100, ...pad }));
      if (knobs.delayMs) setTimeout(send, knobs.delayMs);
      else send();
    });
  };
}

async function model(knobs: ModelKnobs = {}): Promise<string> {
  const started = await listen(modelHandler(knobs));
  cleanups.push(() => stop(started.server));
  return started.url;
}

/** `shadow`: the shadow model's knobs, or the url of a shadow the test runs itself. */
async function setup(primary: ModelKnobs, shadow: ModelKnobs | string, settings: ShadowSettingsInput, options: Pick<RouterOptions, "shadowBackoff" | "clock"> = {}) {
  const replicas = new StaticReplicas();
  replicas.set("v1.production", [await model(primary)]);
  const shadowUrl = typeof shadow === "string" ? shadow : await model(shadow);
  replicas.set("v2", [shadowUrl]);
  // v2's replicas for the environment, for a candidate shadow
  replicas.set("v2.production", [shadowUrl]);
  const table = new RoutingTable();
  table.setModel("m");
  table.setDeployment("m", "v1", { active: true, predictPath: "/predict", isDevelopment: false });
  table.setDeployment("m", "v2", { active: true, predictPath: "/predict", isDevelopment: false });
  table.setEnvironment("m", "production", { currentDeploymentId: "v1", candidateDeploymentId: null, percentToCandidate: 0 });
  const parsed = ShadowSettings.parse(settings);
  table.setShadow("m", "production", parsed);
  const stats = new ShadowStats();
  const router = createRouter({ table, runtime: replicas, authorize: ALLOW_EVERY_CALLER, shadowStats: stats, ...options });
  cleanups.push(() => router.close());
  const engine = await engineServer(router);
  cleanups.push(() => engine.close());
  return { engine, report: () => stats.report("m", "production", parsed), table };
}

/** One request on its own connection, raw: `handOff` adds a Connection option the fast path does
 * not take, so node:http serves it (with the same small content-length body). */
function post(url: string, body: string, extra: Record<string, string> = {}, handOff = false): Promise<{ status: number; body: string; ms: number }> {
  const { port } = new URL(url);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = createConnection(Number(port), "127.0.0.1");
    const fields = Object.entries(extra).map(([name, value]) => `${name}: ${value}\r\n`).join("");
    const connection = handOff ? "connection: close, x-hop\r\nx-hop: 1\r\n" : "connection: close\r\n";
    socket.write(`POST ${PATH} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${connection}${fields}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    let received = "";
    socket.on("data", (chunk) => (received += chunk.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => {
      const status = Number(received.slice(9, 12));
      resolve({ status, body: received.slice(received.indexOf("\r\n\r\n") + 4), ms: performance.now() - started });
    });
  });
}

describe("shadow mirror", () => {
  it("identical deployments agree on every copy, on the fast path and on node:http alike", async () => {
    const { engine, report } = await setup({}, {}, { deployment: "v2", comparison: { mode: "json", numeric_tolerance: 0.01 } });
    for (let i = 0; i < 40; i++) {
      const answer = await post(engine.url, JSON.stringify({ i }), {}, i % 2 === 1);
      expect(answer.status).toBe(200);
    }
    await eventually("40 comparisons", () => report().compared === 40);
    const done = report();
    expect(engine.handOffs()).toBe(20); // half of them went through node:http
    expect(done.counts.agreed).toBe(40);
    expect(done.agreement_rate).toBe(1);
    expect(done.status_agreement_rate).toBe(1);
    expect(done.disagreements).toEqual([]);
    expect(done.latency_ms.primary.p50).toBeGreaterThan(0);
    expect(done.latency_ms.shadow.p99).toBeGreaterThan(0);
  });

  it("a shadow that disagrees on every 10th input shows 10 % disagreement with samples naming the field (both paths)", async () => {
    const { engine, report } = await setup({}, { disagreeEvery: 10 }, { deployment: "v2", comparison: { mode: "json", fields: ["label", "score"] }, keep_bodies: true });
    for (let i = 0; i < 100; i++) await post(engine.url, JSON.stringify({ i }), { "x-request-id": `req-${i}` }, i % 3 === 0);
    await eventually("100 comparisons", () => report().compared === 100);
    const done = report();
    expect(done.counts.disagreed).toBe(10);
    expect(done.agreement_rate).toBe(0.9);
    expect(done.disagreements).toHaveLength(10);
    expect(done.disagreements[0]).toMatchObject({ request_id: "req-0", differing_fields: ["label"], primary_status: 200, shadow_status: 200, shadow_deployment_id: "v2", primary_deployment_id: "v1" });
    expect(done.disagreements[0]!.request_body).toBe(JSON.stringify({ i: 0 }));
    expect(done.disagreements[0]!.shadow_body).toContain('"label":"positive"');
  });

  it("without keep_bodies, samples carry no bodies", async () => {
    const { engine, report } = await setup({}, { disagreeEvery: 1 }, { deployment: "v2" });
    await post(engine.url, JSON.stringify({ i: 2 }));
    await eventually("a comparison", () => report().compared === 1);
    const done = report();
    expect(done.disagreements[0]!.differing_fields).toEqual(["body"]);
    expect(done.disagreements[0]).not.toHaveProperty("request_body");
    expect(done.disagreements[0]).not.toHaveProperty("primary_body");
  });

  it("a copy carries what the primary gets: no Authorization, no hop-by-hop fields; marked as a shadow", async () => {
    const primarySeen: IncomingHttpHeaders[] = [];
    const shadowSeen: IncomingHttpHeaders[] = [];
    const { engine, report } = await setup({ seen: primarySeen }, { seen: shadowSeen }, { deployment: "v2" });
    await post(engine.url, JSON.stringify({ i: 1 }), { authorization: "Api-Key mpk_secret", "x-custom": "kept" });
    await post(engine.url, JSON.stringify({ i: 1 }), { authorization: "Bearer mpk_secret", "x-custom": "kept" }, true);
    await eventually("2 comparisons", () => report().compared === 2);
    expect(shadowSeen).toHaveLength(2);
    for (const headers of [...shadowSeen, ...primarySeen]) {
      expect(headers.authorization).toBeUndefined();
      expect(headers["x-hop"]).toBeUndefined();
      expect(headers["x-custom"]).toBe("kept");
    }
    expect(shadowSeen.every((headers) => headers["x-modelplane-shadow"] === "1")).toBe(true);
  });

  it("a copy leaves only once the primary's answer is handed to the client; a failed primary's copy is never sent (both paths)", async () => {
    const arrivals: number[] = [];
    const { engine, report } = await setup({ delayMs: 150 }, { arrivals }, { deployment: "v2" });
    for (const handOff of [false, true]) {
      const sentAt = performance.now();
      const answer = await post(engine.url, JSON.stringify({ i: 1 }), {}, handOff);
      expect(answer.status).toBe(200);
      await eventually("the copy arrived", () => arrivals.length === (handOff ? 2 : 1));
      // the primary took 150 ms: a copy sent alongside it would have arrived within a few ms
      expect(arrivals.at(-1)! - sentAt).toBeGreaterThanOrEqual(145);
    }
    await eventually("2 comparisons", () => report().compared === 2);

    const shadowSeen: IncomingHttpHeaders[] = [];
    const failing = await setup({ hangUp: true }, { seen: shadowSeen }, { deployment: "v2" });
    for (const handOff of [false, true]) expect((await post(failing.engine.url, JSON.stringify({ i: 1 }), {}, handOff)).status).toBe(502);
    await eventually("2 primary errors", () => failing.report().counts.primary_error === 2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(shadowSeen).toEqual([]);
  });

  it("a slow shadow sheds copies past its queue and never delays the primary", async () => {
    const { engine, report } = await setup({}, { delayMs: 400 }, { deployment: "v2", max_concurrency: 1, max_queue: 2 });
    const latencies: number[] = [];
    for (let i = 0; i < 30; i++) {
      const answer = await post(engine.url, JSON.stringify({ i }), {}, i % 2 === 1);
      expect(answer.status).toBe(200);
      latencies.push(answer.ms);
    }
    expect(Math.max(...latencies)).toBeLessThan(300);
    const counted = report();
    // one in flight + two queued at most while the 30 requests ran (≈ a few hundred ms)
    expect(counted.counts.shed).toBeGreaterThanOrEqual(24);
    await eventually("copies finished", () => report().compared + report().counts.shed === 30, 10_000);
    const done = report();
    expect(done.counts.agreed).toBe(30 - done.counts.shed);
  });

  it("a dead shadow fails no primary request: its copies count as shadow_error, then as backed_off once it backs off", async () => {
    const { engine, report } = await setup({}, { hangUp: true }, { deployment: "v2" }, { clock: () => 0 });
    for (let i = 0; i < 20; i++) expect((await post(engine.url, JSON.stringify({ i }), {}, i % 2 === 1)).status).toBe(200);
    await eventually("20 copies counted", () => report().counts.shadow_error + report().counts.backed_off === 20);
    const done = report();
    // 5 in a row start the back-off; copies already out when the 5th failed may add to them
    expect(done.counts.shadow_error).toBeGreaterThanOrEqual(5);
    expect(done.counts.backed_off).toBeGreaterThan(0);
    expect(done.compared).toBe(0);
  });

  it("a refused shadow is backed off (no connection tried while requests go on), probed once per period, and resumes once it is back", async () => {
    // a port nothing listens on: connections to it are refused
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
      });
    });
    let now = 0;
    const policy = { failuresToBackOff: 3, firstBackoffMs: 1000, maxBackoffMs: 4000 };
    const { engine, report } = await setup({}, `http://127.0.0.1:${port}`, { deployment: "v2" }, { shadowBackoff: policy, clock: () => now });
    const send = async (count: number) => {
      for (let i = 0; i < count; i++) expect((await post(engine.url, JSON.stringify({ i }), {}, i % 2 === 1)).status).toBe(200);
    };
    const counted = (outcome: "shadow_error" | "backed_off" | "agreed", count: number) => eventually(`${count} ${outcome}`, () => report().counts[outcome] === count);

    // one at a time, so that each refusal is counted before the next copy asks
    for (let refused = 1; refused <= 3; refused++) {
      await send(1);
      await counted("shadow_error", refused);
    }
    // backing off: 30 more requests, not one more connection tried
    await send(30);
    await counted("backed_off", 30);
    expect(report().counts.shadow_error).toBe(3);

    // the period (1 s) ends: one probe, refused: 2 s more; the rest still backed off
    now = 1000;
    await send(1);
    await counted("shadow_error", 4);
    await send(10);
    await counted("backed_off", 40);

    // the shadow comes back on its port; no copy goes to it before the period (until 3 s) ends
    const back = createServer(modelHandler({}));
    await new Promise<void>((resolve) => back.listen(port, "127.0.0.1", resolve));
    cleanups.push(() => stop(back));
    now = 2999;
    await send(5);
    await counted("backed_off", 45);
    now = 3000;
    await send(1); // the probe: answered
    await counted("agreed", 1);
    await send(10); // sending again, every copy compared
    await counted("agreed", 11);
    const done = report();
    expect(done.counts).toMatchObject({ shadow_error: 4, backed_off: 45, agreed: 11, shed: 0 });
  });

  it("a shadow answer over 64 KiB is not compared (skipped_body), is not read to its end, and is no failure: no back-off", async () => {
    const { engine, report } = await setup({}, { answerBytes: 200 * 1024 }, { deployment: "v2" }, { clock: () => 0 });
    for (let i = 0; i < 12; i++) expect((await post(engine.url, JSON.stringify({ i }), {}, i % 2 === 1)).status).toBe(200);
    await eventually("12 skipped", () => report().counts.skipped_body === 12);
    expect(report().counts).toMatchObject({ shadow_error: 0, backed_off: 0, agreed: 0, disagreed: 0 });
  });

  it("skips bodies over max_body_bytes, Idempotency-Key requests, and counts a shadow with no replica as unavailable", async () => {
    const { engine, report, table } = await setup({}, {}, { deployment: "v2", max_body_bytes: 16 });
    await post(engine.url, JSON.stringify({ i: 1, pad: "x".repeat(32) }));
    await post(engine.url, JSON.stringify({ i: 1 }), { "idempotency-key": "k1" });
    await eventually("counted", () => report().counts.skipped_body === 1 && report().counts.not_idempotent === 1);
    table.setDeployment("m", "v2", { active: false, predictPath: "/predict", isDevelopment: false });
    await post(engine.url, JSON.stringify({ i: 1 }));
    await eventually("unavailable", () => report().counts.unavailable === 1);
    expect(report().compared).toBe(0);
  });

  it("reads a shadow's answer in every framing: chunked, until the connection closes, after a 1xx; slower than timeout_ms is shadow_error", async () => {
    // a raw shadow: {"i": n} answered as the test model does, framed by n % 3
    const shadow = createNetServer((socket) => {
      let received = "";
      socket.on("data", (chunk: Buffer) => {
        received += chunk.toString("latin1");
        const headEnd = received.indexOf("\r\n\r\n");
        const length = Number(/content-length: *(\d+)/i.exec(received)?.[1] ?? -1);
        if (headEnd === -1 || received.length < headEnd + 4 + length) return;
        const n = Number((JSON.parse(received.slice(headEnd + 4, headEnd + 4 + length)) as { i: number }).i);
        received = received.slice(headEnd + 4 + length);
        const body = JSON.stringify({ label: n % 2 === 1 ? "positive" : "negative", score: 0.5 + (n % 10) / 100 });
        if (n >= 100) return; // never answered: given up after timeout_ms
        if (n % 3 === 0) {
          socket.write(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${(5).toString(16)}\r\n${body.slice(0, 5)}\r\n`);
          setTimeout(() => socket.write(`${(body.length - 5).toString(16)}\r\n${body.slice(5)}\r\n0\r\n\r\n`), 5);
        } else if (n % 3 === 1) {
          socket.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n${body}`);
        } else {
          socket.write(`HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
        }
      });
    });
    await new Promise<void>((resolve) => shadow.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => shadow.close(() => resolve())));
    const address = shadow.address() as AddressInfo;
    const { engine, report } = await setup({}, `http://127.0.0.1:${address.port}`, { deployment: "v2", timeout_ms: 100 });
    for (let i = 0; i < 9; i++) expect((await post(engine.url, JSON.stringify({ i }), {}, i % 2 === 1)).status).toBe(200);
    await eventually("9 comparisons", () => report().compared === 9);
    expect(report().counts).toMatchObject({ agreed: 9, disagreed: 0, shadow_error: 0 });
    for (let i = 100; i < 102; i++) expect((await post(engine.url, JSON.stringify({ i }))).status).toBe(200);
    await eventually("2 timed out", () => report().counts.shadow_error === 2);
    expect(report().counts.agreed).toBe(9);
  });

  it("percent and match select the copies", async () => {
    const { engine, report } = await setup({}, {}, { deployment: "v2", match: { header: { name: "X-Shadow-Me", value: "yes" } } });
    for (let i = 0; i < 6; i++) await post(engine.url, JSON.stringify({ i }), i % 2 === 0 ? { "x-shadow-me": "yes" } : {}, i >= 3);
    await eventually("3 comparisons", () => report().compared === 3);
    const none = await setup({}, {}, { deployment: "v2", percent: 0 });
    for (let i = 0; i < 5; i++) await post(none.engine.url, JSON.stringify({ i }));
    expect(Object.values(none.report().counts).reduce((a, b) => a + b, 0)).toBe(0);
  });

  it("a candidate shadow compares (current, candidate) at every split: a request the candidate serves is copied to the current deployment", async () => {
    const { engine, report, table } = await setup({}, { disagreeEvery: 10 }, { deployment: "candidate", comparison: { mode: "json" } });
    table.setEnvironment("m", "production", { currentDeploymentId: "v1", candidateDeploymentId: "v2", percentToCandidate: 100 });
    for (let i = 0; i < 20; i++) expect((await post(engine.url, JSON.stringify({ i }), {}, i % 2 === 1)).status).toBe(200);
    await eventually("20 comparisons", () => report().compared === 20);
    const done = report();
    expect(done.shadow_deployment_id).toBe("v2");
    expect(done.counts.disagreed).toBe(2);
    expect(done.disagreements[0]).toMatchObject({ primary_deployment_id: "v2", shadow_deployment_id: "v1" });
    // no candidate: nothing to compare with, counted
    table.setEnvironment("m", "production", { currentDeploymentId: "v1", candidateDeploymentId: null, percentToCandidate: 0 });
    await post(engine.url, JSON.stringify({ i: 1 }));
    await eventually("unavailable", () => report().counts.unavailable === 1);
  });
});
