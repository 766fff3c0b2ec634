/**
 * Types of the pure rollout planner. Everything a promotion needs to resume after a crash lives in
 * `PromotionState`; the planner never keeps anything in memory between calls.
 */
import type { AnalysisMeasured, AnalysisState } from "../analysis/types.js";
import type { PromotionAnalysis, PromotionWebhook, PromotionWebhookResult } from "../../sdk/index.js";

/** Lifecycle of a promotion, as reported in `in_progress_promotion.status`. */
export type PromotionStatus =
  /** Started: the candidate is building/initializing replicas (and, for a rolling deploy, overhead
   * is being pre-provisioned); no traffic has moved yet. */
  | "RELEASING"
  /** Traffic is moving to the candidate (canary stages, or rolling steps after the first shift). */
  | "RAMPING_UP"
  /** A user paused it: no further steps or traffic shifts; in-flight replica changes and
   * autoscaling continue. `pausedFrom` says where `resume` goes back to. */
  | "PAUSED"
  /** Graceful cancel of a rolling deploy: previous scales back up, traffic moves back as it becomes
   * ready, candidate scales down; ends in CANCELED. */
  | "RAMPING_DOWN"
  /** Terminal: the candidate serves 100% and is the environment's deployment. */
  | "SUCCEEDED"
  /** Terminal: the candidate crashed or did not become ready in time; traffic is back on the previous. */
  | "FAILED"
  /** Terminal: canceled (instantly, forcibly, or at the end of RAMPING_DOWN); traffic on the previous. */
  | "CANCELED";

/** The three statuses a promotion never leaves. */
export type TerminalPromotionStatus = Extract<PromotionStatus, "SUCCEEDED" | "FAILED" | "CANCELED">;

/** How traffic moves; derived from the settings snapshot by `promotionKindFor`. */
export type PromotionKind =
  /** Replace at once: scale the candidate to the environment's count, then 0% → 100%. */
  | "INSTANT"
  /** `ramp_up_while_promoting`: 10 even traffic stages over `ramp_up_duration_seconds`. */
  | "CANARY"
  /** `rolling_deploy`: scale candidate up by a step, shift to the ready ratio, stabilize, scale
   * previous down (or previous first in max-unavailable mode), repeat. */
  | "ROLLING";

/** Which of the two mutually exclusive rolling provisioning modes is configured. */
export type RollingMode =
  /** `max_surge_percent` > 0: add candidate replicas before removing previous ones. */
  | "surge"
  /** `max_unavailable_percent` > 0: remove previous replicas before adding candidate ones. */
  | "unavailable";

/** What happens to the previous deployment once the promotion SUCCEEDED. */
export type PromotionCleanupStrategy =
  /** Scale the previous deployment to 0 replicas; it can be reactivated later. The default. */
  | "SCALE_TO_ZERO"
  /** Leave it at the replica count it has when the promotion completes. */
  | "KEEP"
  /** Deactivate it: it stops serving and releases every resource. */
  | "DEACTIVATE";

/** The API's `rolling_deploy_config`, snake_case as in the public API. */
export interface RollingDeployConfig {
  /** 0–50. Percent of N added as candidate replicas per step (surge mode). */
  max_surge_percent: number;
  /** 0–50. Percent of N that may be missing per step (unavailable mode). Exactly one of the two is non-zero. */
  max_unavailable_percent: number;
  /** 0–3600. Seconds to wait after each traffic shift before the next scale-down. */
  stabilization_time_seconds: number;
  /** 0–500. Percent of N pre-provisioned on the previous deployment before any traffic moves. */
  replica_overhead_percent: number;
}

/** The promotion settings a promotion started with (snapshot: later edits do not affect it). */
export interface PromotionSettingsSnapshot {
  /** Use the rolling workflow (takes precedence over `ramp_up_while_promoting`). */
  rolling_deploy: boolean;
  /** Only read when `rolling_deploy` is true. */
  rolling_deploy_config: RollingDeployConfig;
  /** What to do with the previous deployment after SUCCEEDED. */
  promotion_cleanup_strategy: PromotionCleanupStrategy;
  /** Canary ramp: 10 even traffic stages. */
  ramp_up_while_promoting: boolean;
  /** Length of the whole canary ramp; a stage every duration/10 seconds. */
  ramp_up_duration_seconds: number;
  /** Whether the candidate is a fresh copy of the source deployment (handled when the promotion is
   * created, not by the planner; kept so the snapshot is complete). */
  redeploy_on_promotion: boolean;
  /** Automated analysis while traffic moves (rollout/analysis.ts); null or absent (snapshots taken
   * before analysis existed): none. */
  analysis?: PromotionAnalysis | null;
  /** Manual gate before the candidate gets 100 % of the traffic (rollout/approval.ts); absent: none. */
  confirm_promotion?: boolean;
  /** Webhook gates (rollout/pre-rollout.ts, rollout-webhooks.ts, post-rollout.ts); absent: none. */
  webhooks?: PromotionWebhook[];
}

/** The environment's autoscaling bounds. */
export interface ScalingBounds {
  /** Fewest replicas the environment's deployment may run (0 allows scale to zero). */
  min_replica: number;
  /** Most replicas the environment's deployment may run; caps autoscaling during a rollout. */
  max_replica: number;
}

/**
 * Where in its cycle a promotion is. Each phase has an entry move (done once, when the phase is
 * entered) and a wait condition (checked on every pass); see plan.ts.
 */
export type PromotionPhase =
  /** ROLLING, overhead > 0: previous asked for N + overhead replicas; waiting until they are ready. */
  | "provisioning_overhead"
  /** Candidate asked for more replicas; waiting until they are ready (deadline: `readyDeadlineAt`). */
  | "scaling_up_candidate"
  /** ROLLING: traffic was just shifted to the ready ratio; waiting `stabilization_time_seconds`. */
  | "stabilizing"
  /** ROLLING: previous asked for fewer replicas; waiting until the removed ones are gone. */
  | "scaling_down_previous"
  /** CANARY: traffic is at stage `step` × 10%; waiting duration/10 before the next stage. */
  | "canary_stage"
  /** RAMPING_DOWN: previous asked for more replicas; waiting until they are ready, then traffic moves back. */
  | "restoring_previous"
  /** RAMPING_DOWN: candidate asked for fewer replicas (traffic already reduced); waiting until gone. */
  | "scaling_down_candidate"
  /** Terminal status reached; nothing left to do but cleanup (see `cleanupFor`). */
  | "done";

/** Replica counts the reconciler must ask the runtime for. */
export interface DesiredReplicas {
  /** Replicas of the previous deployment (0 when there is none). */
  previous: number;
  /** Replicas of the candidate deployment. */
  candidate: number;
}

/** The persisted promotion. Plain JSON; every field is needed to resume after a crash. */
export interface PromotionState {
  /** Promotion id. */
  id: string;
  /** Incremented on every change; the reconciler writes with compare-and-set on it. */
  version: number;
  /** How traffic moves (from the settings, INSTANT when there is no previous deployment). */
  kind: PromotionKind;
  /** Current status. */
  status: PromotionStatus;
  /** Set while PAUSED: the status `resume` returns to. */
  pausedFrom?: "RELEASING" | "RAMPING_UP";
  /** The environment's deployment when the promotion started; null for the first promotion into
   * an empty environment (nothing to shift from or back to). */
  previousDeploymentId: string | null;
  /** The deployment being promoted. */
  candidateDeploymentId: string;
  /** Its name, for messages (absent in states persisted before it was recorded). */
  candidateDeploymentName?: string;
  /** Settings the promotion started with. */
  settings: PromotionSettingsSnapshot;
  /** The environment's bounds when the promotion started. */
  bounds: ScalingBounds;
  /** N: the environment's steady replica count. The previous deployment's count at start, at least
   * max(1, min_replica), at most max_replica; grows (never shrinks) with autoscaling demand. */
  baseReplicas: number;
  /** ROLLING: ceil(N₀ × replica_overhead_percent / 100) extra replicas pre-provisioned on the previous
   * deployment, fixed at start. 0 for the other kinds. */
  overheadReplicas: number;
  /** 0–100 integer: share of traffic the router sends to the candidate. */
  percentTrafficToNewVersion: number;
  /** Traffic shifts made so far (canary: the stage, 1–10). */
  step: number;
  /** Traffic shifts expected in all (ROLLING: ceil(N / step size), recomputed when N grows). */
  totalSteps: number;
  /** Where in the cycle the promotion is. */
  phase: PromotionPhase;
  /** What the runtime must run now. */
  desiredReplicas: DesiredReplicas;
  /** When the current phase was entered (ms): stabilization and canary stages count from here. */
  phaseStartedAt: number;
  /** When the promotion was created (ms). */
  startedAt: number;
  /** How long the candidate gets to have the replicas it was asked for (ms), reapplied at each scale-up. */
  readyTimeoutMs: number;
  /** The candidate must have `desiredReplicas.candidate` ready by then, else FAILED. Null when no
   * candidate scale-up is outstanding (set at each scale-up request, cleared once satisfied). */
  readyDeadlineAt: number | null;
  /** The promote request's `timeout_seconds`: not terminal this long after `startedAt` → FAILED.
   * Null or absent: no deadline (absent in states stored before the planner owned it). */
  timeoutSeconds?: number | null;
  /** When a terminal status was reached (ms). */
  finishedAt?: number;
  /** Why it FAILED (with the candidate's last error). */
  errorMessage?: string;
  /** The automated analysis' runs, counters and window (present when the settings have analysis). */
  analysis?: AnalysisState;
  /** The manual gate: "waiting" while PAUSED at it, "approved" once passed; absent before it. */
  approval?: "waiting" | "approved";
  /** The pre-rollout webhooks: "due" while the first shift waits for the reconciler to call them. */
  preRollout?: { status: "due" | "passed" | "failed"; results: PromotionWebhookResult[] };
  /** The rollout webhooks of the shift to `step`: "due" while that shift waits for the reconciler to call them. */
  rolloutGate?: { step: number; status: "due" | "passed" | "failed"; results: PromotionWebhookResult[] };
  /** Answers of the rollout and post-rollout webhooks, oldest first, the newest 20 (pre-rollout's are in `preRollout`). */
  webhookResults?: PromotionWebhookResult[];
  /** The post-rollout webhooks, once called after the end (rollout/post-rollout.ts); absent before. */
  postRollout?: { results: PromotionWebhookResult[] };
}

/** What the runtime reports for one deployment. */
export interface DeploymentReplicaObservation {
  /** Replicas answering their readiness path (the only ones that get traffic). */
  ready: number;
  /** Replicas started but not ready yet. */
  starting: number;
  /** The deployment is crash-looping (the runtime's `failing`). */
  failing: boolean;
  /** Why it is failing, as the runtime reported it (never contains secret values). */
  lastError?: string;
}

/** What the reconciler observed right before calling `planNextStep`. */
export interface Observation {
  /** Current time in ms since the epoch (the planner never reads a clock). */
  now: number;
  /** The previous deployment; null when there is none. */
  previous: DeploymentReplicaObservation | null;
  /** The candidate deployment. */
  candidate: DeploymentReplicaObservation;
  /** The autoscaler's recommended total replicas for the environment, when it has one. */
  demandReplicas?: number;
  /**
   * Set (ms) while an engine that has just taken the promotion over (a restart, or another engine
   * after its driver died) waits for the runtime to bring back the candidate replicas the persisted
   * traffic needs (`resumedAfterTakeover`): replicas of a killed engine restart cold, so a plain
   * pass would clamp the persisted traffic to 0 ready and count the way back up as new steps. The
   * planner then holds: no clamp, no autoscaling growth, no phase move, only failure checks.
   */
  resumingSince?: number;
  /** A window the analysis runner has just judged, to record on the state (rollout/analysis.ts). */
  analysis?: AnalysisMeasured;
  /** The answers of the webhooks the state asked for (`preRollout` or `rolloutGate` "due"), once the reconciler has called them. */
  webhooks?: PromotionWebhookResult[];
}

/** A human-readable progress line; emitted only when the thing it names changed. */
export interface ProgressEvent {
  kind: "status" | "step" | "traffic" | "replicas" | "analysis";
  message: string;
}

/** Result of one planner pass. */
export interface PlanResult {
  /** The new state (the same object when nothing changed). */
  state: PromotionState;
  /** When to call again at the latest (ms); null when no timer is pending (terminal, or waiting only
   * for a runtime change event). */
  wakeAt: number | null;
  /** What changed in this pass, oldest first. */
  events: ProgressEvent[];
}

/** Requests a user can make on an in-progress promotion. */
export type ControlAction =
  /** Stop taking steps; keep the current traffic split. */
  | "pause"
  /** Continue from where it was paused. */
  | "resume"
  /** Pass the manual gate (`confirm_promotion`) a promotion waits at. */
  | "approve"
  /** Graceful: RAMPING_DOWN for ROLLING, CANCELED at once otherwise. */
  | "cancel"
  /** CANCELED now: all traffic to the previous deployment. */
  | "force_cancel"
  /** SUCCEEDED now: all traffic to the candidate (also while RAMPING_DOWN). */
  | "force_roll_forward";

/** Result of `applyControlAction`: a refused action names the current status (the API's 409). */
export type ControlActionResult =
  | { ok: true; state: PromotionState }
  | { ok: false; reason: string };

/** Inputs of `startPromotion`. */
export interface StartPromotionInput {
  id: string;
  previousDeploymentId: string | null;
  candidateDeploymentId: string;
  /** The candidate's name, for messages. */
  candidateDeploymentName?: string;
  settings: PromotionSettingsSnapshot;
  bounds: ScalingBounds;
  /** The previous deployment's replica count now (0 when there is none). */
  previousReplicas: number;
  /** Current time, ms. */
  now: number;
  /** How long the candidate gets to have the replicas it is asked for, ms. */
  readyTimeoutMs: number;
  /** The promote request's `timeout_seconds` (null or absent: none). */
  timeoutSeconds?: number | null;
}

/** What the reconciler does with the previous deployment once the promotion is SUCCEEDED. */
export type PreviousDeploymentCleanup =
  /** Nothing: not SUCCEEDED, or there is no previous deployment. */
  | { action: "none" }
  /** Leave it running at `replicas`. */
  | { action: "keep"; deploymentId: string; replicas: number }
  /** Scale it to 0 replicas; it stays active. */
  | { action: "scale_to_zero"; deploymentId: string }
  /** Scale it to 0 and deactivate it. */
  | { action: "deactivate"; deploymentId: string };
