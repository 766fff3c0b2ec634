/**
 * The router's fast path on real sockets: what it serves itself, what it hands to node:http, and
 * how it relays the HTTP/1.1 framings a replica may answer with. Requests are written as raw bytes
 * where the exact wire matters (pipelining, half-close, malformed input).
 */
import fc from "fast-check";
import { createConnection, createServer as createTcpServer, type AddressInfo, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createRouter, DEPLOYMENT_ID_HEADER, RoutingTable, type Router, type RouterOptions } from "../../../engine/router/index.js";
import { replicaSetId } from "../../../engine/runtime/runtime.js";
import { eventually } from "../runtime/helpers.js";
import { ALLOW_EVERY_CALLER, StaticReplicas, engineServer, listen, stop, type EngineServer } from "./helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const PATH = "/models/m/deployment/d/predict";

async function setup(replicaUrls: string[], options: Partial<Omit<RouterOptions, "table" | "runtime">> = {}): Promise<{ router: Router; engine: EngineServer; port: number }> {
  const replicas = new StaticReplicas();
  replicas.set("d", replicaUrls);
  const table = new RoutingTable();
  table.setDeployment("m", "d", { active: true, predictPath: "/predict", isDevelopment: false });
  const router = createRouter({ table, runtime: replicas, authorize: ALLOW_EVERY_CALLER, ...options });
  cleanups.push(() => router.close());
  const engine = await engineServer(router);
  cleanups.push(() => engine.close());
  return { router, engine, port: Number(new URL(engine.url).port) };
}

async function replica(handler: Parameters<typeof listen>[0]): Promise<string> {
  const started = await listen(handler);
  cleanups.push(() => stop(started.server));
  return started.url;
}

/** A replica written at the byte level, for answers node:http would never produce. */
async function rawReplica(onRequest: (socket: Socket, request: string) => void): Promise<string> {
  const server = createTcpServer((socket) => {
    let received = "";
    socket.on("data", (chunk) => {
      received += chunk.toString("latin1");
      const end = received.indexOf("\r\n\r\n");
      if (end === -1) return;
      const length = Number(/content-length: (\d+)/i.exec(received.slice(0, end))?.[1] ?? 0);
      if (received.length < end + 4 + length) return;
      const request = received.slice(0, end + 4 + length);
      received = received.slice(end + 4 + length);
      onRequest(socket, request);
    });
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  cleanups.push(() => sockets.forEach((socket) => socket.destroy()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A client connection that collects everything the router sends back. */
async function rawClient(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const socket = createConnection({ port, host: "127.0.0.1" });
  cleanups.push(() => void socket.destroy());
  let received = "";
  socket.on("data", (chunk) => (received += chunk.toString("latin1")));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => undefined);
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return { socket, received: () => received, closed };
}

function post(body: string, extra = ""): string {
  return `POST ${PATH} HTTP/1.1\r\nhost: router\r\ncontent-type: text/plain\r\n${extra}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** Splits a byte stream of responses, content-length, chunked (decoded, no trailers) or until
 * the end. */
function responses(stream: string): Array<{ status: number; headers: Record<string, string>; body: string }> {
  const parsed = [];
  let rest = stream;
  while (rest.length > 0) {
    const end = rest.indexOf("\r\n\r\n");
    if (end === -1) break;
    const [statusLine, ...lines] = rest.slice(0, end).split("\r\n");
    const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]));
    let body = "";
    let next = end + 4;
    if (headers["transfer-encoding"]?.toLowerCase() === "chunked") {
      for (;;) {
        const lineEnd = rest.indexOf("\r\n", next);
        if (lineEnd === -1) return parsed;
        const size = parseInt(rest.slice(next, lineEnd), 16);
        if (size === 0) {
          if (rest.indexOf("\r\n", lineEnd + 2) !== lineEnd + 2) return parsed;
          next = lineEnd + 4;
          break;
        }
        if (rest.length < lineEnd + 2 + size + 2) return parsed;
        body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
        next = lineEnd + 2 + size + 2;
      }
    } else if (headers["content-length"] !== undefined) {
      const length = Number(headers["content-length"]);
      if (rest.length < next + length) break;
      body = rest.slice(next, next + length);
      next += length;
    } else {
      body = rest.slice(next); // until the connection closes
      next = rest.length;
    }
    parsed.push({ status: Number(statusLine!.split(" ")[1]), headers, body });
    rest = rest.slice(next);
  }
  return parsed;
}

const echoReplica = (): Promise<string> =>
  replica((req, res) => {
    // decoded whole: a character split between two chunks is not two broken ones
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const answer = `echo:${Buffer.concat(chunks).toString()}`;
      res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(answer), "x-path": req.url ?? "" });
      res.end(answer);
    });
  });

describe("router fast path", () => {
  it("serves keep-alive predict requests itself, 200 on one connection, and counts them", async () => {
    const { router, engine, port } = await setup([await echoReplica()]);
    let arrivals = 0;
    router.onArrival((setId) => {
      if (setId === "d") arrivals++;
    });
    const client = await rawClient(port);
    for (let i = 0; i < 200; i++) {
      const before = client.received().length;
      client.socket.write(post(`request ${i}`));
      await eventually(`response ${i}`, () => responses(client.received().slice(before))[0]);
      const [response] = responses(client.received().slice(before));
      expect(response).toMatchObject({ status: 200, body: `echo:request ${i}` });
      expect(response!.headers[DEPLOYMENT_ID_HEADER]).toBe("d");
      expect(response!.headers["x-path"]).toBe("/predict");
      expect(response!.headers["connection"]).toBe("keep-alive");
    }
    expect(engine.handOffs()).toBe(0);
    expect(router.requestsForSet("d")).toBe(200);
    expect(arrivals).toBe(200);
    expect(router.inFlightForSet("d")).toBe(0);
  });

  it("answers pipelined requests in order", async () => {
    const { port } = await setup([await echoReplica()]);
    const client = await rawClient(port);
    client.socket.write(post("one") + post("two") + post("three"));
    await eventually("three responses", () => responses(client.received()).length === 3 || undefined);
    expect(responses(client.received()).map((response) => response.body)).toEqual(["echo:one", "echo:two", "echo:three"]);
  });

  it("reads a request that arrives byte by byte", async () => {
    const { engine, port } = await setup([await echoReplica()]);
    const client = await rawClient(port);
    for (const byte of Buffer.from(post("slowly"))) {
      client.socket.write(Buffer.from([byte]));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await eventually("response", () => responses(client.received())[0]);
    expect(responses(client.received())[0]).toMatchObject({ status: 200, body: "echo:slowly" });
    expect(engine.handOffs()).toBe(0);
  });

  it("hands the connection to node:http at a request it does not take, with that request intact", async () => {
    const { engine, port } = await setup([await echoReplica()]);
    const client = await rawClient(port);
    client.socket.write(post("fast"));
    await eventually("first response", () => responses(client.received())[0]);
    // Not a data-plane path: node:http's handler answers 418 in these tests.
    client.socket.write("GET /v1/models HTTP/1.1\r\nhost: router\r\n\r\n" + post("after the hand-off"));
    await eventually("three responses", () => responses(client.received()).length === 3 || undefined);
    const [first, second, third] = responses(client.received());
    expect(first).toMatchObject({ status: 200, body: "echo:fast" });
    expect(second!.status).toBe(418);
    expect(third).toMatchObject({ status: 200, body: "echo:after the hand-off" });
    expect(third!.headers[DEPLOYMENT_ID_HEADER]).toBe("d");
    expect(engine.handOffs()).toBe(1);
  });

  it.each([
    ["a chunked request body", `POST ${PATH} HTTP/1.1\r\nhost: r\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, 200],
    ["Expect: 100-continue", `POST ${PATH} HTTP/1.1\r\nhost: r\r\nexpect: 100-continue\r\ncontent-length: 5\r\n\r\nhello`, 200],
    ["HTTP/1.0", `POST ${PATH} HTTP/1.0\r\ncontent-length: 5\r\n\r\nhello`, 200],
    ["a GET", `GET ${PATH} HTTP/1.1\r\nhost: r\r\n\r\n`, 405],
    ["both content-length and transfer-encoding", `POST ${PATH} HTTP/1.1\r\nhost: r\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
    ["two content-lengths", `POST ${PATH} HTTP/1.1\r\nhost: r\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!`, 400],
    ["a bare LF in a field", `POST ${PATH} HTTP/1.1\r\nhost: r\r\nx-a: 1\nx-b: 2\r\ncontent-length: 0\r\n\r\n`, 400],
    ["no host", `POST ${PATH} HTTP/1.1\r\ncontent-length: 0\r\n\r\n`, 400],
  ])("leaves %s to node:http", async (_what, request, status) => {
    const { engine, port } = await setup([await echoReplica()]);
    const client = await rawClient(port);
    client.socket.write(request);
    // (node:http answers "100 Continue" first where asked)
    await eventually("a response", () => client.received().replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, "").includes("\r\n\r\n") || undefined);
    expect(client.received()).toMatch(new RegExp(`^(HTTP/1\\.1 100 Continue\r\n\r\n)?HTTP/1\\.[01] ${status} `));
    if (status === 200) expect(client.received()).toContain("echo:hello");
    expect(engine.handOffs()).toBe(1);
  });

  it("a request it picks a cold deployment for is held for that deployment by node:http, not split again", async () => {
    // 50 % to the candidate; each draw alternates: a split drawn twice would send this request to
    // the deployment that is ready (the previous), and an engine restarted mid-promotion sent the
    // candidate about half its share while its replicas were starting
    const draws = [0.1, 0.9];
    let drawn = 0;
    const replicas = new StaticReplicas();
    replicas.set(replicaSetId("previous", "production"), [await echoReplica()]);
    const table = new RoutingTable();
    for (const id of ["previous", "candidate"]) table.setDeployment("m", id, { active: true, predictPath: "/predict", isDevelopment: false });
    table.setEnvironment("m", "production", { currentDeploymentId: "previous", candidateDeploymentId: "candidate", percentToCandidate: 50 });
    const router = createRouter({ table, runtime: replicas, authorize: ALLOW_EVERY_CALLER, rand: () => draws[drawn++ % 2]! });
    cleanups.push(() => router.close());
    const engine = await engineServer(router);
    cleanups.push(() => engine.close());
    const client = await rawClient(Number(new URL(engine.url).port));
    client.socket.write(`POST /models/m/production/predict HTTP/1.1\r\nhost: router\r\ncontent-length: 4\r\n\r\ncold`);
    await eventually("the request held", () => router.inFlightForSet(replicaSetId("candidate", "production")) === 1 || undefined);
    expect(engine.handOffs()).toBe(1);
    expect(client.received()).toBe("");
    replicas.set(replicaSetId("candidate", "production"), [await echoReplica()]);
    await eventually("response", () => responses(client.received())[0]);
    expect(responses(client.received())[0]).toMatchObject({ status: 200, body: "echo:cold", headers: { [DEPLOYMENT_ID_HEADER]: "candidate" } });
    expect(drawn).toBe(1);
  });

  it("closes after the response when the client asks", async () => {
    const { port } = await setup([await echoReplica()]);
    const client = await rawClient(port);
    client.socket.write(post("bye", "connection: close\r\n"));
    await client.closed;
    expect(responses(client.received())[0]).toMatchObject({ status: 200, body: "echo:bye" });
    expect(responses(client.received())[0]!.headers["connection"]).toBe("close");
  });

  it("relays a chunked response with trailers unchanged, then serves the next request", async () => {
    const url = await rawReplica((socket, request) => {
      const body = /\r\n\r\n(.*)$/s.exec(request)![1]!;
      socket.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-checksum\r\n\r\n");
      socket.write(`3;ext=1\r\nabc\r\n`);
      setTimeout(() => socket.write(`${body.length.toString(16)}\r\n${body}\r\n0\r\nx-checksum: 42\r\n\r\n`), 5);
    });
    const { engine, port } = await setup([url]);
    const client = await rawClient(port);
    const tricky = "0\r\n\r\n-looks-like-an-end";
    client.socket.write(post(tricky));
    const expected = `3;ext=1\r\nabc\r\n${tricky.length.toString(16)}\r\n${tricky}\r\n0\r\nx-checksum: 42\r\n\r\n`;
    await eventually("chunked body", () => client.received().endsWith(expected) || undefined).catch((error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(client.received())}`);
    });
    expect(client.received()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(client.received()).toContain("transfer-encoding: chunked\r\n");
    client.socket.write(post("second"));
    await eventually("second response", () => client.received().endsWith("0\r\nx-checksum: 42\r\n\r\n") && client.received().split("HTTP/1.1 200").length === 3 || undefined);
    expect(engine.handOffs()).toBe(0);
  });

  it("relays a body that ends with the replica's connection, then closes the client's", async () => {
    const url = await rawReplica((socket) => {
      socket.write("HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil ");
      setTimeout(() => socket.end("close"), 5);
    });
    const { port } = await setup([url]);
    const client = await rawClient(port);
    client.socket.write(post("x"));
    await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(client.received()).toContain("connection: close\r\n");
    expect(client.received().endsWith("\r\n\r\nuntil close")).toBe(true);
  });

  it("answers 502 to a malformed replica answer and does not reuse that connection", async () => {
    const connections = new Set<number>();
    const url = await rawReplica((socket, request) => {
      connections.add(socket.remotePort!);
      if (request.includes("bad")) socket.write("HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd");
      else socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    });
    const { port } = await setup([url]);
    const client = await rawClient(port);
    client.socket.write(post("bad"));
    await eventually("502", () => responses(client.received())[0]);
    expect(responses(client.received())[0]).toMatchObject({ status: 502 });
    expect(JSON.parse(responses(client.received())[0]!.body)).toMatchObject({
      error: { code: "BAD_GATEWAY", message: expect.stringContaining("content-length") },
    });
    client.socket.write(post("good"));
    await eventually("200", () => responses(client.received())[1]);
    expect(responses(client.received())[1]).toMatchObject({ status: 200, body: "ok" });
    expect(connections.size).toBe(2);
  });

  it("opens a new connection when the replica closed an idle one", async () => {
    const started = await listen((req, res) => {
      req.resume();
      req.on("end", () => res.end(`port ${req.socket.remotePort}`));
    });
    cleanups.push(() => stop(started.server));
    started.server.keepAliveTimeout = 50; // the replica closes idle keep-alive connections fast
    let closedByReplica = 0;
    started.server.on("connection", (socket: Socket) => socket.on("close", () => closedByReplica++));
    const { port } = await setup([started.url]);
    const client = await rawClient(port);
    client.socket.write(post("first"));
    await eventually("first", () => responses(client.received())[0]);
    await eventually("the replica closed the idle connection", () => closedByReplica === 1 || undefined);
    client.socket.write(post("second"));
    await eventually("second", () => responses(client.received())[1]);
    const [first, second] = responses(client.received());
    expect(second!.status).toBe(200);
    expect(second!.body).toMatch(/^port \d+$/);
    expect(second!.body).not.toBe(first!.body);
  });

  it("draining: a request sent on an idle keep-alive connection is answered with connection: close, not cut; a connection left idle is closed after the grace", async () => {
    const url = await replica((req, res) => {
      req.resume();
      req.on("end", () => res.end("ok"));
    });
    const { router, port } = await setup([url]);
    const [sending, idle] = [await rawClient(port), await rawClient(port)];
    for (const client of [sending, idle]) {
      client.socket.write(post("before"));
      await eventually("first answer", () => responses(client.received())[0]);
    }
    router.drainConnections(60_000);
    // a keep-alive client's next request, racing the shutdown
    sending.socket.write(post("during the drain"));
    await eventually("answered", () => responses(sending.received())[1]);
    const answer = responses(sending.received())[1]!;
    expect(answer).toMatchObject({ status: 200, body: "ok" });
    expect(answer.headers.connection).toBe("close");
    await sending.closed;
    // the idle connection is still open (60 s grace) until the router closes for good
    expect(idle.socket.destroyed).toBe(false);
    await router.close();
    await idle.closed;
    expect(responses(idle.received())).toHaveLength(1);
  });

  it("stops the replica's work when the client goes away mid-request", async () => {
    let replicaGotRequest = false;
    let replicaSawClose = false;
    const url = await replica((req, res) => {
      replicaGotRequest = true;
      req.resume();
      res.on("close", () => (replicaSawClose = !res.writableFinished));
    });
    const { router, port } = await setup([url]);
    const client = await rawClient(port);
    client.socket.write(post("never answered"));
    await eventually("in flight", () => router.inFlightForSet("d") === 1 || undefined);
    // the router counts the request in flight before the replica has parsed it: a close before that is never seen by a handler
    await eventually("the replica's handler runs", () => replicaGotRequest || undefined);
    client.socket.destroy();
    await eventually("replica saw the close", () => replicaSawClose || undefined);
    await eventually("nothing in flight", () => (router.inFlightForSet("d") === 0 && router.inFlight("d/r0") === 0) || undefined);
  });

  it("gives up on a silent replica: 504 before its answer starts, a cut response after, on both paths", async () => {
    const url = await replica((req, res) => {
      req.resume();
      if (req.headers["x-mode"] === "stall-midway") {
        res.writeHead(200, { "content-length": 100 });
        res.write("part of it");
      }
      // and then nothing
    });
    const { router, engine, port } = await setup([url], { replicaTimeoutMs: 200 });
    const client = await rawClient(port);
    const started = Date.now();
    client.socket.write(post("anyone there?"));
    await eventually("504", () => responses(client.received())[0]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    const [timedOut] = responses(client.received());
    expect(timedOut!.status).toBe(504);
    expect(JSON.parse(timedOut!.body)).toMatchObject({ error: { code: "GATEWAY_TIMEOUT" } });
    expect(router.inFlightForSet("d")).toBe(0);

    client.socket.write(post("again", "x-mode: stall-midway\r\n"));
    await client.closed; // the started response is cut, never passed off as complete
    expect(client.received()).toContain("part of it");

    // a chunked request body goes through node:http and undici: the same rule
    const slow = await rawClient(port);
    slow.socket.write(`POST ${PATH} HTTP/1.1\r\nhost: r\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n`);
    await eventually("504 from the node:http path", () => responses(slow.received())[0]);
    expect(responses(slow.received())[0]!.status).toBe(504);
    expect(engine.handOffs()).toBe(1);
    await eventually("nothing in flight", () => router.inFlightForSet("d") === 0 || undefined);
  });

  it.each([
    ["its head", `POST ${PATH} HTTP/1.1\r\nhost: r\r\nx-slow: `],
    ["its body", `POST ${PATH} HTTP/1.1\r\nhost: r\r\ncontent-length: 1000\r\n\r\n`],
  ])("cuts off a client that trickles %s in for too long (408), as node:http would", async (_what, prefix) => {
    let replicaSaw = 0;
    const url = await replica((req, res) => {
      replicaSaw++;
      req.resume();
      res.end();
    });
    const { router, port } = await setup([url], { headersTimeoutMs: 300, requestTimeoutMs: 300 });
    const client = await rawClient(port);
    client.socket.write(prefix);
    const started = Date.now();
    // a byte every 50 ms: never silent long enough for the keep-alive timeout, never complete
    const trickle = setInterval(() => client.socket.write("a"), 50);
    try {
      await client.closed;
    } finally {
      clearInterval(trickle);
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(replicaSaw).toBe(0);
    expect(router.inFlightForSet("d")).toBe(0);
  });

  it("does not let a slow reader make it buffer a large response", async () => {
    const size = 64 * 1024 * 1024;
    let sent = 0;
    let blocked = 0;
    const url = await replica((req, res) => {
      req.resume();
      res.writeHead(200, { "content-length": size });
      const chunk = Buffer.alloc(64 * 1024, 120);
      const pump = (): void => {
        while (sent < size) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            blocked++;
            return void res.once("drain", pump);
          }
        }
        res.end();
      };
      pump();
    });
    // A replica timeout shorter than the pause below: a paused client is not the replica's silence,
    // the body must survive. Not shorter than 1 s: on a loaded machine (load 30 here) the replica
    // process itself can go 200 ms without CPU while the relay flows, which is real silence.
    const { port } = await setup([url], { replicaTimeoutMs: 1_000 });
    const client = await rawClient(port);
    client.socket.pause();
    client.socket.write(post("big"));
    await eventually("the replica blocked on a full socket", () => blocked > 0 || undefined);
    // A window in which an unbounded relay would have taken all 64 MB from the replica, and longer
    // than the replica timeout, so that counting a paused client as silence would cut the body.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(sent).toBeLessThan(size / 2);
    let received = 0;
    client.socket.removeAllListeners("data");
    client.socket.on("data", (chunk: Buffer) => (received += chunk.length));
    client.socket.resume();
    await eventually("the whole body", () => received >= size || undefined, 60_000);
  });

  it("answers any mix of fast, handed-off and rejected requests, pipelined and split anywhere, in order", async () => {
    const { router, engine, port } = await setup([await echoReplica()]);
    type Case = { bytes: string; status: number; body?: string; last?: boolean };
    const text = fc.string({ unit: fc.constantFrom("a", "b", "{", "}", '"', " ", "é", "\r", "\n", "0"), maxLength: 40 });
    const headerName = fc.constantFrom("X-Trace", "x-trace", "Accept", "user-agent", "X-Empty");
    const extraHeaders = fc.array(fc.tuple(headerName, fc.stringMatching(/^[ -~]{0,12}$/)), { maxLength: 3 });
    const fields = (headers: [string, string][]) => headers.map(([name, value]) => `${name}: ${value}\r\n`).join("");
    const request: fc.Arbitrary<Case> = fc.oneof(
      fc.record({ body: text, headers: extraHeaders, lengthName: fc.constantFrom("content-length", "Content-Length", "CONTENT-LENGTH") }).map(({ body, headers, lengthName }) => ({
        bytes: `POST ${PATH} HTTP/1.1\r\nHost: r\r\n${fields(headers)}${lengthName}:  ${Buffer.byteLength(body)} \r\n\r\n${body}`,
        status: 200,
        body: `echo:${body}`,
      })),
      fc.array(text.filter((chunk) => chunk.length > 0), { minLength: 1, maxLength: 3 }).map((chunks) => ({
        bytes: `POST ${PATH} HTTP/1.1\r\nhost: r\r\ntransfer-encoding: chunked\r\n\r\n${chunks.map((chunk) => `${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n`).join("")}0\r\n\r\n`,
        status: 200,
        body: `echo:${chunks.join("")}`,
      })),
      fc.constant({ bytes: `GET ${PATH} HTTP/1.1\r\nhost: r\r\n\r\n`, status: 405 }),
      fc.constant({ bytes: `POST /models/nope/production/predict HTTP/1.1\r\nhost: r\r\ncontent-length: 0\r\n\r\n`, status: 404 }),
      fc.constant({ bytes: "GET /v1/models HTTP/1.1\r\nhost: r\r\n\r\n", status: 418 }),
    );
    // node:http answers a malformed request with 400 and closes: only ever the last one
    const malformed: fc.Arbitrary<Case> = fc.constantFrom(
      `POST ${PATH} HTTP/1.1\r\nhost: r\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab`,
      `POST ${PATH} HTTP/1.1\r\nhost: r\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`,
      `POST ${PATH} HTTP/1.1\r\nhost: r\r\nx-bad\n: 1\r\ncontent-length: 0\r\n\r\n`,
    ).map((bytes) => ({ bytes, status: 400, last: true }));
    const scenario = fc.record({
      requests: fc.array(request, { minLength: 1, maxLength: 6 }),
      ending: fc.option(malformed, { nil: undefined }),
      cuts: fc.array(fc.nat(), { maxLength: 4 }),
    });
    await fc.assert(
      fc.asyncProperty(scenario, async ({ requests, ending, cuts }) => {
        const cases = ending === undefined ? requests : [...requests, ending];
        const stream = Buffer.from(cases.map((c) => c.bytes).join(""));
        const client = await rawClient(port);
        const points = [...new Set(cuts.map((cut) => cut % stream.length))].sort((a, b) => a - b);
        let from = 0;
        for (const point of [...points, stream.length]) {
          if (point > from) client.socket.write(stream.subarray(from, point));
          from = point;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        const received = () => responses(client.received());
        const explain = (error: Error) => {
          throw new Error(`${error.message} to ${JSON.stringify(cases.map((c) => c.bytes))}: got ${JSON.stringify(client.received())}`);
        };
        if (ending === undefined) {
          await eventually(`${cases.length} responses`, () => received().length === cases.length || undefined, 10_000).catch(explain);
        } else {
          // node:http rejects the malformed request by closing the connection, with a 400 when no
          // answer is under way, dropping requests it had not answered yet (its own pipelining
          // rules, the same without the fast path): what did arrive must be in order.
          await Promise.race([client.closed, new Promise((_, reject) => setTimeout(() => reject(new Error("still open")), 10_000))]).catch(explain);
        }
        const answered = received();
        // the 400 comes in place of the first request node:http had not answered yet
        if (ending !== undefined && answered.at(-1)?.status === 400) answered.pop();
        expect(answered.length).toBeLessThanOrEqual(requests.length);
        answered.forEach((response, index) => {
          expect(response.status, `${JSON.stringify(cases.map((c) => c.bytes))} → ${JSON.stringify(client.received())}`).toBe(cases[index]!.status);
          // the client's bytes are read as latin1
          if (cases[index]!.body !== undefined) expect(response.body).toBe(Buffer.from(cases[index]!.body!).toString("latin1"));
        });
        client.socket.destroy();
        await eventually("nothing in flight", () => router.inFlightForSet("d") === 0 || undefined).catch((error: Error) => {
          throw new Error(`${error.message}: ${router.inFlightForSet("d")} in flight after ${JSON.stringify(client.received())}`);
        });
      }),
      { numRuns: 60, endOnFailure: true },
    );
    expect(engine.handOffs()).toBeGreaterThan(0);
  });
});
