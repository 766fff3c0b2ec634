/**
 * `modelplane shadow <model> <env>`: the live comparison of an environment's shadow with what the
 * clients got (GET …/environments/{env}/shadow) — counts, agreement, both sides' latency and the
 * sampled disagreements. `--watch S` prints it again every S seconds until interrupted.
 */
import type { ShadowReport } from "../../sdk/schemas/shadow.js";
import { connect, namedPositionals, parseCommandLine, parseSeconds, printJson, printLine } from "../command-line.js";
import { formatFields, formatTable, formatTime, orDash } from "../format.js";
import { resolveModelId } from "../resolve.js";
import type { CliCommand } from "../usage-error.js";

function percent(rate: number | null): string {
  return rate === null ? "-" : `${(rate * 100).toFixed(2)} %`;
}

function ms(value: number | null): string {
  return value === null ? "-" : `${value.toFixed(1)} ms`;
}

/** The report as a person reads it. */
export function formatShadowReport(report: ShadowReport): string {
  if (report.shadow === null) return `environment ${report.environment} has no shadow (set one with PATCH …/environments/${report.environment} {"shadow": {...}})`;
  const { counts, latency_ms: latency } = report;
  const comparison = report.shadow.comparison;
  const fields = formatFields([
    ["shadow", `${report.shadow.deployment}${report.shadow_deployment_id !== null && report.shadow.deployment === "candidate" ? ` (${report.shadow_deployment_id})` : ""}, ${report.shadow.percent} % of requests`],
    ["comparison", comparison.mode === "exact" ? "exact" : `json, tolerance ${comparison.numeric_tolerance}${comparison.fields ? `, fields ${comparison.fields.join(", ")}` : ""}`],
    ["since", formatTime(report.since)],
    ["compared", `${report.compared} (agreed ${counts.agreed}, disagreed ${counts.disagreed})`],
    ["agreement", `${percent(report.agreement_rate)} (status ${percent(report.status_agreement_rate)})`],
    ["not compared", `shed ${counts.shed}, skipped_body ${counts.skipped_body}, shadow_error ${counts.shadow_error}, primary_error ${counts.primary_error}, unavailable ${counts.unavailable}, not_idempotent ${counts.not_idempotent}, backed_off ${counts.backed_off}`],
  ]);
  const latencies = formatTable(
    ["latency", "p50", "p90", "p99"],
    (["primary", "shadow", "delta"] as const).map((side) => [side, ms(latency[side].p50), ms(latency[side].p90), ms(latency[side].p99)]),
  );
  const samples =
    report.disagreements.length === 0
      ? "no disagreement sampled"
      : formatTable(
          ["at", "request id", "status", "differing fields"],
          report.disagreements.map((sample) => [
            formatTime(sample.at),
            sample.request_id,
            `${sample.primary_status}/${sample.shadow_status}`,
            orDash(sample.differing_fields.join(", ")),
          ]),
        );
  return [fields, "", latencies, "", samples].join("\n");
}

export const shadowCommand: CliCommand = {
  name: "shadow",
  summary: "show the live comparison of an environment's shadow with its primary",
  usage: "modelplane shadow <model> <env> [--watch S] [--json]",
  help: [
    "  --watch S   print the comparison again every S seconds until interrupted",
    "counts are this engine's own (each engine compares the requests it routed), since the shadow",
    "or its candidate last changed; request bodies appear in --json only with keep_bodies",
  ].join("\n"),
  async run(args) {
    const { values, positionals } = parseCommandLine(args, { json: { type: "boolean" }, watch: { type: "string" } });
    const { model, env } = namedPositionals(positionals, ["model", "env"]);
    const everySeconds = values.watch === undefined ? undefined : parseSeconds("--watch", values.watch);
    const client = connect(values);
    const modelId = await resolveModelId(client, model);
    for (;;) {
      const report = await client.shadowReport(modelId, env);
      if (values.json) printJson(report);
      else printLine(formatShadowReport(report));
      if (everySeconds === undefined) return 0;
      printLine("");
      await new Promise((resolve) => setTimeout(resolve, everySeconds * 1000));
    }
  },
};
