/**
 * The stream's bounds, with a response that never drains (a client that stopped reading): it
 * buffers at most the high-water mark plus one event, and once what it has not sent leaves the
 * ring it is disconnected, so no client can make the engine's memory grow. Also the ring's
 * resume rules.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { ModelplaneEvent } from "../../../sdk/schemas/event.js";
import { EventRing } from "../../../engine/events/event-ring.js";
import { createEventStreams } from "../../../engine/events/event-stream.js";
import { EventRecorder } from "../../../engine/events/event-recorder.js";
import type { SqlExecutor } from "../../../engine/store/sql.js";

/** A response whose client reads nothing: writes are accepted into the buffer and never complete. */
class StuckResponse extends Writable {
  status = 0;
  constructor() {
    super({ highWaterMark: 1024, write: () => undefined });
  }
  writeHead(status: number): this {
    this.status = status;
    return this;
  }
}

const request = (lastEventId?: string) => ({ headers: lastEventId === undefined ? {} : { "last-event-id": lastEventId } }) as unknown as IncomingMessage;
const created = (index: number): ModelplaneEvent => ({ type: "model.created", model_id: `mdl_${String(index).padStart(40, "0")}` });

describe("event stream bounds", () => {
  it("a client that stops reading holds at most the high-water mark plus one event, then is disconnected when it falls out of the ring", () => {
    const ring = new EventRing(100);
    const streams = createEventStreams({ ring, highWaterBytes: 4096, heartbeatMs: 60_000 });
    const res = new StuckResponse();
    streams.serve(request(), res as unknown as ServerResponse, new URLSearchParams());
    expect(res.status).toBe(200);
    const frameBytes = Buffer.byteLength(ring.append(created(0)).frame);
    let most = 0;
    // 99 more: the ring still holds everything the stream has not sent
    for (let index = 1; index < 100; index++) {
      ring.append(created(index));
      most = Math.max(most, res.writableLength);
    }
    expect(res.destroyed).toBe(false);
    expect(most).toBeGreaterThan(1024);
    expect(most).toBeLessThanOrEqual(4096 + frameBytes + 100);
    expect(streams.open).toBe(1);
    // the ring wraps past the first event the stream did not send: gone
    for (let index = 100; index < 400; index++) ring.append(created(index));
    expect(res.destroyed).toBe(true);
    expect(streams.open).toBe(0);
    expect(res.writableLength).toBeLessThanOrEqual(4096 + frameBytes + 100);
  });

  it("close() ends every stream and refuses new ones with 503", () => {
    const ring = new EventRing(10);
    const streams = createEventStreams({ ring });
    const res = new StuckResponse();
    streams.serve(request(), res as unknown as ServerResponse, new URLSearchParams());
    streams.close();
    expect(res.writableEnded).toBe(true);
    expect(streams.open).toBe(0);
    expect(() => streams.serve(request(), new StuckResponse() as unknown as ServerResponse, new URLSearchParams())).toThrow(/shutting down/);
  });
});

describe("EventRing.positionAfter", () => {
  it("resumes while every later event is held; resets for another epoch, a future or a too-old id", () => {
    const ring = new EventRing(3);
    expect(ring.positionAfter(undefined)).toEqual({ kind: "resume", after: 0 });
    for (let index = 0; index < 5; index++) ring.append(created(index));
    // holds 3, 4, 5
    expect(ring.first).toBe(3);
    expect(ring.positionAfter(ring.idOf(5))).toEqual({ kind: "resume", after: 5 });
    expect(ring.positionAfter(ring.idOf(2))).toEqual({ kind: "resume", after: 2 });
    expect(ring.positionAfter(ring.idOf(1)).kind).toBe("reset");
    expect(ring.positionAfter(ring.idOf(6)).kind).toBe("reset");
    expect(ring.positionAfter(`other.${3}`).kind).toBe("reset");
    expect(ring.positionAfter("3").kind).toBe("reset");
    expect(ring.at(2)).toBeUndefined();
    expect(ring.at(4)?.event).toEqual(created(3));
  });
});

describe("unrecorded changes (nobody watching)", () => {
  it("a resume from before the gap is reset; a client that connected after it resumes; the stream skips the hole", () => {
    const ring = new EventRing(10);
    ring.append(created(0));
    const before = ring.idOf(ring.last);
    ring.markGap();
    ring.markGap();
    // one hole for consecutive unrecorded changes
    expect(ring.last).toBe(2);
    const afterGap = ring.idOf(ring.last);
    expect(ring.positionAfter(before)).toMatchObject({ kind: "reset" });
    expect(ring.positionAfter(afterGap)).toEqual({ kind: "resume", after: 2 });
    // the hole holds no event: nothing to send for it
    expect(ring.at(2)).toBeUndefined();
  });

  it("the recorder reads and records nothing while unwatched, and marks the gap", async () => {
    let watched = false;
    const ring = new EventRing(10);
    // model events need no read: a store that throws proves none is made for the others either
    const sql = { query: () => Promise.reject(new Error("no read expected")) } as unknown as SqlExecutor;
    const recorder = new EventRecorder({ sql, ring, watched: () => watched });
    recorder.record({ type: "model.created", modelId: "mdl_a" });
    recorder.record({ type: "promotion.changed", modelId: "mdl_a", environmentName: "production", promotionId: "prm_a" });
    await recorder.close();
    expect(ring.last).toBe(1);
    expect(ring.at(1)).toBeUndefined();
    watched = true;
    const again = new EventRecorder({ sql, ring, watched: () => watched });
    again.record({ type: "model.deleted", modelId: "mdl_a" });
    await again.close();
    expect(ring.at(2)?.event).toEqual({ type: "model.deleted", model_id: "mdl_a" });
  });

  it("watched(): while a stream is open and for the grace period after the last one closed", () => {
    let now = 1_000;
    const ring = new EventRing(10);
    const streams = createEventStreams({ ring, resumeGraceMs: 500, clock: () => now });
    expect(streams.watched()).toBe(false);
    const res = new StuckResponse();
    streams.serve(request(), res as unknown as ServerResponse, new URLSearchParams());
    expect(streams.watched()).toBe(true);
    res.destroy();
    res.emit("close");
    now += 499;
    expect(streams.watched()).toBe(true);
    now += 2;
    expect(streams.watched()).toBe(false);
  });
});
