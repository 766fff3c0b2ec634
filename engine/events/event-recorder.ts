/**
 * Turns the engine's state changes — this engine's domain events, its reconciler's promotion
 * steps and controller's replica counts, and (on PostgreSQL) other engines' changes from the
 * change feed — into numbered API events in the ring. One change at a time, in arrival order:
 * a promotion is read after its change committed, so an event shows that state or a newer one,
 * never an older one; a read that finds nothing new (two notices of one write) records nothing,
 * so a client never sees one transition twice.
 *
 * Nothing is read while nobody watches (no stream open, none closed within the grace period):
 * the reads would only cost the store (one per promotion step and per replica-count change,
 * which bench/scale counts), and the ring marks the gap so a late resume gets `reset`.
 */
import type { ModelplaneEvent } from "../../sdk/schemas/event.js";
import type { ClusterChange } from "../control/change-feed.js";
import { presentPromotion } from "../service/presenters.js";
import { findLiveDeploymentById } from "../store/deployments.js";
import { findPromotion } from "../store/promotions.js";
import type { SqlExecutor } from "../store/sql.js";
import type { EventRing } from "./event-ring.js";

/** promotions whose last recorded state is remembered, to drop repeats (oldest forgotten first) */
const REMEMBERED_PROMOTIONS = 1_000;

export interface EventRecorderOptions {
  sql: SqlExecutor;
  ring: EventRing;
  /** is a client watching, or likely to resume soon? default: always */
  watched?: () => boolean;
  log?: (line: string) => void;
}

export class EventRecorder {
  readonly #options: EventRecorderOptions;
  #queue: Promise<void> = Promise.resolve();
  /** promotion id → its last recorded JSON */
  readonly #lastPromotion = new Map<string, string>();
  #closed = false;

  constructor(options: EventRecorderOptions) {
    this.#options = options;
  }

  /** Record a change (after its transaction committed); returns at once, the event follows. */
  record(change: ClusterChange): void {
    if (this.#closed) return;
    this.#queue = this.#queue
      .then(() => {
        if (this.#options.watched?.() === false) {
          this.#options.ring.markGap();
          // what was last recorded for a promotion says nothing once changes went unrecorded
          this.#lastPromotion.clear();
          return undefined;
        }
        return this.#toEvent(change);
      })
      .then((event) => {
        if (event !== undefined) this.#options.ring.append(event);
      })
      .catch((error: unknown) => this.#options.log?.(`events: could not record ${change.type}: ${(error as Error).message}`));
  }

  /** Takes no more changes; resolves when those already taken are recorded (the store may close after). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue;
  }

  async #toEvent(change: ClusterChange): Promise<ModelplaneEvent | undefined> {
    switch (change.type) {
      case "model.created":
      case "model.deleted":
        return { type: change.type, model_id: change.modelId };
      case "deployment.changed":
        return { type: change.type, model_id: change.modelId, deployment_id: change.deploymentId, deleted: change.deleted };
      case "environment.changed":
        return { type: change.type, model_id: change.modelId, environment: change.environmentName, deleted: change.deleted };
      case "promotion_settings.changed":
        return { type: change.type, promotion_settings_id: change.promotionSettingsId, deleted: change.deleted };
      case "promotion.changed":
        return this.#promotionEvent(change.promotionId);
      case "replica_set.changed": {
        // the leader changed a deployment's replica count: clients showing replicas refetch it
        const row = await findLiveDeploymentById(this.#options.sql, change.deploymentId);
        return row === undefined ? undefined : { type: "deployment.changed", model_id: row.model_id, deployment_id: row.id, deleted: false };
      }
      case "replica_set.wake":
        return undefined;
    }
  }

  async #promotionEvent(promotionId: string): Promise<ModelplaneEvent | undefined> {
    const row = await findPromotion(this.#options.sql, promotionId);
    // deleted with its model: the model.deleted event says so
    if (row === undefined) return undefined;
    const promotion = presentPromotion(row);
    const json = JSON.stringify(promotion);
    if (this.#lastPromotion.get(promotionId) === json) return undefined;
    this.#lastPromotion.delete(promotionId);
    this.#lastPromotion.set(promotionId, json);
    if (this.#lastPromotion.size > REMEMBERED_PROMOTIONS) {
      const oldest = this.#lastPromotion.keys().next().value;
      if (oldest !== undefined) this.#lastPromotion.delete(oldest);
    }
    return { type: "promotion.changed", model_id: row.model_id, environment: row.environment_name, promotion };
  }
}
