/**
 * `GET /v1/events`: the ring's events as server-sent events. Each stream is a cursor into the
 * ring; it writes while the socket's buffer is under `highWaterBytes` and waits for `drain`
 * otherwise, so a slow client costs at most that buffer plus one event. A client so slow that
 * the events it has not read yet leave the ring is disconnected: it reconnects with its
 * Last-Event-ID and gets a `reset`. Heartbeat comments keep proxies from closing an idle stream
 * and let a client notice a dead connection.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { EventsQuery, eventMatches, type ModelplaneEvent } from "../../sdk/schemas/event.js";
import { ModelplaneError, validationError } from "../../sdk/errors.js";
import type { EventRing } from "./event-ring.js";

export interface EventStreamOptions {
  ring: EventRing;
  /** default 15 s */
  heartbeatMs?: number;
  /** bytes a stream may have queued in its socket before it waits for drain; default 64 KiB */
  highWaterBytes?: number;
  /** how long after the last stream closed the engine still records events for a resume; default 5 min */
  resumeGraceMs?: number;
  clock?: () => number;
}

export interface EventStreams {
  /** Answer a request already authorized (throws a ModelplaneError before anything is sent). */
  serve(req: IncomingMessage, res: ServerResponse, searchParams: URLSearchParams): void;
  /** open streams (metrics, tests) */
  readonly open: number;
  /** a stream is open, or one closed within the resume grace period (its client may come back) */
  watched(): boolean;
  /** End every stream (engine shutdown); later requests get 503. */
  close(): void;
}

/** The stream's query, validated (400 naming the field). */
export function parseEventsQuery(searchParams: URLSearchParams): EventsQuery {
  const raw: Record<string, string> = {};
  for (const [name, value] of searchParams) raw[name] = value;
  const parsed = EventsQuery.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, "query");
  return parsed.data;
}

export function createEventStreams(options: EventStreamOptions): EventStreams {
  const { ring } = options;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const highWaterBytes = options.highWaterBytes ?? 64 * 1024;
  const stops = new Set<() => void>();
  const clock = options.clock ?? Date.now;
  const resumeGraceMs = options.resumeGraceMs ?? 5 * 60_000;
  let lastClosedAt = Number.NEGATIVE_INFINITY;
  let closed = false;

  return {
    get open() {
      return stops.size;
    },
    watched() {
      return stops.size > 0 || clock() - lastClosedAt < resumeGraceMs;
    },
    serve(req, res, searchParams) {
      const query = parseEventsQuery(searchParams);
      if (closed) throw new ModelplaneError("UNAVAILABLE", "the engine is shutting down: reconnect (to another engine, or after its restart)");
      const header = req.headers["last-event-id"];
      const position = ring.positionAfter(Array.isArray(header) ? header[0] : header);
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        // reverse proxies (nginx) must not hold events back to fill a buffer
        "x-accel-buffering": "no",
      });
      // `retry` sets EventSource's reconnect delay; the id-only message tells the client where it
      // stands even if nothing happens before it reconnects
      res.write(`retry: 2000\nid: ${ring.idOf(position.kind === "resume" ? position.after : ring.last)}\n\n`);
      if (position.kind === "reset") {
        const reset: ModelplaneEvent = { type: "reset", reason: position.reason };
        res.write(`event: reset\ndata: ${JSON.stringify(reset)}\n\n`);
      }
      let cursor = position.kind === "resume" ? position.after : ring.last;
      let waitingForDrain = false;

      const pump = (): void => {
        if (res.destroyed) return;
        if (cursor + 1 < ring.first) {
          // what it has not read yet is gone from the ring: the client reconnects and is reset
          stop();
          res.destroy();
          return;
        }
        if (waitingForDrain) return;
        while (cursor < ring.last) {
          const next = ring.at(++cursor);
          if (next === undefined || !eventMatches(next.event, query)) continue;
          res.write(next.frame);
          // past the socket's own high-water mark too, so write() has returned false and 'drain' will come
          if (res.writableLength > Math.max(highWaterBytes, res.writableHighWaterMark)) {
            waitingForDrain = true;
            res.once("drain", () => {
              waitingForDrain = false;
              pump();
            });
            return;
          }
        }
      };
      const heartbeat = setInterval(() => {
        // a stream waiting for drain is already behind: a heartbeat would only add to its buffer
        if (!waitingForDrain) res.write(": heartbeat\n\n");
      }, heartbeatMs);
      heartbeat.unref();
      const unsubscribe = ring.onAppend(pump);
      const stop = (): void => {
        clearInterval(heartbeat);
        unsubscribe();
        if (stops.delete(end)) lastClosedAt = clock();
      };
      const end = (): void => {
        stop();
        res.end();
      };
      stops.add(end);
      res.once("close", stop);
      pump();
    },
    close() {
      closed = true;
      for (const end of [...stops]) end();
    },
  };
}
