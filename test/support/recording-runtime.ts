/**
 * A fake runtime for planner, reconciler and controller unit tests only (end-to-end tests use the
 * real ones): it records every call; replicas become ready only when the test says so.
 */
import type { ExistingReplicaSet, ReplicaInfo, ReplicaSetObservation, ReplicaSetSpec, Runtime } from "../../engine/runtime/runtime.js";

/** Records every runtime call; replicas become ready only when the test says so. */
export class RecordingRuntime implements Runtime {
  readonly kind = "recording";
  readonly sharesReplicas = false;
  /** every setDesired call, in order */
  readonly calls: Array<{ replicaSetId: string; replicas: number; revision: string }> = [];
  /** the spec of each set's last setDesired (removed sets included) */
  readonly specs = new Map<string, ReplicaSetSpec>();
  readonly #desired = new Map<string, number>();
  /** ready replicas per deployment, set by the test (capped at desired) */
  readonly ready = new Map<string, number>();
  readonly #listeners = new Set<(deploymentId: string) => void>();

  unsupported(): undefined {
    return undefined;
  }
  setDesired(spec: ReplicaSetSpec, replicas: number): void {
    this.calls.push({ replicaSetId: spec.id, replicas, revision: spec.revision });
    this.specs.set(spec.id, spec);
    this.#desired.set(spec.id, replicas);
  }
  async remove(deploymentId: string): Promise<void> {
    this.#desired.delete(deploymentId);
  }
  observe(replicaSetId: string): ReplicaSetObservation {
    const desired = this.#desired.get(replicaSetId) ?? 0;
    const ready = Math.min(desired, this.ready.get(replicaSetId) ?? 0);
    return { replicaSetId, desired, ready, starting: desired - ready, consecutiveFailures: 0, failing: false, replicas: [] };
  }
  readyReplicas(): readonly ReplicaInfo[] {
    return [];
  }
  onChange(listener: (deploymentId: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  /** Tell the listeners a set changed (as a runtime does when a replica turns ready). */
  changed(replicaSetId: string): void {
    for (const listener of this.#listeners) listener(replicaSetId);
  }
  setWriter(): void {}
  async list(): Promise<ExistingReplicaSet[]> {
    return [];
  }
  async detach(): Promise<void> {}
  async stopAll(): Promise<void> {}
  /** Replica counts per deployment as last asked: what "changed the runtime" means. */
  desiredSnapshot(): Record<string, number> {
    return Object.fromEntries(this.#desired);
  }
}
