/**
 * Following a promotion to its end. Polls the engine (a promotion changes state a few times a
 * second at most, and polling survives an engine restart without reconnect logic), reports every
 * change of status, step, traffic or replica counts exactly once, and settles with the final
 * promotion.
 */
import { EngineUnavailableError, TimeoutError } from "./client-errors.js";
import type { ModelplaneClient } from "./client.js";
import { ModelplaneError } from "./errors.js";
import { candidateLabel, previousLabel } from "./labels.js";
import { isTerminalPromotionStatus, type Promotion } from "./schemas/promotion.js";

export interface PromotionTarget {
  modelId: string;
  environment: string;
  /** follow this promotion; default: the environment's newest one (in progress or ended) */
  promotionId?: string;
}

export interface WaitOptions {
  /** called once per observed change (status, step, traffic percent, replica counts, phase) */
  onProgress?: (promotion: Promotion, change: ProgressChange) => void;
  signal?: AbortSignal;
  /** absolute time (ms since epoch) after which waiting stops with a TimeoutError; the promotion itself goes on */
  deadline?: number;
  /** poll interval, default 250 ms */
  pollMs?: number;
}

export interface ProgressChange {
  /** which aspects changed since the previous report (all of them on the first report) */
  aspects: Array<"status" | "step" | "traffic" | "replicas" | "phase" | "analysis">;
  previous: Promotion | undefined;
}

/** A promotion that ended FAILED or CANCELED; carries the engine's reason and the final promotion. */
export class PromotionNotSucceededError extends ModelplaneError {
  constructor(readonly promotion: Promotion) {
    super(
      "CONFLICT",
      promotion.status === "CANCELED"
        ? `promotion of ${candidateLabel(promotion)} to ${promotion.environment} was canceled${promotion.error_message ? `: ${promotion.error_message}` : ""}`
        : `promotion of ${candidateLabel(promotion)} to ${promotion.environment} failed: ${promotion.error_message ?? "no reason given"}`,
      { promotion_id: promotion.id, status: promotion.status },
    );
  }
}

function changedAspects(previous: Promotion | undefined, next: Promotion): ProgressChange["aspects"] {
  if (!previous) return ["status", "step", "traffic", "replicas", "phase"];
  const aspects: ProgressChange["aspects"] = [];
  if (previous.status !== next.status) aspects.push("status");
  if (previous.step !== next.step || previous.total_steps !== next.total_steps) aspects.push("step");
  if (previous.percent_traffic_to_new_version !== next.percent_traffic_to_new_version) aspects.push("traffic");
  if (JSON.stringify(previous.replicas) !== JSON.stringify(next.replicas)) aspects.push("replicas");
  if (previous.phase !== next.phase) aspects.push("phase");
  // a new analysis run (or the analysis' pause reason) is progress too: each result shows as it comes
  const lastRun = (p: Promotion) => p.analysis?.runs.at(-1)?.at;
  if (lastRun(previous) !== lastRun(next) || previous.analysis?.paused_reason !== next.analysis?.paused_reason) aspects.push("analysis");
  return aspects;
}

/**
 * One line describing a promotion's state, for logs, the CLI and `pulumi up` output:
 * `RAMPING_UP step 2/4, 50 % to v2 (dep_…) · rolling · waiting for stabilization · ready v1 3/4, v2 2/2`.
 */
export function describePromotion(p: Promotion): string {
  const step = p.total_steps > 0 ? ` step ${Math.min(p.step, p.total_steps)}/${p.total_steps}` : "";
  const side = (name: string | null, replicas: { ready: number; desired: number }) => `${name ?? "previous"} ${replicas.ready}/${replicas.desired}`;
  const ready = [
    ...(previousLabel(p) !== null ? [side(p.previous_deployment_name, p.replicas.previous)] : []),
    side(p.deployment_name, p.replicas.candidate),
  ].join(", ");
  const error = p.error_message ? ` — ${p.error_message}` : "";
  const gate = p.approval === "waiting" ? " · waiting for approval (confirm_promotion): modelplane approve" : "";
  return `${p.status}${step}, ${p.percent_traffic_to_new_version} % to ${candidateLabel(p)} · ${p.kind.toLowerCase()} · ${p.phase.replaceAll("_", " ")} · ready ${ready}${gate}${describeAnalysis(p)}${error}`;
}

/**
 * The analysis part of the line, empty without runs:
 * ` · analysis pass (3 passed, 0 failed, 1 inconclusive): success_rate 0.998 ≥ 0.95 (…)`; while
 * paused by the analysis, its reason instead of the last run.
 */
function describeAnalysis(p: Promotion): string {
  const analysis = p.analysis;
  const last = analysis?.runs.at(-1);
  if (!analysis || !last) return "";
  const counts = `${analysis.passed_runs} passed, ${analysis.failed_runs} failed, ${analysis.inconclusive_runs} inconclusive${analysis.dry_run ? ", dry run" : ""}`;
  if (p.status === "PAUSED" && analysis.paused_reason) return ` · analysis paused (${counts}): ${analysis.paused_reason}`;
  if (p.status === "FAILED" && last.verdict === "fail") return ` · analysis ${last.verdict} (${counts})`;
  return ` · analysis ${last.verdict} (${counts}): ${last.metrics.map((metric) => metric.message).join("; ")}`;
}

async function resolvePromotionId(client: ModelplaneClient, target: PromotionTarget, signal?: AbortSignal): Promise<string> {
  if (target.promotionId) return target.promotionId;
  const params = { model_id: target.modelId, env_name: target.environment };
  const environment = await client.call("getEnvironment", { params }, { signal });
  // The environment shows its newest promotion, running or ended (with its terminal status).
  const newest = environment.in_progress_promotion;
  if (!newest) throw new ModelplaneError("NOT_FOUND", `environment ${target.environment} has no promotion to wait for`);
  return newest.id;
}

/** Resolve with the SUCCEEDED promotion; reject with PromotionNotSucceededError, TimeoutError or the abort reason. */
export async function waitForPromotion(client: ModelplaneClient, target: PromotionTarget, options: WaitOptions = {}): Promise<Promotion> {
  const pollMs = options.pollMs ?? 250;
  const promotionId = await resolvePromotionId(client, target, options.signal);
  const params = { model_id: target.modelId, env_name: target.environment, promotion_id: promotionId };
  let last: Promotion | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    if (options.deadline !== undefined && Date.now() > options.deadline) {
      throw new TimeoutError("TIMEOUT", `gave up waiting for promotion ${promotionId}: deadline passed while ${last ? describePromotion(last) : "not yet observed"}`, {
        promotion_id: promotionId,
      });
    }
    let current: Promotion | undefined;
    try {
      current = await client.call("getPromotion", { params }, { signal: options.signal });
    } catch (error) {
      // An engine restart outlasting the client's own retries: keep polling until the deadline.
      if (!(error instanceof EngineUnavailableError)) throw error;
    }
    if (current) {
      const aspects = changedAspects(last, current);
      if (aspects.length > 0) options.onProgress?.(current, { aspects, previous: last });
      last = current;
      if (isTerminalPromotionStatus(current.status)) {
        if (current.status === "SUCCEEDED") return current;
        throw new PromotionNotSucceededError(current);
      }
    }
    await new Promise<void>((resolve) => setTimeout(resolve, pollMs));
  }
}
