import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { callWebhook } from "../../../engine/webhooks/call-webhook.js";
import { PromotionWebhook } from "../../../sdk/index.js";

let server: Server | undefined;
afterEach(() => server?.close());

/** A receiver answering `statuses` in turn (the last one from then on), recording the bodies. */
async function receiver(statuses: number[], delayMs = 0): Promise<{ url: string; bodies: unknown[] }> {
  const bodies: unknown[] = [];
  let call = 0;
  server = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk: Buffer) => (text += chunk.toString()));
    req.on("end", () => {
      bodies.push(JSON.parse(text));
      const status = statuses[Math.min(call++, statuses.length - 1)]!;
      setTimeout(() => res.writeHead(status).end(status >= 300 ? "accuracy 0.61 < 0.8" : "ok"), delayMs);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/eval`, bodies };
}

const hookAt = (url: string, extra: Record<string, unknown> = {}) => PromotionWebhook.parse({ type: "pre-rollout", name: "eval", url, retries: 2, ...extra });

describe("calling a webhook gate", () => {
  it("passes on a 2xx after failed attempts, sending the body each time", async () => {
    const { url, bodies } = await receiver([503, 200]);
    const result = await callWebhook({ hook: hookAt(url), body: { endpoint: "/models/m/deployment/d/predict" }, now: () => 0 });
    expect(result).toEqual({ name: "eval", type: "pre-rollout", passed: true, attempts: 2, http_status: 200, message: "answered 200 (attempt 2 of 3)", at: "1970-01-01T00:00:00.000Z" });
    expect(bodies).toEqual([{ endpoint: "/models/m/deployment/d/predict" }, { endpoint: "/models/m/deployment/d/predict" }]);
  });

  it("fails after retries + 1 non-2xx answers, with the receiver's reason", async () => {
    const { url, bodies } = await receiver([500]);
    const result = await callWebhook({ hook: hookAt(url), body: {}, now: () => 0 });
    expect(result).toMatchObject({ passed: false, attempts: 3, http_status: 500, message: "answered 500: accuracy 0.61 < 0.8 (last of 3 attempts)" });
    expect(bodies).toHaveLength(3);
  });

  it("an answer later than timeout_seconds, or no receiver, is a failure too", async () => {
    const { url } = await receiver([200], 1_500);
    expect(await callWebhook({ hook: hookAt(url, { timeout_seconds: 1, retries: 0 }), body: {}, now: () => 0 })).toMatchObject({
      passed: false,
      http_status: null,
      message: "no answer within 1 s (last of 1 attempts)",
    });
    expect(await callWebhook({ hook: hookAt("http://127.0.0.1:1/eval", { retries: 0 }), body: {}, now: () => 0 })).toMatchObject({
      passed: false,
      message: expect.stringMatching(/^unreachable: /),
    });
  });
});
