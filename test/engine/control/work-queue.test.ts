/**
 * The controller's event queue (engine/control/work-queue.ts): in order per model, models at once up
 * to the limit, work of no one model alone. Work here is a deferred the test resolves, so every
 * assertion is about which work has started, never about time.
 */
import { describe, expect, it } from "vitest";
import { KeyedWorkQueue } from "../../../engine/control/work-queue.js";

interface Work {
  started: boolean;
  finish(): void;
  fail(error: Error): void;
  run: () => Promise<void>;
}

function work(): Work {
  const item: Work = {
    started: false,
    finish: () => undefined,
    fail: () => undefined,
    run: () => {
      item.started = true;
      return new Promise<void>((resolve, reject) => {
        item.finish = resolve;
        item.fail = reject;
      });
    },
  };
  return item;
}

/** Let every promise callback that can run, run. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 10; turn += 1) await new Promise((resolve) => setImmediate(resolve));
}

const ignore = () => undefined;

describe("the controller's event queue", () => {
  it("runs one model's work in order, and other models' beside it", async () => {
    const queue = new KeyedWorkQueue(4);
    const [a1, a2, b1] = [work(), work(), work()];
    const a2Done = queue.enqueue("model-a", a1.run, ignore);
    queue.enqueue("model-a", a2.run, ignore);
    queue.enqueue("model-b", b1.run, ignore);
    await settle();
    expect([a1.started, a2.started, b1.started]).toEqual([true, false, true]);
    a1.finish();
    await settle();
    expect(a2.started).toBe(true);
    a2.finish();
    b1.finish();
    await a2Done;
    await queue.idle();
  });

  it("runs at most `limit` models' work at once, the next as one ends", async () => {
    const queue = new KeyedWorkQueue(2);
    const items = [work(), work(), work()];
    items.forEach((item, index) => queue.enqueue(`model-${index}`, item.run, ignore));
    await settle();
    expect(items.map((item) => item.started)).toEqual([true, true, false]);
    items[1]!.finish();
    await settle();
    expect(items[2]!.started).toBe(true);
    items[0]!.finish();
    items[2]!.finish();
    await queue.idle();
  });

  it("runs work of no model alone: after all before it, before any after it", async () => {
    const queue = new KeyedWorkQueue(4);
    const [before, resync, after] = [work(), work(), work()];
    queue.enqueue("model-a", before.run, ignore);
    queue.enqueue(undefined, resync.run, ignore);
    queue.enqueue("model-b", after.run, ignore);
    await settle();
    expect([before.started, resync.started, after.started]).toEqual([true, false, false]);
    before.finish();
    await settle();
    expect([resync.started, after.started]).toEqual([true, false]);
    resync.finish();
    await settle();
    expect(after.started).toBe(true);
    after.finish();
    await queue.idle();
  });

  it("reports a failure and runs the work queued after it", async () => {
    const queue = new KeyedWorkQueue(1);
    const [failing, next] = [work(), work()];
    const failures: unknown[] = [];
    const failed = queue.enqueue("model-a", failing.run, (error) => failures.push(error));
    queue.enqueue("model-a", next.run, ignore);
    await settle();
    failing.fail(new Error("sync failed"));
    await failed;
    expect(failures).toEqual([new Error("sync failed")]);
    await settle();
    expect(next.started).toBe(true);
    next.finish();
    await queue.idle();
  });

  it("is idle only once everything queued has run", async () => {
    const queue = new KeyedWorkQueue(4);
    const item = work();
    queue.enqueue("model-a", item.run, ignore);
    let idle = false;
    const waiting = queue.idle().then(() => (idle = true));
    await settle();
    expect(idle).toBe(false);
    item.finish();
    await waiting;
    expect(idle).toBe(true);
  });
});
