/**
 * Comparing two promotion states: whether anything changed (the reconciler writes only then), and
 * the progress lines that describe what did.
 */
import type { ProgressEvent, PromotionState } from "./types.js";

/** JSON with sorted keys and without undefined fields, so equal states give equal strings. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner !== null && typeof inner === "object" && !Array.isArray(inner)) {
      const sorted: Record<string, unknown> = {};
      for (const key of Object.keys(inner).sort()) {
        const field = (inner as Record<string, unknown>)[key];
        if (field !== undefined) sorted[key] = field;
      }
      return sorted;
    }
    return inner;
  });
}

/** True when the two states differ in anything but `version`. */
export function promotionStateChanged(before: PromotionState, after: PromotionState): boolean {
  return canonicalJson({ ...before, version: 0 }) !== canonicalJson({ ...after, version: 0 });
}

/** Progress lines for what differs between two states; empty when nothing a user sees changed. */
export function progressEventsBetween(before: PromotionState, after: PromotionState): ProgressEvent[] {
  const events: ProgressEvent[] = [];
  if (before.status !== after.status) {
    const pausedReason =
      after.status !== "PAUSED"
        ? undefined
        : after.approval === "waiting"
          ? "waiting for approval before the candidate gets all the traffic (confirm_promotion): approve_promotion or `modelplane approve`"
          : after.analysis?.pausedReason;
    const reason =
      after.errorMessage !== undefined && after.status === "FAILED"
        ? `: ${after.errorMessage}`
        : pausedReason !== undefined && pausedReason !== null
          ? `: ${pausedReason}`
          : "";
    events.push({ kind: "status", message: `status ${before.status} → ${after.status}${reason}` });
  }
  if (before.step !== after.step || before.totalSteps !== after.totalSteps) {
    events.push({ kind: "step", message: `step ${after.step} of ${after.totalSteps}` });
  }
  if (before.percentTrafficToNewVersion !== after.percentTrafficToNewVersion) {
    events.push({
      kind: "traffic",
      message: `traffic to candidate ${before.percentTrafficToNewVersion}% → ${after.percentTrafficToNewVersion}%`,
    });
  }
  const runBefore = before.analysis?.runs.at(-1);
  const runAfter = after.analysis?.runs.at(-1);
  if (runAfter !== undefined && runAfter.endedAt !== runBefore?.endedAt) {
    events.push({
      kind: "analysis",
      message:
        `analysis at step ${runAfter.step}/${runAfter.totalSteps} (${runAfter.percentTrafficToNewVersion}%): ${runAfter.verdict} — ` +
        runAfter.metrics.map((metric) => metric.message).join("; "),
    });
  }
  const replicasBefore = before.desiredReplicas;
  const replicasAfter = after.desiredReplicas;
  if (replicasBefore.previous !== replicasAfter.previous || replicasBefore.candidate !== replicasAfter.candidate) {
    events.push({
      kind: "replicas",
      message:
        `replicas previous ${replicasBefore.previous} → ${replicasAfter.previous}, ` +
        `candidate ${replicasBefore.candidate} → ${replicasAfter.candidate}`,
    });
  }
  return events;
}
