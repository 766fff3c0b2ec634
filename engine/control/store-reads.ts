/**
 * What the deployment controller reads of the store to converge one deployment, as a port: a
 * change event reads the slice of the store of the deployment (or the few) it syncs in one
 * statement when first asked (liveReads; the ~10 reads one after another it replaced each queued
 * behind every other statement on PGlite's one session), a resync reads every table once
 * (store-snapshot.ts); both answer from memory, indexed by StoreSnapshot. One sync path, the same
 * decisions, whichever answers.
 */
import type { PromotionSettings } from "../../sdk/index.js";
import { readDeploymentSlice } from "../store/control-snapshot.js";
import type { DeploymentRow } from "../store/deployments.js";
import type { EnvironmentRow } from "../store/environments.js";
import type { ReplicaSetRow } from "../store/replica-sets.js";
import type { SqlExecutor } from "../store/sql.js";
import type { VariableRow } from "../store/variables.js";
import { StoreSnapshot } from "./store-snapshot.js";

/** A variable a set's replicas get (plain text: a secret's value decrypted). */
export type SetVariable = Pick<VariableRow, "name" | "value" | "secret">;

export interface ControllerReads {
  /** a live deployment */
  deployment(deploymentId: string): Promise<DeploymentRow | undefined>;
  /** a live model's name */
  modelName(modelId: string): Promise<string | undefined>;
  /** live environments the deployment serves, production first, then by name */
  environmentsServing(deploymentId: string): Promise<EnvironmentRow[]>;
  /** live environments an in-progress promotion moves to the deployment, production first, then by name */
  environmentsPromotedInto(deploymentId: string): Promise<EnvironmentRow[]>;
  /** the deployment's replica_sets rows (counts the leader stored) */
  replicaSetsOf(deploymentId: string): Promise<ReplicaSetRow[]>;
  /** a live environment of a model */
  environment(modelId: string, name: string): Promise<EnvironmentRow | undefined>;
  /** the variables and secrets an environment's replicas get, in the order its revision hashes them;
   * throws for a secret this engine cannot decrypt */
  variablesOf(environment: EnvironmentRow): Promise<SetVariable[]>;
  /** the promotion settings an environment's configuration roll uses */
  promotionSettingsOf(environment: EnvironmentRow): Promise<PromotionSettings>;
}

/**
 * The reads of a few deployments' syncs, answered from their slice of the store (readDeploymentSlice:
 * one statement), read at the first question and kept for the rest of these syncs: every answer is
 * of one instant. Asked about another deployment, it throws (a sync reads only its own deployment's).
 */
export function liveReads(sql: SqlExecutor, deploymentIds: readonly string[]): ControllerReads {
  let slice: Promise<StoreSnapshot> | undefined;
  const read = (): Promise<StoreSnapshot> => (slice ??= readDeploymentSlice(sql, deploymentIds).then((rows) => new StoreSnapshot(rows, sql)));
  const of = async (id: string): Promise<StoreSnapshot> => {
    if (!deploymentIds.includes(id)) throw new Error(`reads of deployments ${deploymentIds.join(", ")} asked about deployment ${id}`);
    return read();
  };
  return {
    deployment: async (id) => (await of(id)).deployment(id),
    modelName: async (modelId) => (await read()).modelName(modelId),
    environmentsServing: async (id) => (await of(id)).environmentsServing(id),
    environmentsPromotedInto: async (id) => (await of(id)).environmentsPromotedInto(id),
    replicaSetsOf: async (id) => (await of(id)).replicaSetsOf(id),
    environment: async (modelId, name) => (await read()).environment(modelId, name),
    variablesOf: async (environment) => (await read()).variablesOf(environment),
    promotionSettingsOf: async (environment) => (await read()).promotionSettingsOf(environment),
  };
}
