/**
 * The changes engines tell each other on one PostgreSQL go out together: the changes of one turn,
 * and those published while a notification waits, in as few notifications as PostgreSQL's payload
 * limit allows (one NOTIFY a change was the engine's most frequent statement in bench/scale), in
 * order, each change once, and never back to their sender.
 */
import { describe, expect, it } from "vitest";
import { ChangeFeed, notificationPayloads, PAYLOAD_BYTES, type ClusterChange } from "../../../engine/control/change-feed.js";
import type { Sql, SqlParam } from "../../../engine/store/sql.js";
import { describeOnPostgres } from "../../support/postgres-store-for-file.js";
import { loggingStatements } from "../../support/statement-log.js";

const changeOf = (index: number): ClusterChange => ({ type: "replica_set.changed", deploymentId: `dep_${String(index).padStart(20, "0")}` });

describe("notification payloads", () => {
  it("carry every change in order, each under the payload limit, a repeated change once", () => {
    const changes = Array.from({ length: 500 }, (_, index) => changeOf(index));
    const payloads = notificationPayloads("engine-a", [...changes, changeOf(3), changeOf(499)]);
    expect(payloads.length).toBeGreaterThan(1);
    for (const payload of payloads) expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(PAYLOAD_BYTES);
    const carried = payloads.flatMap((payload) => (JSON.parse(payload) as { origin: string; changes: ClusterChange[] }).changes);
    expect(carried).toEqual(changes);
    expect(payloads.length).toBe(Math.ceil(Buffer.byteLength(payloads.join("")) / PAYLOAD_BYTES));
  });

  it("are none for no change", () => {
    expect(notificationPayloads("engine-a", [])).toEqual([]);
  });
});

describeOnPostgres("the change feed on PostgreSQL 15", (store) => {
  it("sends one turn's changes in a few notifications; the other engine gets each in order, the sender none", async () => {
    const statements = loggingStatements(store());
    const receivedBy = { a: [] as ClusterChange[], b: [] as ClusterChange[] };
    const feedOf = (name: "a" | "b") =>
      new ChangeFeed({ sql: statements.sql, onChange: (change) => receivedBy[name].push(change), onGap: () => {} });
    const a = feedOf("a");
    const b = feedOf("b");
    await a.start();
    await b.start();
    try {
      const changes = Array.from({ length: 400 }, (_, index) => changeOf(index));
      for (const change of changes) a.publish(change);
      const deadline = Date.now() + 10_000;
      while (receivedBy.b.length < changes.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(receivedBy.b).toEqual(changes);
      expect(receivedBy.a).toEqual([]);
      // 400 ids of ~60 bytes: 4 notifications, not 400
      expect(statements.count("SELECT pg_notify")).toBe(notificationPayloads("any", changes).length);
      expect(statements.count("SELECT pg_notify")).toBeLessThanOrEqual(4);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("sends the changes of many turns published while a notification waits in the next one", async () => {
    const statements = loggingStatements(store());
    // the first NOTIFY waits until released, as one queued behind requests does
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let held = 0;
    const notifying: Sql = {
      ...statements.sql,
      async query<Row>(text: string, params?: readonly SqlParam[]): Promise<Row[]> {
        if (text.includes("pg_notify") && held++ === 0) await released;
        return statements.sql.query<Row>(text, params);
      },
    };
    const received: ClusterChange[] = [];
    const a = new ChangeFeed({ sql: notifying, onChange: () => {}, onGap: () => {} });
    const b = new ChangeFeed({ sql: statements.sql, onChange: (change) => received.push(change), onGap: () => {} });
    await a.start();
    await b.start();
    try {
      const changes = Array.from({ length: 50 }, (_, index) => changeOf(index));
      a.publish(changes[0]!);
      while (held === 0) await new Promise((resolve) => setImmediate(resolve));
      // 49 more, each in a turn of its own, while the first notification waits
      for (const change of changes.slice(1)) {
        a.publish(change);
        await new Promise((resolve) => setImmediate(resolve));
      }
      release();
      const deadline = Date.now() + 10_000;
      while (received.length < changes.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(received).toEqual(changes);
      expect(statements.count("SELECT pg_notify")).toBe(2);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
