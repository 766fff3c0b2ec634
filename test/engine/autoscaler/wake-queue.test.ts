import { describe, expect, it } from "vitest";
import { WakeQueue } from "../../../engine/autoscaler/wake-queue.js";
import { seededRandom } from "../rollout/support.js";

describe("WakeQueue", () => {
  it("hands out what is due, earliest first, across random pushes, takes and retains", () => {
    const random = seededRandom(7);
    const queue = new WakeQueue<number>();
    let model: Array<{ at: number; item: number }> = [];
    let now = 0;
    for (let round = 0; round < 2_000; round++) {
      const choice = random();
      if (choice < 0.6) {
        const entry = { at: now + Math.floor(random() * 50), item: round };
        queue.push(entry.at, entry.item);
        model.push(entry);
      } else if (choice < 0.95) {
        now += Math.floor(random() * 10);
        const taken: Array<{ at: number; item: number }> = [];
        queue.takeDue(now, (item, at) => taken.push({ at, item }));
        const due = model.filter((entry) => entry.at <= now);
        model = model.filter((entry) => entry.at > now);
        expect(taken.map((entry) => entry.at)).toEqual(due.map((entry) => entry.at).sort((a, b) => a - b));
        expect(new Set(taken.map((entry) => entry.item))).toEqual(new Set(due.map((entry) => entry.item)));
      } else {
        queue.retain((item) => item % 3 !== 0);
        model = model.filter((entry) => entry.item % 3 !== 0);
      }
      expect(queue.size).toBe(model.length);
    }
  });
});
