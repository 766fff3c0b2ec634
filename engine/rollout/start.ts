/** Creating a promotion: the first persisted state, with the first move already asked for. */
import { baseReplicaCount, canaryReadyThreshold, CANARY_STAGE_COUNT, overheadReplicaCount } from "./budgets.js";
import {
  enterProvisioningOverhead,
  enterScalingDownPrevious,
  enterScalingUpCandidate,
  requestCandidateReplicas,
  rollingTotalSteps,
} from "./phases.js";
import { promotionKindFor, promotionSettingsProblems, rollingModeOf } from "./settings.js";
import type { PromotionState, StartPromotionInput } from "./types.js";
import { initialAnalysisState } from "./analysis.js";

/**
 * The initial state of a promotion (version 1, RELEASING). Throws RangeError on settings the API
 * should have rejected. First moves:
 * INSTANT: candidate → N. CANARY: candidate → max(1, min_replica). ROLLING: previous → N + overhead
 * when there is overhead, else candidate + surge step (surge) or previous − unavailable step.
 * Example: 4 previous replicas, rolling 25% surge → N 4, candidate 1, previous 4, 4 steps.
 */
export function startPromotion(input: StartPromotionInput): PromotionState {
  const problems = promotionSettingsProblems(input.settings, input.bounds);
  if (problems.length > 0) throw new RangeError(`invalid promotion settings: ${problems.join("; ")}`);
  const hasPrevious = input.previousDeploymentId !== null;
  const kind = promotionKindFor(input.settings, hasPrevious);
  const baseReplicas = baseReplicaCount(hasPrevious ? input.previousReplicas : 0, input.bounds);
  const initial: PromotionState = {
    id: input.id,
    version: 1,
    kind,
    status: "RELEASING",
    previousDeploymentId: input.previousDeploymentId,
    candidateDeploymentId: input.candidateDeploymentId,
    ...(input.candidateDeploymentName !== undefined ? { candidateDeploymentName: input.candidateDeploymentName } : {}),
    settings: input.settings,
    bounds: input.bounds,
    baseReplicas,
    overheadReplicas:
      kind === "ROLLING"
        ? overheadReplicaCount(baseReplicas, input.settings.rolling_deploy_config.replica_overhead_percent)
        : 0,
    percentTrafficToNewVersion: 0,
    step: 0,
    totalSteps: kind === "CANARY" ? CANARY_STAGE_COUNT : 1,
    phase: "scaling_up_candidate",
    desiredReplicas: { previous: hasPrevious ? baseReplicas : 0, candidate: 0 },
    phaseStartedAt: input.now,
    startedAt: input.now,
    readyTimeoutMs: input.readyTimeoutMs,
    readyDeadlineAt: null,
    timeoutSeconds: input.timeoutSeconds ?? null,
    ...(input.settings.analysis != null && kind !== "INSTANT" ? { analysis: initialAnalysisState() } : {}),
  };
  switch (kind) {
    case "INSTANT":
      return requestCandidateReplicas(initial, baseReplicas, input.now);
    case "CANARY":
      return requestCandidateReplicas(initial, Math.min(baseReplicas, canaryReadyThreshold(input.bounds)), input.now);
    case "ROLLING": {
      const rolling = { ...initial, totalSteps: rollingTotalSteps(initial) };
      if (rolling.overheadReplicas > 0) return enterProvisioningOverhead(rolling, input.now);
      return rollingModeOf(input.settings) === "surge"
        ? enterScalingUpCandidate(rolling, input.now)
        : enterScalingDownPrevious(rolling, 0, input.now);
    }
  }
}
