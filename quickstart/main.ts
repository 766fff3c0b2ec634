/**
 * The main job (`npm start`): start the engine on its embedded default (PGlite in a temp dir),
 * `pulumi up` the root Pulumi.yaml program with the real Pulumi CLI, then promote v2 through
 * staging to production with a rolling deploy while a load generator sends requests — showing the
 * live progress and the traffic split as it moves — and print a summary. Cleans up after itself.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation/index.js";
import { startModelplane } from "../engine/main.js";
import { startLoad, temporaryPulumi } from "../testing/index.js";
import { declareQuickstart } from "./program.js";

const root = resolve(fileURLToPath(import.meta.url), "../../..");
const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
const say = (text: string) => process.stdout.write(`${text}\n`);

/** Show the provider's progress lines (they arrive as Pulumi diagnostics) as they come. */
function progressPrinter(): (text: string) => void {
  let buffer = "";
  const seen = new Set<string>();
  return (text) => {
    buffer += text;
    const lines = buffer.split("\n");
    buffer = lines.pop() ?? "";
    for (const line of lines) {
      const match = /((?:staging|production): .*|deployment \S+ \(dep_\w+\): .*)$/.exec(line);
      if (!match || seen.has(match[1]!)) continue;
      seen.add(match[1]!); // Pulumi repeats diagnostics in its summary
      say(`  ${match[1]!.trim()}`);
    }
  };
}

async function up(stack: Stack, config: Record<string, string>, title: string): Promise<Record<string, string>> {
  say(bold(`\n▶ ${title}`));
  for (const [key, value] of Object.entries(config)) await stack.setConfig(`quickstart:${key}`, { value });
  const result = await stack.up({ onOutput: progressPrinter() });
  const changes = Object.entries(result.summary.resourceChanges ?? {}).filter(([kind]) => kind !== "same").map(([kind, n]) => `${n} ${kind}`);
  say(`  pulumi up: ${result.summary.result}${changes.length ? ` (${changes.join(", ")})` : ""}`);
  return Object.fromEntries(Object.entries(result.outputs).map(([key, output]) => [key, String(output.value)]));
}

async function main(): Promise<number> {
  const started = Date.now();
  const work = await mkdtemp(join(tmpdir(), "modelplane-quickstart-"));
  say(bold("modelplane quickstart"));
  say(`  engine: embedded (PGlite in ${work}/data), replicas as child processes`);
  const engine = await startModelplane({ port: 0, dataDir: join(work, "data"), apiKey: "quickstart-key", log: () => undefined });
  say(`  engine listening on ${engine.url}  (API docs: ${engine.url}/openapi.json)`);
  const pulumi = await temporaryPulumi({ passphrase: "quickstart" });
  const { envVars, command: pulumiCommand } = pulumi;
  // The root Pulumi.yaml project, run through the Automation API (its program is the same module
  // the Pulumi.yaml's `main` runs); the stack's settings file goes to the temp dir, not the repo.
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: "quickstart", projectName: "modelplane-quickstart", program: async () => declareQuickstart() },
    { workDir: work, envVars, pulumiCommand, projectSettings: { name: "modelplane-quickstart", runtime: "nodejs", main: join(root, "dist/quickstart/index.js") } },
  );
  await stack.setAllConfig({ "modelplane:endpoint": { value: engine.url }, "modelplane:apiKey": { value: engine.apiKey, secret: true } });
  let exitCode = 1;
  try {
    const first = await up(stack, { staging: "v1", production: "v1" }, "pulumi up: model sentiment, deployments v1 and v2, staging and production on v1");
    await up(stack, { staging: "v2", production: "v1" }, "promote v2 to staging (a reviewed one-line change: staging → v2)");

    say(bold("\n▶ promote v2 to production: rolling deploy (4 replicas, 25% surge) under load"));
    const load = startLoad({ apiKey: engine.apiKey, url: first.productionEndpoint!, concurrency: 8 });
    const splitTimer = setInterval(() => {
      const snapshot = load.snapshot();
      // answers completed in the last second (a slow answer counts when it arrives)
      const recent = snapshot.responses.filter((r) => r.at + r.latencyMs > snapshot.durationMs - 1000);
      const v2 = recent.filter((r) => r.deploymentId === first.v2).length;
      const share = recent.length ? Math.round((100 * v2) / recent.length) : 0;
      say(`  traffic (last second): v1 ${100 - share}% | v2 ${share}%   ${"█".repeat(Math.round(share / 5)).padEnd(20, "·")}  ${recent.length} req/s`);
    }, 1000);
    const rolloutStarted = Date.now();
    let final: Record<string, string>;
    try {
      final = await up(stack, { staging: "v2", production: "v2" }, "pulumi up: production → v2");
    } finally {
      clearInterval(splitTimer);
    }
    const report = await load.stop();
    const servedBy = Object.entries(report.byDeployment).map(([id, n]) => `${id === first.v1 ? "v1" : id === first.v2 ? "v2" : id} ${n}`).join(", ");
    say(bold("\nsummary"));
    say(`  rollout duration   ${((Date.now() - rolloutStarted) / 1000).toFixed(1)} s`);
    say(`  requests served    ${report.succeeded} (${servedBy})`);
    say(`  failed requests    ${report.failed}`);
    for (const failure of report.failures) say(`    at ${failure.at} ms: ${failure.status || failure.error}`);
    say(`  production serves  ${final.production === first.v2 ? "v2" : final.production} (${final.production})`);
    say(`  total time         ${((Date.now() - started) / 1000).toFixed(1)} s`);
    exitCode = report.failed === 0 && final.production === first.v2 ? 0 : 1;
  } finally {
    say("\ncleaning up: pulumi destroy, engine stop, temp dir removed");
    await stack.destroy({ onOutput: () => undefined }).catch((error: unknown) => say(`  destroy failed: ${(error as Error).message}`));
    await engine.close();
    pulumi.cleanup();
    await rm(work, { recursive: true, force: true });
  }
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`quickstart failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
