/**
 * `--wait`: follow a promotion to its end with live progress, for promote, resume, cancel,
 * force-roll-forward and rollback. Ctrl-C stops waiting, not the promotion.
 */
import type { ModelplaneClient } from "../sdk/client.js";
import { ModelplaneError } from "../sdk/errors.js";
import { candidateLabel, previousLabel } from "../sdk/labels.js";
import type { Promotion } from "../sdk/schemas/promotion.js";
import { PromotionNotSucceededError, waitForPromotion } from "../sdk/wait.js";
import { createProgressReporter, type ProgressStream } from "./progress.js";
import { InterruptedError } from "./usage-error.js";

export interface FollowOptions {
  /** the end the command asked for: SUCCEEDED for promote/resume/rollback, CANCELED for cancel */
  expectedStatus: "SUCCEEDED" | "CANCELED";
  /** stop waiting (exit 1) after this time, ms since epoch; the promotion goes on */
  deadline?: number;
  /** stdout, or stderr when stdout carries `--json` */
  progress: ProgressStream;
}

/** Resolves with the promotion once it ended as expected; throws with the engine's reason otherwise. */
export async function followPromotion(
  client: ModelplaneClient,
  target: { modelId: string; environment: string; promotionId: string },
  options: FollowOptions,
): Promise<Promotion> {
  const reporter = createProgressReporter(options.progress);
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort(new InterruptedError(`stopped waiting; promotion ${target.promotionId} goes on (see: modelplane environments get ${target.modelId} ${target.environment})`));
  process.once("SIGINT", onSigint);
  let final: Promotion;
  try {
    final = await waitForPromotion(client, target, {
      onProgress: (promotion) => reporter.update(promotion),
      signal: interrupt.signal,
      ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
    });
  } catch (error) {
    if (interrupt.signal.aborted) throw interrupt.signal.reason;
    if (error instanceof PromotionNotSucceededError && error.promotion.status === options.expectedStatus) {
      return error.promotion;
    }
    throw error;
  } finally {
    reporter.finish();
    process.removeListener("SIGINT", onSigint);
  }
  if (final.status !== options.expectedStatus) {
    throw new ModelplaneError("CONFLICT", `promotion ${final.id} ended ${final.status}, not ${options.expectedStatus}: it finished before the request took effect`, {
      promotion_id: final.id,
      status: final.status,
    });
  }
  return final;
}

/** The closing line after a wait: what serves the environment now. */
export function describeOutcome(promotion: Promotion): string {
  return promotion.status === "SUCCEEDED"
    ? `promotion ${promotion.id} SUCCEEDED: ${candidateLabel(promotion)} serves ${promotion.environment}`
    : `promotion ${promotion.id} ${promotion.status}: ${previousLabel(promotion) ?? "no deployment"} serves ${promotion.environment}`;
}
