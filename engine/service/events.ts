/**
 * Domain events: what changed, not how. Emitted after the transaction that made the change has
 * committed; listeners (runtime driver, router table, reconciler) re-read current state, so an
 * event carries ids only and a missed or repeated event does no harm.
 */
export type DomainEvent =
  | { type: "model.created"; modelId: string }
  | { type: "model.deleted"; modelId: string }
  /** created, patched (live reload), renamed, activated, deactivated, autoscaling changed, deleted */
  | { type: "deployment.changed"; modelId: string; deploymentId: string; deleted: boolean }
  /** created, settings or variables changed, deleted, current deployment changed */
  | { type: "environment.changed"; modelId: string; environmentName: string; deleted: boolean }
  /**
   * a promotion started (`started`: of the environment's deployments only its candidate's sets
   * change, as it is now promoted into the environment), or an action (pause, cancel …) was requested
   */
  | { type: "promotion.changed"; modelId: string; environmentName: string; promotionId: string; started?: boolean }
  | { type: "promotion_settings.changed"; promotionSettingsId: string; deleted: boolean };

export type DomainEventType = DomainEvent["type"];
/** A listener that returns a promise tells the emitter when it has applied the event. */
export type DomainEventListener = (event: DomainEvent) => void | Promise<void>;

export class DomainEvents {
  readonly #listeners = new Set<DomainEventListener>();

  /** Subscribe; returns the unsubscribe function. */
  onChange(listener: DomainEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tell every listener; resolves once those that return a promise have applied it (never rejects). */
  async emit(event: DomainEvent): Promise<void> {
    const applying: Promise<void>[] = [];
    for (const listener of this.#listeners) {
      // a failing listener must not fail the request that already committed, nor starve the others
      try {
        const applied = listener(event);
        if (applied) applying.push(applied.catch(() => undefined));
      } catch {
        continue;
      }
    }
    await Promise.all(applying);
  }
}
