// GET /v1/events read with fetch streaming: EventSource cannot send the Authorization header,
// and the key must not go into the URL. Reconnects with Last-Event-ID, so after a drop or an
// engine restart the page misses no transition and shows none twice (a `reset` event, sent when
// the engine cannot resume — e.g. it restarted — makes the views refetch instead).
// The parser follows the SSE format as sdk/sse-parser.ts does (the page loads no TypeScript).

import { session } from "./api.js";

function createParser(onMessage) {
  let buffer = "";
  let event = "";
  let data = [];
  let pendingId;
  let lastId;
  return {
    get lastId() {
      return lastId;
    },
    push(chunk) {
      buffer += chunk;
      for (;;) {
        const newline = buffer.search(/\r\n|\r|\n/);
        if (newline < 0 || (buffer[newline] === "\r" && newline === buffer.length - 1)) return;
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
        if (line === "") {
          // an id counts once its message is complete: a message cut by a drop is asked for again
          lastId = pendingId;
          if (data.length > 0) onMessage({ event: event || "message", data: data.join("\n"), id: lastId });
          event = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
        else if (field === "id") pendingId = value;
      }
    },
  };
}

/**
 * Follows the event stream until stop() is called. onEvent(event) for each state change (reset
 * included); onStatus("live" | "reconnecting" | "denied").
 */
export function followEvents({ onEvent, onStatus }) {
  let stopped = false;
  let lastEventId;
  let controller;
  let delay = 500;

  async function connectOnce() {
    controller = new AbortController();
    const headers = { accept: "text/event-stream", authorization: `Api-Key ${session.key() ?? ""}` };
    if (lastEventId !== undefined) headers["last-event-id"] = lastEventId;
    const response = await fetch("/v1/events", { headers, signal: controller.signal, cache: "no-store" });
    if (response.status === 401 || response.status === 403) {
      onStatus("denied");
      stopped = true;
      return;
    }
    if (!response.ok || response.body === null) throw new Error(`HTTP ${response.status}`);
    onStatus("live");
    delay = 500;
    const parser = createParser((message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      lastEventId = message.id;
      onEvent(event, message.id);
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    // a heartbeat comes every 15 s: 45 s of silence means the connection is dead
    let idle;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => controller.abort(), 45_000);
    };
    arm();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        arm();
        parser.push(value);
        if (parser.lastId !== undefined) lastEventId = parser.lastId;
      }
    } finally {
      clearTimeout(idle);
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await connectOnce();
      } catch {
        // dropped, engine restarting: reconnect below
      }
      if (stopped) break;
      onStatus("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(5_000, delay * 2);
    }
  })();

  return () => {
    stopped = true;
    controller?.abort();
  };
}
