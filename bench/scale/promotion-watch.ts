/**
 * Reads every promotion row the engine writes (the rows its INSERT and its compare-and-set UPDATE
 * return, seen through counting-sql.ts) and derives, from the planner state in them:
 *
 * - timer lag: a rolling promotion's stabilization ends at phaseStartedAt + stabilization_time —
 *   the planner's wakeAt, the one step that is due by the clock. The pass that takes it enters the
 *   next phase with phaseStartedAt = its own `now` (the clock read before planning). Lag = that
 *   `now` − the due time: timer slack, the event-loop queue and the pass's read of the row. The
 *   same due time against the moment the write returned adds the write itself ("… to persisted").
 * - ready lag: a scaling_up_candidate phase waits for the runtime, not the clock; it is due when the
 *   candidate set's last replica turned ready (the hollow runtime says when), and taken by the pass
 *   that enters stabilizing: the event path (runtime event → wake → pass).
 * - steps (traffic shifts: the state's `step` grew) and ended promotions, with their status.
 *
 * Both instants come from one process's Date.now(), and the due time from the persisted state
 * itself, so the measure needs no change to the engine.
 */
import { replicaSetId } from "../../engine/runtime/runtime.js";

/** The part of a persisted PromotionState (engine/rollout/types.ts) the watch reads. */
interface PlannerState {
  kind: string;
  status: string;
  phase: string;
  phaseStartedAt: number;
  step: number;
  candidateDeploymentId: string;
  settings: { rolling_deploy_config: { stabilization_time_seconds: number } };
}

interface PromotionRowSeen {
  id: string;
  model_id: string;
  environment_name: string;
  deployment_id: string;
  planner_state: PlannerState;
}

export interface PromotionEnded {
  promotionId: string;
  modelId: string;
  environmentName: string;
  deploymentId: string;
  status: string;
}

export interface LagSamples {
  /** stabilization due → pass's now, ms */
  timerTaken: number[];
  /** stabilization due → state written, ms */
  timerPersisted: number[];
  /** candidate's last replica ready → pass's now, ms */
  readyTaken: number[];
  steps: number;
  /** promotion writes that changed the state (persisted versions) */
  writes: number;
  ended: Record<string, number>;
}

const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELED"]);

function isPromotionRow(row: unknown): row is PromotionRowSeen {
  if (typeof row !== "object" || row === null) return false;
  const state = (row as { planner_state?: unknown }).planner_state;
  return typeof (row as { id?: unknown }).id === "string" && typeof state === "object" && state !== null && typeof (state as { phaseStartedAt?: unknown }).phaseStartedAt === "number";
}

export class PromotionWatch {
  readonly #last = new Map<string, PlannerState>();
  /** replica set id → when its last replica turned ready */
  readonly #lastReady = new Map<string, number>();
  readonly #onEnded: (ended: PromotionEnded) => void;
  #samples: LagSamples = PromotionWatch.#empty();

  constructor(onEnded: (ended: PromotionEnded) => void) {
    this.#onEnded = onEnded;
  }

  static #empty(): LagSamples {
    return { timerTaken: [], timerPersisted: [], readyTaken: [], steps: 0, writes: 0, ended: {} };
  }

  /** Samples since the last call (and starts new ones). */
  take(): LagSamples {
    const samples = this.#samples;
    this.#samples = PromotionWatch.#empty();
    return samples;
  }

  replicaReady(setId: string, at: number): void {
    this.#lastReady.set(setId, at);
  }

  /** Every statement's result: only promotion writes are read. */
  rows(text: string, rows: readonly unknown[]): void {
    if (!/^\s*(UPDATE promotions|INSERT INTO promotions)/.test(text)) return;
    const writtenAt = Date.now();
    for (const row of rows) if (isPromotionRow(row)) this.#written(row, writtenAt);
  }

  #written(row: PromotionRowSeen, writtenAt: number): void {
    const next = row.planner_state;
    const previous = this.#last.get(row.id);
    this.#samples.writes++;
    if (previous !== undefined) {
      if (next.step > previous.step) this.#samples.steps += next.step - previous.step;
      const phaseMoved = next.phaseStartedAt !== previous.phaseStartedAt;
      if (phaseMoved && previous.phase === "stabilizing" && previous.status !== "PAUSED") {
        const due = previous.phaseStartedAt + previous.settings.rolling_deploy_config.stabilization_time_seconds * 1000;
        this.#samples.timerTaken.push(next.phaseStartedAt - due);
        this.#samples.timerPersisted.push(writtenAt - due);
      }
      if (phaseMoved && previous.phase === "scaling_up_candidate" && next.phase === "stabilizing") {
        const readyAt = this.#lastReady.get(replicaSetId(next.candidateDeploymentId, row.environment_name));
        if (readyAt !== undefined && readyAt <= next.phaseStartedAt) this.#samples.readyTaken.push(next.phaseStartedAt - readyAt);
      }
    }
    if (TERMINAL.has(next.status)) {
      this.#last.delete(row.id);
      this.#samples.ended[next.status] = (this.#samples.ended[next.status] ?? 0) + 1;
      this.#onEnded({ promotionId: row.id, modelId: row.model_id, environmentName: row.environment_name, deploymentId: row.deployment_id, status: next.status });
    } else {
      this.#last.set(row.id, next);
    }
  }
}
