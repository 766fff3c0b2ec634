import { describe, expect, it } from "vitest";
import { nextResyncDelayMs } from "../../../engine/control/resync-schedule.js";

describe("periodic resync schedule", () => {
  it("keeps the configured period while a resync is short", () => {
    expect(nextResyncDelayMs(10_000, 200)).toBe(10_000);
    expect(nextResyncDelayMs(10_000, 1_000)).toBe(10_000);
  });
  it("waits ten times the last run once it takes over a tenth of the period", () => {
    expect(nextResyncDelayMs(10_000, 4_000)).toBe(40_000);
    expect(nextResyncDelayMs(5_000, 60_000)).toBe(600_000);
  });
});
