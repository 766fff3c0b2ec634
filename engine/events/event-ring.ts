/**
 * The engine's recent events, numbered: a fixed-size ring (default the last 10,000) that every
 * open `GET /v1/events` stream reads through its own cursor. A stream never holds a copy of an
 * event, only its position, so memory is the ring's whatever the number or speed of clients.
 * No I/O here: the recorder appends, the stream handler reads.
 */
import { randomBytes } from "node:crypto";
import type { ModelplaneEvent } from "../../sdk/schemas/event.js";

export interface RecordedEvent {
  /** position in this engine process's sequence, from 1 */
  sequence: number;
  /** `<epoch>.<sequence>`: the SSE id */
  id: string;
  event: ModelplaneEvent;
  /** the SSE frame, serialized once for every stream */
  frame: string;
}

export type EventPosition =
  /** resume after this sequence number (0: from the first event this engine recorded) */
  | { kind: "resume"; after: number }
  /** the id is from another engine process, malformed, or older than the ring */
  | { kind: "reset"; reason: string };

export const DEFAULT_RING_SIZE = 10_000;

export class EventRing {
  /** distinguishes this engine process's ids from a previous run's (sequences restart at 1) */
  readonly epoch: string;
  readonly #capacity: number;
  readonly #slots: (RecordedEvent | undefined)[];
  #last = 0;
  /** changes happened after this sequence without being recorded (nobody was watching): no
   * resume from at or before it */
  #gapAfter = -1;
  readonly #listeners = new Set<() => void>();

  constructor(capacity = DEFAULT_RING_SIZE) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`event ring size must be a positive integer, got ${capacity}`);
    this.#capacity = capacity;
    this.#slots = new Array<RecordedEvent | undefined>(capacity);
    // start time + randomness: two engines started in the same millisecond still differ
    this.epoch = `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  }

  /** sequence of the newest event (0 before the first) */
  get last(): number {
    return this.#last;
  }

  /** sequence of the oldest event still held */
  get first(): number {
    return Math.max(1, this.#last - this.#capacity + 1);
  }

  idOf(sequence: number): string {
    return `${this.epoch}.${sequence}`;
  }

  append(event: ModelplaneEvent): RecordedEvent {
    const sequence = ++this.#last;
    const id = this.idOf(sequence);
    const recorded: RecordedEvent = { sequence, id, event, frame: `id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n` };
    this.#slots[sequence % this.#capacity] = recorded;
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch {
        // one stream's failure must not keep the event from the others
      }
    }
    return recorded;
  }

  /**
   * Changes were not recorded (see EventRecorder): a client that saw the last event may have
   * missed them. The gap takes a sequence number of its own (an empty slot), so a client that
   * connects after it stands past it and resumes normally.
   */
  markGap(): void {
    // consecutive unrecorded changes share one hole
    if (this.#gapAfter >= 0 && this.#gapAfter === this.#last - 1) return;
    const hole = ++this.#last;
    this.#slots[hole % this.#capacity] = undefined;
    this.#gapAfter = hole - 1;
  }

  /** The event at `sequence`, if the ring still holds it. */
  at(sequence: number): RecordedEvent | undefined {
    if (sequence < this.first || sequence > this.#last) return undefined;
    return this.#slots[sequence % this.#capacity];
  }

  /**
   * Where a stream starts for a `Last-Event-ID` (undefined: the client has seen nothing, start
   * with what happens next). Resuming needs every event after the id still in the ring.
   */
  positionAfter(lastEventId: string | undefined): EventPosition {
    if (lastEventId === undefined) return { kind: "resume", after: this.#last };
    const match = /^([0-9a-z]+)\.(\d{1,15})$/.exec(lastEventId.trim());
    if (match === null) return { kind: "reset", reason: "Last-Event-ID is not an id this engine sent" };
    if (match[1] !== this.epoch) return { kind: "reset", reason: "Last-Event-ID is from another engine process (restarted, or another engine on the same database)" };
    const after = Number(match[2]);
    if (after > this.#last) return { kind: "reset", reason: "Last-Event-ID is newer than this engine's last event" };
    if (after <= this.#gapAfter) return { kind: "reset", reason: "changes happened while no client was watching; they were not recorded" };
    if (after < this.first - 1) return { kind: "reset", reason: `Last-Event-ID is older than the last ${this.#capacity} events this engine keeps` };
    return { kind: "resume", after };
  }

  /** Called after each append; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
