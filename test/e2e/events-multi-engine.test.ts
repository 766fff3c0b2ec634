/**
 * GET /v1/events with two engines on one PostgreSQL: a stream on the engine that neither took the
 * request nor drives the promotion still sees the model created through the other engine and every
 * step of its promotion, in order and once each (they reach it through the change feed).
 */
import { describe, expect, it } from "vitest";
import type { ModelplaneEvent } from "../../sdk/schemas/event.js";
import { SseParser } from "../../sdk/sse-parser.js";
import { waitFor, type TestEngine } from "../../testing/index.js";
import { enginesOnPostgres } from "../support/engines-on-postgres.js";
import { ENGINE_OPTIONS, V1_COMMAND } from "./promotion-support.js";

const bed = enginesOnPostgres("events-multi");

/** Where an engine's event stream stands now (the id of its first, data-less message). */
async function positionOf(engine: TestEngine): Promise<string> {
  const abort = new AbortController();
  const response = await fetch(`${engine.url}/v1/events`, { headers: { authorization: `Api-Key ${engine.apiKey}` }, signal: abort.signal });
  const parser = new SseParser();
  const decoder = new TextDecoder();
  for await (const chunk of response.body!) {
    parser.push(decoder.decode(chunk, { stream: true }));
    if (parser.lastEventId !== undefined) break;
  }
  abort.abort();
  return parser.lastEventId!;
}

describe.skipIf(bed.skipReason !== undefined)("events across two engines on one PostgreSQL", () => {
  it("the other engine's stream carries the model and every promotion step, in order, once each", async () => {
    const databaseUrl = await bed.database("events_multi");
    const a = await bed.startEngine(databaseUrl, "a", ENGINE_OPTIONS);
    const b = await bed.startEngine(databaseUrl, "b", ENGINE_OPTIONS);
    const abort = new AbortController();
    const received: ModelplaneEvent[] = [];
    // b's stream position first: resuming from it, nothing created below can be missed
    const position = await positionOf(b);
    const reading = (async () => {
      for await (const { event } of b.client.events({ lastEventId: position, signal: abort.signal })) received.push(event);
    })();
    const model = await a.client.call("createModel", { body: { name: "events-shared" } });
    const params = { model_id: model.id, env_name: "production" };
    const v1 = await a.client.call("createDeployment", { params: { model_id: model.id }, body: { command: V1_COMMAND } });
    const promotion = await a.client.call("promote", { params, body: { deployment_id: v1.id } });
    const promotionEvents = () => received.flatMap((event) => (event.type === "promotion.changed" && event.promotion.id === promotion.id ? [event.promotion] : []));
    await waitFor(() => promotionEvents().at(-1)?.status === "SUCCEEDED", { timeoutMs: 60_000, message: "SUCCEEDED on engine b's stream" });
    abort.abort();
    await reading;
    // (the other engine's notifications go out on separate connections: events about different
    // objects may arrive in another order than they happened — seen: the production environment
    // before its model — while a promotion, read after each notice, only moves forward)
    expect(received).toContainEqual({ type: "model.created", model_id: model.id });
    const seen = promotionEvents();
    expect(seen[0]?.status).not.toBe("SUCCEEDED");
    for (let index = 1; index < seen.length; index++) {
      expect(seen[index]!.percent_traffic_to_new_version).toBeGreaterThanOrEqual(seen[index - 1]!.percent_traffic_to_new_version);
      expect(JSON.stringify(seen[index])).not.toBe(JSON.stringify(seen[index - 1]));
    }
  });
});
