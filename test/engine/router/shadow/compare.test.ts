import { describe, expect, it } from "vitest";
import { compareAnswers, dechunk, valueAt } from "../../../../engine/router/shadow/compare.js";
import { ShadowSettings } from "../../../../sdk/schemas/shadow.js";

const answer = (status: number, body: unknown) => ({ status, body: Buffer.from(typeof body === "string" ? body : JSON.stringify(body)) });

describe("compareAnswers", () => {
  it("exact: same bytes agree, anything else names the body; statuses always count", () => {
    expect(compareAnswers(answer(200, "abc"), answer(200, "abc"), { mode: "exact" })).toEqual({ statusAgrees: true, outputAgrees: true, differingFields: [] });
    expect(compareAnswers(answer(200, "abc"), answer(200, "abd"), { mode: "exact" })).toEqual({ statusAgrees: true, outputAgrees: false, differingFields: ["body"] });
    expect(compareAnswers(answer(200, "abc"), answer(500, "abc"), { mode: "exact" })).toEqual({ statusAgrees: false, outputAgrees: true, differingFields: ["status"] });
    // key order is a difference of bytes
    expect(compareAnswers(answer(200, { a: 1, b: 2 }), answer(200, { b: 2, a: 1 }), { mode: "exact" }).outputAgrees).toBe(false);
  });

  it("json: the issue's example — same label, score within 0.05, other fields ignored", () => {
    const comparison = { mode: "json" as const, numeric_tolerance: 0.05, fields: ["label", "score"] };
    const primary = answer(200, { label: "positive", score: 0.91, took_ms: 3 });
    expect(compareAnswers(primary, answer(200, { label: "positive", score: 0.88, took_ms: 9 }), comparison)).toEqual({ statusAgrees: true, outputAgrees: true, differingFields: [] });
    expect(compareAnswers(primary, answer(200, { label: "positive", score: 0.8 }), comparison).differingFields).toEqual(["score"]);
    expect(compareAnswers(primary, answer(200, { label: "negative", score: 0.2 }), comparison).differingFields).toEqual(["label", "score"]);
    // a missing field differs from a present one
    expect(compareAnswers(primary, answer(200, { score: 0.91 }), comparison).differingFields).toEqual(["label"]);
  });

  it("json without fields: every field of both, nested paths and array elements, key order irrelevant", () => {
    const comparison = { mode: "json" as const, numeric_tolerance: 0 };
    expect(compareAnswers(answer(200, { a: 1, b: { c: [1, 2] } }), answer(200, { b: { c: [1, 2] }, a: 1 }), comparison).outputAgrees).toBe(true);
    expect(compareAnswers(answer(200, { a: 1, b: { c: [1, 2] } }), answer(200, { a: 1, b: { c: [1, 3] }, d: null }), comparison).differingFields).toEqual(["b.c.1", "d"]);
    expect(compareAnswers(answer(200, [1, 2]), answer(200, [1, 2, 3]), comparison).differingFields).toEqual(["body"]);
    expect(compareAnswers(answer(200, { a: "1" }), answer(200, { a: 1 }), comparison).differingFields).toEqual(["a"]);
  });

  it("json: a body that is not JSON is compared byte for byte", () => {
    const comparison = { mode: "json" as const, numeric_tolerance: 1 };
    expect(compareAnswers(answer(502, "bad gateway"), answer(502, "bad gateway"), comparison).outputAgrees).toBe(true);
    expect(compareAnswers(answer(200, { a: 1 }), answer(200, "not json"), comparison).differingFields).toEqual(["body"]);
  });

  it("caps the differing fields at 20", () => {
    const left: Record<string, number> = {};
    const right: Record<string, number> = {};
    for (let i = 0; i < 50; i++) {
      left[`k${i}`] = i;
      right[`k${i}`] = i + 1;
    }
    expect(compareAnswers(answer(200, left), answer(500, right), { mode: "json", numeric_tolerance: 0 }).differingFields).toHaveLength(20);
  });

  it("valueAt follows dotted paths through objects and arrays", () => {
    expect(valueAt({ a: { b: [{ c: 5 }] } }, "a.b.0.c")).toBe(5);
    expect(valueAt({ a: 1 }, "a.b")).toBeUndefined();
    expect(valueAt({ a: [1] }, "a.x")).toBeUndefined();
  });

  it("dechunk reads a chunked body's payload", () => {
    expect(dechunk(Buffer.from("3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"))?.toString()).toBe("abcde");
    expect(dechunk(Buffer.from("5\r\nab"))).toBeUndefined();
  });
});

describe("ShadowSettings", () => {
  it("fills the defaults and rejects bad input naming the field", () => {
    expect(ShadowSettings.parse({ deployment: "candidate" })).toEqual({
      deployment: "candidate",
      percent: 100,
      max_body_bytes: 65_536,
      comparison: { mode: "exact" },
      keep_bodies: false,
      mirror_non_idempotent: false,
      max_concurrency: 8,
      max_queue: 64,
      timeout_ms: 10_000,
    });
    expect(ShadowSettings.parse({ deployment: "dep_1", comparison: { mode: "json" } }).comparison).toEqual({ mode: "json", numeric_tolerance: 0 });
    const bad = ShadowSettings.safeParse({ deployment: "candidate", percent: 101, max_body_bytes: 70_000, comparison: { mode: "fuzzy" } });
    expect(bad.success).toBe(false);
    const paths = bad.error!.issues.map((issue) => issue.path.join("."));
    expect(paths).toEqual(expect.arrayContaining(["percent", "max_body_bytes", "comparison.mode"]));
  });
});
