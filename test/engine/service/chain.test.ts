/** The chain rule as a table: judgeChain is pure (engine/service/chain.ts). */
import { describe, expect, it } from "vitest";
import { judgeChain, type ChainFacts } from "../../../engine/service/chain.js";

const at = (seconds: number) => new Date(Date.UTC(2026, 11, 3, 12, 0, seconds));
const V2 = { id: "dep_v2", name: "v2" };

function promotion(id: string, deploymentId: string, status: "SUCCEEDED" | "FAILED" | "RAMPING_UP", startedAt: number, finishedAt: number | null, errorMessage: string | null = null) {
  return { id, deployment_id: deploymentId, status, error_message: errorMessage, started_at: at(startedAt), finished_at: finishedAt === null ? null : at(finishedAt) };
}

type Promotions = NonNullable<ChainFacts["required"]>["promotions"];

function facts(overrides: Partial<ChainFacts> & { promotions?: Promotions; current?: string | null } = {}): ChainFacts {
  const { promotions = [], current = null, ...rest } = overrides;
  return {
    deployment: V2,
    environmentName: "production",
    requiredEnvironment: "staging",
    minSoakSeconds: 60,
    required: { currentDeploymentId: current, promotions },
    failedAnalysisRuns: () => 0,
    ...rest,
  };
}

describe("judgeChain", () => {
  // newest first, as the store lists them
  const passedAtZero = [promotion("p1", "dep_v2", "SUCCEEDED", -1, 0)];
  const table: { name: string; facts: ChainFacts; now: number; expected: { ok: boolean; reason?: string; message?: RegExp } }[] = [
    { name: "no environment of the required one", facts: facts({ required: undefined }), now: 0, expected: { ok: false, reason: "never_promoted", message: /the model has no staging environment/ } },
    { name: "never promoted there", facts: facts(), now: 0, expected: { ok: false, reason: "never_promoted", message: /^deployment v2 \(dep_v2\) has not passed staging, which production requires: it was never promoted to staging; promote it through staging first/ } },
    { name: "promotion still running", facts: facts({ promotions: [promotion("p1", "dep_v2", "RAMPING_UP", 0, null)] }), now: 5, expected: { ok: false, reason: "not_succeeded", message: /its promotion to staging is RAMPING_UP, not SUCCEEDED/ } },
    { name: "promotion failed", facts: facts({ promotions: [promotion("p1", "dep_v2", "FAILED", 0, 3, "replicas never ready")] }), now: 5, expected: { ok: false, reason: "not_succeeded", message: /is FAILED \(replicas never ready\), not SUCCEEDED/ } },
    { name: "failed analysis run", facts: facts({ promotions: passedAtZero, current: "dep_v2", failedAnalysisRuns: () => 2 }), now: 120, expected: { ok: false, reason: "analysis_failed", message: /had 2 failed analysis run\(s\)/ } },
    { name: "no soak asked: SUCCEEDED is enough", facts: facts({ promotions: passedAtZero, current: "dep_v2", minSoakSeconds: 0 }), now: 0, expected: { ok: true } },
    { name: "soaking: 10 s of 60", facts: facts({ promotions: passedAtZero, current: "dep_v2" }), now: 10, expected: { ok: false, reason: "soaking", message: /soaked in staging for 10 s of the 60 s required \(min_soak_seconds\), since 2026-12-03T12:00:00.000Z; it passes at 2026-12-03T12:01:00.000Z/ } },
    { name: "soaked: exactly 60 s", facts: facts({ promotions: passedAtZero, current: "dep_v2" }), now: 60, expected: { ok: true } },
    {
      name: "replaced after 10 s: never passes",
      facts: facts({ promotions: [promotion("p2", "dep_v3", "SUCCEEDED", 9, 10), ...passedAtZero], current: "dep_v3" }),
      now: 600,
      expected: { ok: false, reason: "replaced_before_soak", message: /served in staging for 10 s of the 60 s required \(min_soak_seconds\) before it was replaced/ },
    },
    { name: "replaced after 90 s: passed", facts: facts({ promotions: [promotion("p2", "dep_v3", "SUCCEEDED", 89, 90), ...passedAtZero], current: "dep_v3" }), now: 600, expected: { ok: true } },
    {
      name: "promoted there again after a failed attempt: the success counts",
      facts: facts({ promotions: [promotion("p3", "dep_v2", "SUCCEEDED", 19, 20), promotion("p1", "dep_v2", "FAILED", 0, 3)], current: "dep_v2" }),
      now: 80,
      expected: { ok: true },
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      const verdict = judgeChain(row.facts, at(row.now));
      expect(verdict.ok).toBe(row.expected.ok);
      if (!verdict.ok) {
        expect(verdict.reason).toBe(row.expected.reason);
        expect(verdict.message).toMatch(row.expected.message!);
        expect(verdict.requiredEnvironment).toBe("staging");
      }
    });
  }

  it("soaking says since when and until when", () => {
    const verdict = judgeChain(facts({ promotions: passedAtZero, current: "dep_v2" }), at(30));
    expect(verdict).toMatchObject({ ok: false, soakingSince: at(0), soakReadyAt: at(60) });
  });
});
