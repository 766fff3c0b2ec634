/** The CLI's pure pieces: progress lines, the terminal redraw, tables, command splitting, ignored paths. */
import { describe, expect, it } from "vitest";
import { isIgnoredChange, splitCommand } from "../../cli/commands/dev.js";
import { formatTable } from "../../cli/format.js";
import { createProgressReporter, formatLiveLine, formatLogLine, trafficBar } from "../../cli/progress.js";
import type { Promotion } from "../../sdk/schemas/promotion.js";

function promotion(overrides: Partial<Promotion> = {}): Promotion {
  return {
    id: "pro_1",
    environment: "production",
    deployment_id: "dep_2",
    previous_deployment_id: "dep_1",
    deployment_name: "v2",
    previous_deployment_name: "v1",
    kind: "ROLLING",
    status: "RAMPING_UP",
    percent_traffic_to_new_version: 25,
    error_message: null,
    step: 1,
    total_steps: 4,
    phase: "stabilizing",
    replicas: { previous: { desired: 4, ready: 3 }, candidate: { desired: 1, ready: 1 } },
    analysis: null,
    approval: "not_required",
    webhooks: [],
    started_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:01.000Z",
    finished_at: null,
    ...overrides,
  };
}

describe("progress", () => {
  it("the bar fills with the candidate's traffic share, clamped to 0–100", () => {
    expect(trafficBar(0, 10)).toBe("[----------]");
    expect(trafficBar(25, 20)).toBe("[#####---------------]");
    expect(trafficBar(100, 10)).toBe("[##########]");
    expect(trafficBar(140, 4)).toBe("[####]");
  });

  it("the live line shows traffic to the candidate by name, status, kind, step k/n, ready/desired on both sides by name, phase, elapsed", () => {
    expect(formatLiveLine(promotion(), 12_345)).toBe(
      "[#####---------------]  25% to v2 RAMPING_UP rolling step 1/4 · ready v1 3/4, v2 1/1 · stabilizing · 12s",
    );
    expect(formatLiveLine(promotion({ previous_deployment_id: null, previous_deployment_name: null, kind: "INSTANT", total_steps: 0 }), 0)).toBe(
      "[#####---------------]  25% to v2 RAMPING_UP instant · ready v2 1/1 · stabilizing · 0s",
    );
  });

  it("a log line is the elapsed time and the shared description: names first, ids in brackets", () => {
    expect(formatLogLine(promotion(), 1_500)).toBe(
      "[   1.5s] RAMPING_UP step 1/4, 25 % to v2 (dep_2) · rolling · stabilizing · ready v1 3/4, v2 1/1",
    );
    expect(formatLogLine(promotion({ status: "FAILED", phase: "done", error_message: "candidate deployment v2 (dep_2) is failing" }), 0)).toBe(
      "[   0.0s] FAILED step 1/4, 25 % to v2 (dep_2) · rolling · done · ready v1 3/4, v2 1/1 — candidate deployment v2 (dep_2) is failing",
    );
  });

  it("the log line shows the newest analysis run as it comes, and the analysis' reason while it pauses the promotion", () => {
    const run = {
      at: "2026-01-01T00:00:02.000Z",
      window_seconds: 2,
      step: 1,
      percent_traffic_to_new_version: 25,
      verdict: "pass" as const,
      metrics: [{ name: "success_rate", verdict: "pass" as const, value: 1, message: "success_rate 1 ≥ 0.95 (candidate v2, 40 requests)" }],
    };
    const analysis = { dry_run: false, runs: [run], passed_runs: 1, failed_runs: 0, inconclusive_runs: 0, inconclusive_in_a_row: 0, paused_reason: null };
    expect(formatLogLine(promotion({ analysis }), 0)).toBe(
      "[   0.0s] RAMPING_UP step 1/4, 25 % to v2 (dep_2) · rolling · stabilizing · ready v1 3/4, v2 1/1 · analysis pass (1 passed, 0 failed, 0 inconclusive): success_rate 1 ≥ 0.95 (candidate v2, 40 requests)",
    );
    const paused = { ...analysis, paused_reason: "analysis inconclusive 4 times in a row" };
    expect(formatLogLine(promotion({ status: "PAUSED", analysis: paused }), 0)).toContain("· analysis paused (1 passed, 0 failed, 0 inconclusive): analysis inconclusive 4 times in a row");
  });

  it("on a terminal, redraws one line in place, starts a new line when the status changes, never wider than the terminal", () => {
    const written: string[] = [];
    let now = 0;
    const reporter = createProgressReporter({ isTTY: true, columns: 60, write: (text: string) => written.push(text) }, () => now);
    reporter.update(promotion());
    now = 2_000;
    reporter.update(promotion({ percent_traffic_to_new_version: 50, step: 2 }));
    reporter.update(promotion({ status: "PAUSED", percent_traffic_to_new_version: 50, step: 2 }));
    reporter.finish();
    const screen = written.join("");
    const redraws = screen.split("\r\x1b[2K").slice(1);
    expect(redraws.length).toBeGreaterThanOrEqual(3);
    for (const redraw of redraws) expect(redraw.replace("\n", "").length).toBeLessThanOrEqual(59);
    // RAMPING_UP stays on its own line once PAUSED arrives; finish leaves the cursor on a fresh line
    expect(screen).toMatch(/RAMPING_UP[^\r]*\n\r\x1b\[2K\[#{10}-{10}\]  50% to v2 PAUSED/);
    expect(screen.endsWith("\n")).toBe(true);
  });

  it("elsewhere, writes one plain line per update", () => {
    const written: string[] = [];
    const reporter = createProgressReporter({ write: (text: string) => written.push(text) }, () => 0);
    reporter.update(promotion());
    reporter.update(promotion({ status: "SUCCEEDED", percent_traffic_to_new_version: 100, step: 4 }));
    reporter.finish();
    expect(written).toEqual([
      "[   0.0s] RAMPING_UP step 1/4, 25 % to v2 (dep_2) · rolling · stabilizing · ready v1 3/4, v2 1/1\n",
      "[   0.0s] SUCCEEDED step 4/4, 100 % to v2 (dep_2) · rolling · stabilizing · ready v1 3/4, v2 1/1\n",
    ]);
  });
});

describe("dev helpers", () => {
  it.each([
    ["node server.js", ["node", "server.js"]],
    ["  python  -m  http.server ", ["python", "-m", "http.server"]],
    [`node "my server.js" --name 'a b' x\\ y ""`, ["node", "my server.js", "--name", "a b", "x y", ""]],
  ])("splits %j like a shell would", (line, argv) => {
    expect(splitCommand(line)).toEqual(argv);
  });

  it("rejects an unterminated quote", () => {
    expect(() => splitCommand("node 'server.js")).toThrow(/unterminated ' quote/);
  });

  it("ignores changes under node_modules and .git only", () => {
    expect(isIgnoredChange("node_modules/zod/index.js")).toBe(true);
    expect(isIgnoredChange(".git/index")).toBe(true);
    expect(isIgnoredChange("src/node_modules_notes.md")).toBe(false);
    expect(isIgnoredChange("server.js")).toBe(false);
  });
});

describe("tables", () => {
  it("aligns columns under upper-case headers without trailing spaces", () => {
    expect(formatTable(["id", "name"], [["mdl_1", "a"], ["mdl_22", "longer"]])).toBe("ID      NAME\nmdl_1   a\nmdl_22  longer");
  });
});
