/**
 * GET /v1/events against a real engine with real replicas: a rolling promotion's transitions arrive
 * in order and once each; a reconnect with Last-Event-ID loses and repeats nothing; filters; the
 * key rules; a restart answers a resume with `reset`; shutdown ends open streams.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModelplaneEvent } from "../../sdk/schemas/event.js";
import type { Promotion } from "../../sdk/schemas/promotion.js";
import { SseParser, type SseMessage } from "../../sdk/sse-parser.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { copyPgliteTemplate, startTestEngine, waitFor, type TestEngine } from "../../testing/index.js";
import { ENGINE_OPTIONS, modelOnV1 } from "./promotion-support.js";

let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine({ ...ENGINE_OPTIONS });
});
afterAll(async () => engine?.close());

/** A raw SSE connection: every message with its id, read as it arrives. */
interface RawStream {
  status: number;
  messages: SseMessage[];
  lastEventId(): string | undefined;
  closed: Promise<void>;
  close(): void;
}

async function openStream(query = "", headers: Record<string, string> = {}, on: TestEngine = engine): Promise<RawStream> {
  const abort = new AbortController();
  const response = await fetch(`${on.url}/v1/events${query}`, {
    headers: { authorization: `Api-Key ${on.apiKey}`, ...headers },
    signal: abort.signal,
  });
  const parser = new SseParser(headers["last-event-id"]);
  const messages: SseMessage[] = [];
  const closed = (async () => {
    if (response.body === null || response.status !== 200) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body) messages.push(...parser.push(decoder.decode(chunk, { stream: true })));
    } catch {
      // aborted by close()
    }
  })();
  return { status: response.status, messages, lastEventId: () => parser.lastEventId, closed, close: () => abort.abort() };
}

const eventsOf = (stream: RawStream): ModelplaneEvent[] => stream.messages.map((message) => JSON.parse(message.data) as ModelplaneEvent);
const promotionsOf = (stream: RawStream, promotionId: string): Promotion[] =>
  eventsOf(stream).flatMap((event) => (event.type === "promotion.changed" && event.promotion.id === promotionId ? [event.promotion] : []));
const isTerminal = (promotion: Promotion | undefined) => promotion !== undefined && ["SUCCEEDED", "FAILED", "CANCELED"].includes(promotion.status);
const sequenceOf = (id: string | undefined) => Number(id?.split(".")[1]);

describe("GET /v1/events", () => {
  it("needs a key like every route: none → 401, an inference key → 403, a bad filter → 400 naming it", async () => {
    const anonymous = await fetch(`${engine.url}/v1/events`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toBe("Api-Key");
    const inference = await engine.client.createApiKey({ name: "events-inference", scope: "inference" });
    const forbidden = await fetch(`${engine.url}/v1/events`, { headers: { authorization: `Api-Key ${inference.key}` } });
    expect(forbidden.status).toBe(403);
    const bad = await fetch(`${engine.url}/v1/events?environment=Not_A_Name`, { headers: { authorization: `Api-Key ${engine.apiKey}` } });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("environment");
    const unknown = await fetch(`${engine.url}/v1/events?colour=red`, { headers: { authorization: `Api-Key ${engine.apiKey}` } });
    expect(unknown.status).toBe(400);
    const post = await fetch(`${engine.url}/v1/events`, { method: "POST", headers: { authorization: `Api-Key ${engine.apiKey}` } });
    expect(post.status).toBe(405);
  });

  it("a rolling promotion's transitions arrive in order, once each, and a reconnect with Last-Event-ID loses and repeats none", async () => {
    const { model, params, v2 } = await modelOnV1(engine, "events-rolling", 2, {
      rolling_deploy: true,
      rolling_deploy_config: { max_surge_percent: 50, max_unavailable_percent: 0, stabilization_time_seconds: 1 },
    });
    const query = `?model_id=${model.id}`;
    // the reference stays connected throughout; the other drops after the first promotion event and resumes
    const reference = await openStream(query);
    const first = await openStream(query);
    expect(reference.status).toBe(200);
    const received: Array<{ at: number; updatedAt: string }> = [];
    const promotion = await engine.client.call("promote", { params, body: { deployment_id: v2.id } });
    await waitFor(() => promotionsOf(first, promotion.id).length > 0, { message: "the first promotion event" });
    first.close();
    await first.closed;
    const resumeFrom = first.lastEventId();
    const seenBeforeDrop = first.messages.length;
    // let transitions happen while the client is away
    await waitFor(() => promotionsOf(reference, promotion.id).some((p) => p.percent_traffic_to_new_version > 0), { timeoutMs: 60_000, message: "a step while disconnected" });
    const resumed = await openStream(query, { "last-event-id": resumeFrom ?? "" });
    const watch = setInterval(() => {
      const latest = promotionsOf(reference, promotion.id).at(-1);
      if (latest !== undefined && received.at(-1)?.updatedAt !== latest.updated_at) received.push({ at: Date.now(), updatedAt: latest.updated_at });
    }, 5);
    await waitFor(() => isTerminal(promotionsOf(reference, promotion.id).at(-1)) && isTerminal(promotionsOf(resumed, promotion.id).at(-1)), {
      timeoutMs: 90_000,
      message: "the promotion's end on both streams",
    });
    clearInterval(watch);
    reference.close();
    resumed.close();

    const transitions = promotionsOf(reference, promotion.id);
    expect(transitions.at(-1)?.status).toBe("SUCCEEDED");
    // in order: traffic only grows, steps only advance, and no event repeats the one before it
    for (let index = 1; index < transitions.length; index++) {
      const [before, after] = [transitions[index - 1]!, transitions[index]!];
      expect(after.percent_traffic_to_new_version).toBeGreaterThanOrEqual(before.percent_traffic_to_new_version);
      expect(after.step).toBeGreaterThanOrEqual(before.step);
      expect(JSON.stringify(after)).not.toBe(JSON.stringify(before));
    }
    expect([...new Set(transitions.map((p) => p.percent_traffic_to_new_version))]).toEqual(expect.arrayContaining([50, 100]));
    // ids strictly increase
    const referenceIds = reference.messages.map((message) => message.lastEventId);
    for (let index = 1; index < referenceIds.length; index++) expect(sequenceOf(referenceIds[index])).toBeGreaterThan(sequenceOf(referenceIds[index - 1]));
    // dropped + resumed = the reference, event for event (none lost, none twice)
    const stitched = [...first.messages.slice(0, seenBeforeDrop), ...resumed.messages].map((message) => `${message.lastEventId} ${message.data}`);
    const whole = reference.messages.map((message) => `${message.lastEventId} ${message.data}`);
    expect(resumed.messages.length).toBeGreaterThan(0);
    expect(stitched).toEqual(whole.slice(whole.indexOf(stitched[0]!), whole.indexOf(stitched[0]!) + stitched.length));
    expect(stitched.at(-1)).toBe(whole.at(-1));
    // latency: the promotion row's write (updated_at, the reconciler's clock) to the client
    const latencies = received.map((sample) => sample.at - Date.parse(sample.updatedAt)).sort((a, b) => a - b);
    console.log(`events: ${transitions.length} promotion events; write → client latency ms: median ${latencies[Math.floor(latencies.length / 2)]}, max ${latencies.at(-1)} (${latencies.join(", ")})`);
  });

  it("filters by model and by environment", async () => {
    const all = await openStream();
    const none = await openStream("?model_id=mdl_none");
    const a = await engine.client.call("createModel", { body: { name: "events-filter-a" } });
    const b = await engine.client.call("createModel", { body: { name: "events-filter-b" } });
    const byModel = await openStream(`?model_id=${a.id}`);
    const byEnvironment = await openStream("?environment=staging");
    await engine.client.call("createEnvironment", { params: { model_id: a.id }, body: { name: "staging" } });
    await engine.client.call("createEnvironment", { params: { model_id: b.id }, body: { name: "canary" } });
    await engine.client.call("createEnvironment", { params: { model_id: b.id }, body: { name: "staging" } });
    await waitFor(() => eventsOf(all).filter((event) => event.type === "environment.changed").length >= 5, { message: "every environment event" });
    await waitFor(() => eventsOf(byEnvironment).length >= 2, { message: "the staging events" });
    for (const stream of [all, none, byModel, byEnvironment]) stream.close();
    expect(eventsOf(none)).toEqual([]);
    expect(eventsOf(byModel)).toEqual([{ type: "environment.changed", model_id: a.id, environment: "staging", deleted: false }]);
    expect(eventsOf(byEnvironment)).toEqual([
      { type: "environment.changed", model_id: a.id, environment: "staging", deleted: false },
      { type: "environment.changed", model_id: b.id, environment: "staging", deleted: false },
    ]);
    expect(eventsOf(all).filter((event) => event.type === "model.created").map((event) => "model_id" in event && event.model_id)).toEqual([a.id, b.id]);
  });

  it("client.events() yields the same events and resumes after its own position", async () => {
    const abort = new AbortController();
    // where the stream stands now (its first, data-less message), so nothing created below can be missed
    const probe = await openStream();
    const now = await waitFor(() => probe.lastEventId(), { message: "the stream's position" });
    probe.close();
    const iterator = engine.client.events({ lastEventId: now, signal: abort.signal });
    const firstEvent = iterator.next();
    const model = await engine.client.call("createModel", { body: { name: "events-client" } });
    const created = (await firstEvent).value;
    expect(created?.event).toEqual({ type: "model.created", model_id: model.id });
    await iterator.return(undefined);
    await engine.client.call("deleteModel", { params: { model_id: model.id } });
    const resumed = engine.client.events({ lastEventId: created?.id, signal: abort.signal });
    const next = await resumed.next();
    // the event after model.created: its production environment, created in the same transaction
    expect(next.value?.event).toEqual({ type: "environment.changed", model_id: model.id, environment: "production", deleted: false });
    abort.abort();
    await resumed.return(undefined);
  });

  it("a resume from another engine process, a malformed or a future id gets `reset`, then live events", async () => {
    const probe = await openStream();
    const now = await waitFor(() => probe.lastEventId(), { message: "the stream's position" });
    probe.close();
    const [epoch, sequence] = now.split(".");
    const future = `${epoch}.${Number(sequence) + 1000}`;
    for (const id of ["0abc.5", "garbage", future]) {
      const stream = await openStream("", { "last-event-id": id });
      await waitFor(() => stream.messages.length >= 1, { message: `the reset for ${id}` });
      stream.close();
      expect(stream.messages[0]?.event).toBe("reset");
    }
  });

  it("engine shutdown ends open streams; after a restart a resume gets `reset` (ids are per engine process), then the new engine's events", async () => {
    const dataDir = join(await mkdtemp(join(tmpdir(), "modelplane-events-")), "data");
    await copyPgliteTemplate(dataDir);
    let own = await startTestEngine({ dataDir });
    try {
      const port = new URL(own.url).port;
      const stream = await openStream("", {}, own);
      const model = await own.client.call("createModel", { body: { name: "events-restart" } });
      await waitFor(() => eventsOf(stream).length >= 2, { message: "the model's events" });
      const closing = own.close();
      // the stream ends by itself: close() does not wait for the client to go away
      await stream.closed;
      await closing;
      own = await startTestEngine({ dataDir, port: Number(port) });
      const resumed = await openStream("", { "last-event-id": stream.lastEventId() ?? "" }, own);
      await own.client.call("deleteModel", { params: { model_id: model.id } });
      await waitFor(() => eventsOf(resumed).some((event) => event.type === "model.deleted"), { message: "the deletion on the new engine" });
      resumed.close();
      expect(eventsOf(resumed)[0]).toMatchObject({ type: "reset" });
      expect(eventsOf(resumed).slice(1).map((event) => event.type)).toContain("model.deleted");
    } finally {
      await own.close();
      await rm(join(dataDir, ".."), { recursive: true, force: true });
    }
  });
});
