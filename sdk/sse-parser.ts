/**
 * Server-sent events wire format (WHATWG HTML §9.2.6), incrementally: feed it text chunks as they
 * arrive, get whole messages back. A message's `id` is the last id seen so far (the spec's "last
 * event ID"), which is what a reconnect sends as `Last-Event-ID`. Pure: no I/O.
 */
export interface SseMessage {
  /** `event:` field; "message" when absent */
  event: string;
  data: string;
  /** the last event id at this message (set by this or an earlier message) */
  lastEventId: string | undefined;
}

export class SseParser {
  #buffer = "";
  #event = "";
  #data: string[] = [];
  /** the id field of the message being read: it counts only once the message is complete (a
   * connection cut in the middle of a message must not skip it on resume) */
  #pendingId: string | undefined;
  #lastEventId: string | undefined;

  /** `lastEventId`: where a resumed stream stands already */
  constructor(lastEventId?: string) {
    this.#pendingId = lastEventId;
    this.#lastEventId = lastEventId;
  }

  /** id of the last complete message, also from messages without data (they set it without being dispatched) */
  get lastEventId(): string | undefined {
    return this.#lastEventId;
  }

  push(chunk: string): SseMessage[] {
    this.#buffer += chunk;
    const messages: SseMessage[] = [];
    for (;;) {
      const newline = this.#buffer.search(/\r\n|\r|\n/);
      if (newline < 0) break;
      // a lone \r at the end may be the first half of \r\n: wait for the next chunk
      if (this.#buffer[newline] === "\r" && newline === this.#buffer.length - 1) break;
      const line = this.#buffer.slice(0, newline);
      this.#buffer = this.#buffer.slice(newline + (this.#buffer.startsWith("\r\n", newline) ? 2 : 1));
      const message = this.#line(line);
      if (message !== undefined) messages.push(message);
    }
    return messages;
  }

  #line(line: string): SseMessage | undefined {
    if (line === "") {
      this.#lastEventId = this.#pendingId;
      const data = this.#data;
      const event = this.#event;
      this.#data = [];
      this.#event = "";
      if (data.length === 0) return undefined;
      return { event: event === "" ? "message" : event, data: data.join("\n"), lastEventId: this.#lastEventId };
    }
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.#event = value;
    else if (field === "data") this.#data.push(value);
    else if (field === "id" && !value.includes("\0")) this.#pendingId = value;
    return undefined;
  }
}
