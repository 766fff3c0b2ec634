/**
 * Issue 13, black-box against a real engine (real HTTP, real replica processes): secrets redacted
 * from replica output in every form before anything is stored, long crash lines capped, invalid
 * characters a 400 naming the field, bare-LF requests answered.
 */
import { connect } from "node:net";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEngine, waitFor, type TestEngine } from "../../testing/index.js";
import { ENGINE_OPTIONS, followPromotion } from "./promotion-support.js";

const PROBE = ["node", resolve(import.meta.dirname, "../support/replicas/probe-server.js")];

let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine({ ...ENGINE_OPTIONS, runtime: { ...ENGINE_OPTIONS.runtime, outputTailLines: 200, crashLoopThreshold: 2 } });
});
afterAll(async () => engine?.close());

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json: any }> {
  const response = await fetch(`${engine.url}${path}`, {
    method,
    headers: { authorization: `Api-Key ${engine.apiKey}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, text, json: text ? JSON.parse(text) : undefined };
}

const PEM = [
  "-----BEGIN PRIVATE KEY-----",
  "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7fake1",
  "Zx9k2LmQpR7sT4uVwXyA3bC5dE6fG8hJ0kL1mN2oP4qR5sT7uV9wXfake2",
  "-----END PRIVATE KEY-----",
].join("\n");
const QUOTED = 'pa"ss\\word-with "quotes" and \\ backslashes 7f3a';
const PLAIN = "plain-secret-value-9c1e";

/** Every form of the secrets the replica prints that must not be stored anywhere. */
function leakedForms(text: string): string[] {
  const forms = [
    PLAIN,
    QUOTED,
    JSON.stringify(QUOTED).slice(1, -1),
    PEM,
    JSON.stringify(PEM).slice(1, -1),
    ...PEM.split("\n").filter((line) => !line.startsWith("-----")),
    ...[PLAIN, QUOTED, PEM].map((value) => Buffer.from(value).toString("base64")),
  ];
  return forms.filter((form) => text.includes(form));
}

describe("secrets in replica output (finding 4)", () => {
  it("a replica printing its env every way and exiting 1: no form of a secret in error_message or audit_logs", async () => {
    const model = await engine.client.call("createModel", { body: { name: "redaction" } });
    const params = { model_id: model.id, env_name: "production" };
    await engine.client.call("putVariable", { params: { ...params, name: "PEM_KEY" }, body: { value: PEM, secret: true } });
    await engine.client.call("putVariable", { params: { ...params, name: "QUOTED_SECRET" }, body: { value: QUOTED, secret: true } });
    await engine.client.call("putVariable", { params: { ...params, name: "PLAIN_SECRET" }, body: { value: PLAIN, secret: true } });
    const deployment = await engine.client.call("createDeployment", {
      params: { model_id: model.id },
      body: { command: PROBE, env: { PROBE_PRINT_AND_EXIT: "PEM_KEY,QUOTED_SECRET,PLAIN_SECRET" } },
    });
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: deployment.id } });
    const { final } = await followPromotion(engine, model.id, promotion.id);
    expect(final.status).toBe("FAILED");
    // the output did reach the stored error, redacted
    expect(final.error_message).toContain("[REDACTED]");
    expect(final.error_message).toContain("PEM_KEY=");
    const stored = [
      (await api("GET", `/v1/models/${model.id}/environments/production/promotions`)).text,
      (await api("GET", `/v1/models/${model.id}/deployments/${deployment.id}`)).text,
      (await api("GET", `/v1/models/${model.id}/audit_logs`)).text,
      JSON.stringify(await engine.engine.store.query("SELECT * FROM audit_logs")),
      JSON.stringify(await engine.engine.store.query("SELECT error_message, planner_state FROM promotions")),
      JSON.stringify(await engine.engine.store.query("SELECT error_message FROM deployments")),
    ].join("\n");
    expect(leakedForms(stored)).toEqual([]);
  });
});

describe("a long crash line (finding 6)", () => {
  it("a replica printing 10,000 characters then exiting 1: GET, list deployments and list promotions still answer 200", async () => {
    const model = await engine.client.call("createModel", { body: { name: "long-line" } });
    const deployment = await engine.client.call("createDeployment", {
      params: { model_id: model.id },
      body: { command: PROBE, env: { PROBE_LONG_LINE: "10000" } },
    });
    const promotion = await engine.client.call("promote", {
      params: { model_id: model.id, env_name: "production" },
      body: { deployment_id: deployment.id },
    });
    expect((await followPromotion(engine, model.id, promotion.id)).final.status).toBe("FAILED");
    const failed = await waitFor(async () => {
      const got = await api("GET", `/v1/models/${model.id}/deployments/${deployment.id}`);
      return got.status === 200 && got.json.status === "FAILED" && got.json;
    }, { message: "deployment FAILED" });
    expect(failed.error_message.length).toBeLessThanOrEqual(8192);
    expect(failed.error_message).toContain("xxxxxxxxxx");
    for (const path of [`/v1/models/${model.id}/deployments`, `/v1/models/${model.id}/environments/production/promotions`, `/v1/models/${model.id}/environments/production`]) {
      expect((await api("GET", path)).status, path).toBe(200);
    }
  });
});

describe("invalid characters and a missing cwd (finding 7)", () => {
  it("NUL in a variable, a secret, a deployment env value, a command argument or cwd: 400 naming the field", async () => {
    const model = await engine.client.call("createModel", { body: { name: "nul-bytes" } });
    const cases: [string, string, unknown, string][] = [
      ["PUT", `/v1/models/${model.id}/environments/production/variables/A_VAR`, { value: "a\u0000b" }, "value"],
      ["PUT", `/v1/models/${model.id}/environments/production/variables/A_SECRET`, { value: "a\u0000b", secret: true }, "value"],
      ["POST", `/v1/models/${model.id}/deployments`, { command: PROBE, env: { X: "a\u0000b" } }, "env.X"],
      ["POST", `/v1/models/${model.id}/deployments`, { command: ["node", "a\u0000b"] }, "command[1]"],
      ["POST", `/v1/models/${model.id}/deployments`, { command: PROBE, cwd: "/tmp\u0000x" }, "cwd"],
      ["PUT", `/v1/models/${model.id}/deployments/development`, { command: PROBE, cwd: "/tmp\nx" }, "cwd"],
    ];
    for (const [method, path, body, field] of cases) {
      const answer = await api(method, path, body);
      expect(answer.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(answer.json.error.details.fields.map((f: { path: string }) => f.path)).toContain(field);
    }
  });

  it("a cwd that does not exist: 400 at creation, naming cwd", async () => {
    const model = await engine.client.call("createModel", { body: { name: "missing-cwd" } });
    const answer = await api("POST", `/v1/models/${model.id}/deployments`, { command: PROBE, cwd: "/nonexistent/model-dir" });
    expect(answer.status).toBe(400);
    expect(answer.json.error.details.fields).toEqual([expect.objectContaining({ path: "cwd", rule: "directory_exists" })]);
    expect(answer.json.error.message).toContain("/nonexistent/model-dir does not exist");
  });
});

describe("bare-LF requests (finding 8)", () => {
  for (const [name, request] of [
    ["predict", "POST /models/x/production/predict HTTP/1.1\nHost: a\nContent-Length: 2\n\nhi"],
    ["API", "GET /v1/models HTTP/1.1\nHost: a\n\n"],
  ] as const) {
    it(`a ${name} request with bare LF line ends is answered at once, not after the 5 s keep-alive`, async () => {
      const { port } = new URL(engine.url);
      const started = Date.now();
      const answer = await new Promise<string>((resolveAnswer, reject) => {
        const socket = connect(Number(port), "127.0.0.1", () => socket.write(request));
        let text = "";
        socket.on("data", (chunk) => (text += chunk.toString("latin1")));
        socket.on("close", () => resolveAnswer(text));
        socket.on("error", reject);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(Date.now() - started).toBeLessThan(2_000);
    });
  }
});
