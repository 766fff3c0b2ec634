import { describe, expect, it } from "vitest";
import { SseParser } from "../../sdk/sse-parser.js";

describe("SseParser", () => {
  it("joins messages split anywhere, CRLF split across chunks included, and skips comments", () => {
    const text = ": hello\r\nid: e.1\r\nevent: model.created\r\ndata: {\"a\":1}\r\n\r\nid: e.2\ndata: x\ndata: y\n\n";
    for (let cut = 0; cut <= text.length; cut++) {
      const parser = new SseParser();
      const messages = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut))];
      expect(messages).toEqual([
        { event: "model.created", data: '{"a":1}', lastEventId: "e.1" },
        { event: "message", data: "x\ny", lastEventId: "e.2" },
      ]);
    }
  });

  it("an id counts only once its message is complete: a stream cut inside a message resumes before it", () => {
    const parser = new SseParser("e.4");
    parser.push("id: e.5\ndata: half");
    expect(parser.lastEventId).toBe("e.4");
    parser.push("\n\nid: e.6\n\n");
    // a data-less message moves the position without being dispatched
    expect(parser.lastEventId).toBe("e.6");
  });
});
