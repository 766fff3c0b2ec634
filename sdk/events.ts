/**
 * `client.events()`: the engine's `GET /v1/events` as an async iterator that reconnects by itself
 * and resumes with `Last-Event-ID`, so a caller sees every event once, in order — or a `reset`
 * event when the engine could not resume (it restarted, or the client was away longer than its
 * ring of recent events): then refetch what you show.
 */
import type { Dispatcher } from "undici";
import { errorFromBody, errorFromStatus } from "./client-errors.js";
import { ErrorBody } from "./errors.js";
import { ModelplaneEvent } from "./schemas/event.js";
import { SseParser } from "./sse-parser.js";

export interface EventsOptions {
  /** only this model's events */
  modelId?: string;
  /** only environment and promotion events of environments with this name */
  environment?: string;
  /** resume after this event (an id an earlier stream gave) */
  lastEventId?: string;
  /** ends the iteration */
  signal?: AbortSignal;
  /** a connection with no byte for this long is dead (the engine sends a heartbeat every 15 s); default 45 s */
  idleTimeoutMs?: number;
  /** wait before reconnecting after a drop; default 500 ms, doubling to 5 s while the engine stays away */
  reconnectDelayMs?: number;
}

export interface StreamedEvent {
  /** the SSE id: pass it back as `lastEventId` to resume after this event */
  id: string | undefined;
  event: ModelplaneEvent;
}

/** An error that reconnecting cannot fix (401, 403, 400): the iteration throws it. */
function isFinal(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

const pause = (ms: number, signal: AbortSignal | undefined) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

export async function* streamEvents(
  dispatcher: Dispatcher,
  authorization: string | undefined,
  options: EventsOptions = {},
): AsyncGenerator<StreamedEvent, void, undefined> {
  const query = new URLSearchParams();
  if (options.modelId !== undefined) query.set("model_id", options.modelId);
  if (options.environment !== undefined) query.set("environment", options.environment);
  const path = `/v1/events${query.size > 0 ? `?${query}` : ""}`;
  let lastEventId = options.lastEventId;
  let failures = 0;
  const baseDelay = options.reconnectDelayMs ?? 500;
  while (!options.signal?.aborted) {
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if (authorization !== undefined) headers.authorization = authorization;
    if (lastEventId !== undefined) headers["last-event-id"] = lastEventId;
    let response: Dispatcher.ResponseData;
    try {
      response = await dispatcher.request({
        method: "GET",
        path,
        headers,
        headersTimeout: options.idleTimeoutMs ?? 45_000,
        bodyTimeout: options.idleTimeoutMs ?? 45_000,
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      });
    } catch {
      if (options.signal?.aborted) return;
      await pause(Math.min(5_000, baseDelay * 2 ** failures++), options.signal);
      continue;
    }
    if (response.statusCode !== 200) {
      const text = await response.body.text().catch(() => "");
      if (isFinal(response.statusCode)) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          throw errorFromStatus(response.statusCode, text);
        }
        const body = ErrorBody.safeParse(parsed);
        throw body.success ? errorFromBody(body.data) : errorFromStatus(response.statusCode, text);
      }
      await pause(Math.min(5_000, baseDelay * 2 ** failures++), options.signal);
      continue;
    }
    failures = 0;
    const parser = new SseParser(lastEventId);
    // one decoder per connection: a character split across two chunks is joined, not garbled
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body) {
        for (const message of parser.push(decoder.decode(chunk as Uint8Array, { stream: true }))) {
          const event = ModelplaneEvent.safeParse(JSON.parse(message.data));
          // an event type newer than this client: skipped, but its id still counts
          lastEventId = message.lastEventId;
          if (event.success) yield { id: message.lastEventId, event: event.data };
        }
        lastEventId = parser.lastEventId;
      }
    } catch {
      // dropped or idle connection: reconnect below
    } finally {
      response.body.destroy();
    }
    if (options.signal?.aborted) return;
    await pause(baseDelay, options.signal);
  }
}
