import { describe, expect, it } from "vitest";
import { ConcurrencyLimit } from "../../../engine/control/concurrency-limit.js";
import { asCaller } from "../../../engine/store/statement-priority.js";

describe("ConcurrencyLimit", () => {
  it("runs at most its limit at once, the others in the order they came, through failures", async () => {
    const limit = new ConcurrencyLimit(2);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const task = (n: number) => async () => {
      started.push(n);
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 2));
      running--;
      if (n === 3) throw new Error("task 3 failed");
      return n;
    };
    const results = await Promise.allSettled([1, 2, 3, 4, 5, 6].map((n) => limit.run(task(n))));
    expect(most).toBe(2);
    expect(started).toEqual([1, 2, 3, 4, 5, 6]);
    expect(results.map((result) => (result.status === "fulfilled" ? result.value : "failed"))).toEqual([1, 2, "failed", 4, 5, 6]);
    // the slots are all free again
    expect(await Promise.all([limit.run(async () => "a"), limit.run(async () => "b")])).toEqual(["a", "b"]);
  });

  it("takes turns between callers: a pipeline's burst of tasks waits behind itself, a user's task after one of them", async () => {
    const limit = new ConcurrencyLimit(1);
    const started: string[] = [];
    const task = (name: string) => async () => {
      started.push(name);
      await new Promise((resolve) => setImmediate(resolve));
    };
    const pipeline = [0, 1, 2, 3].map((n) => asCaller("key_pipeline", () => limit.run(task(`pipeline${n}`))));
    // the caller is the one whose work asked for the task (asCaller around it), or given
    const user = [limit.run(task("user0"), "key_user"), asCaller("key_user", () => limit.run(task("user1")))];
    await Promise.all([...pipeline, ...user]);
    expect(started).toEqual(["pipeline0", "pipeline1", "user0", "pipeline2", "user1", "pipeline3"]);
  });
});
