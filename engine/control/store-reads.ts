/**
 * What the deployment controller reads of the store to converge one deployment, as a port: a
 * single change event reads the rows live (liveReads, a few statements for that deployment); a
 * resync reads every table once and answers from memory (store-snapshot.ts). One sync path, the
 * same decisions, whichever answers.
 */
import type { PromotionSettings } from "../../sdk/index.js";
import { effectivePromotionSettings, effectiveVariables } from "../service/lookups.js";
import { findLiveDeploymentById, type DeploymentRow } from "../store/deployments.js";
import { findLiveEnvironment, listEnvironmentsPromotedInto, listEnvironmentsServing, type EnvironmentRow } from "../store/environments.js";
import { findLiveModel } from "../store/models.js";
import { listReplicaSetsOf, type ReplicaSetRow } from "../store/replica-sets.js";
import type { SqlExecutor } from "../store/sql.js";
import { listVariables, type VariableRow } from "../store/variables.js";

/** A variable a set's replicas get (plain text: a secret's value decrypted). */
export type SetVariable = Pick<VariableRow, "name" | "value" | "secret">;

export interface ControllerReads {
  /** a live deployment */
  deployment(deploymentId: string): Promise<DeploymentRow | undefined>;
  /** a live model's name */
  modelName(modelId: string): Promise<string | undefined>;
  /** live environments the deployment serves, production first, then by name */
  environmentsServing(deploymentId: string): Promise<EnvironmentRow[]>;
  /** live environments an in-progress promotion moves to the deployment */
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

/** Each answer read from the store when asked (single change events). */
export function liveReads(sql: SqlExecutor): ControllerReads {
  return {
    deployment: (deploymentId) => findLiveDeploymentById(sql, deploymentId),
    modelName: async (modelId) => (await findLiveModel(sql, modelId))?.name,
    environmentsServing: (deploymentId) => listEnvironmentsServing(sql, deploymentId),
    environmentsPromotedInto: (deploymentId) => listEnvironmentsPromotedInto(sql, deploymentId),
    replicaSetsOf: (deploymentId) => listReplicaSetsOf(sql, deploymentId),
    environment: (modelId, name) => findLiveEnvironment(sql, modelId, name),
    // An environment of the model's own: its variables as always (same order, same revision hash);
    // one of a workspace environment: the workspace's, overridden by the model's own.
    variablesOf: (environment) => (environment.workspace_environment_id === null ? listVariables(sql, environment.id) : effectiveVariables(sql, environment)),
    promotionSettingsOf: (environment) => effectivePromotionSettings(sql, environment),
  };
}
