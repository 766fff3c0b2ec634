/**
 * Load that checks every answer of test/support/replicas/env-echo-server.js replicas: each says
 * which ENVIRONMENT it runs with and the sha256 of its secret, so every response is held against
 * what a replica of the endpoint's environment must hold (issue 14's replica sets per environment).
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { Pool } from "undici";

/** How a process runtime runs an echo replica. */
export const ECHO_COMMAND = ["node", resolve(import.meta.dirname, "replicas/env-echo-server.js")];

export const sha256 = (value: string): string => createHash("sha256").update(value).digest("hex");

/** What an echo replica answers. */
export interface Identity {
  environment: string | null;
  secret_sha256: string | null;
  version: string | null;
  pid: number;
}

export interface CheckedLoadReport {
  /** answers whose body was checked (status 200) */
  checked: number;
  /** status ≥ 500, other non-200 or no answer at all */
  failed: number;
  /** 200 answers from a replica with another ENVIRONMENT or another secret than the endpoint's */
  wrong: number;
  byVersion: Record<string, number>;
  /** the first few failed and wrong answers, for assertion messages */
  samples: string[];
}

/**
 * Closed-loop load on a predict URL until stop(); every answer is checked against what a replica
 * of that environment must hold.
 */
export function checkedLoad(
  url: string,
  apiKey: string,
  expected: { environment: string; secretSha256: string | null | ((sha256: string | null) => boolean) },
  concurrency = 3,
) {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: concurrency });
  const report: CheckedLoadReport = { checked: 0, failed: 0, wrong: 0, byVersion: {}, samples: [] };
  let stopping = false;
  const sample = (line: string) => {
    if (report.samples.length < 10) report.samples.push(line);
  };
  const worker = async () => {
    while (!stopping) {
      try {
        const response = await pool.request({
          method: "POST",
          path: target.pathname,
          headers: { "content-type": "application/json", authorization: `Api-Key ${apiKey}` },
          body: JSON.stringify({ text: "hello" }),
          headersTimeout: 30_000,
          bodyTimeout: 30_000,
        });
        const text = await response.body.text();
        if (response.statusCode !== 200) {
          report.failed++;
          sample(`${response.statusCode} ${text.slice(0, 200)}`);
          continue;
        }
        const identity = JSON.parse(text) as Identity;
        report.checked++;
        report.byVersion[identity.version ?? "none"] = (report.byVersion[identity.version ?? "none"] ?? 0) + 1;
        const secretOk = typeof expected.secretSha256 === "function" ? expected.secretSha256(identity.secret_sha256) : identity.secret_sha256 === expected.secretSha256;
        if (identity.environment !== expected.environment || !secretOk) {
          report.wrong++;
          sample(`wrong: ${text}`);
        }
      } catch (error) {
        report.failed++;
        sample(`error: ${(error as Error).message}`);
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    report,
    async stop(): Promise<CheckedLoadReport> {
      stopping = true;
      await Promise.all(workers);
      await pool.close();
      return report;
    },
  };
}
