import { z } from "zod";
import { DeletedResponse, ObjectId } from "./common.js";
import { EnvironmentName, Variable } from "./environment.js";

/**
 * The roll of an environment's replicas onto its current variables and secrets. Each environment
 * runs its own replica set per deployment; a change of its variables or secrets replaces that set's
 * replicas like a promotion of the same deployment would: new replicas with the new configuration
 * first (as many at once as the environment's rolling `max_surge_percent` allows, all at once when
 * its promotions are instant), traffic to them as they become ready, old ones drained last — so no
 * request fails and no answer comes from a replica of another environment. Not a promotion: the
 * environment's current deployment does not change, and the roll is not paused or canceled; a
 * later change simply rolls on from wherever this one got.
 *
 * `PUT`/`DELETE …/variables/{name}` answer with the rollout they started; `GET
 * …/environments/{env_name}/variables_rollout` follows it (the provider waits on it).
 */
export const VariablesRolloutStatus = z.enum([
  /** some replicas still run an older configuration, or the new ones are not all ready yet */
  "IN_PROGRESS",
  /** every replica of the environment runs its current configuration and the desired count is ready */
  "SUCCEEDED",
  /** the environment serves no deployment yet: its next promotion starts replicas with this configuration */
  "NONE",
]);
export type VariablesRolloutStatus = z.infer<typeof VariablesRolloutStatus>;

const Count = z.number().int().min(0);

export const VariablesRollout = z.object({
  environment: EnvironmentName,
  /** the deployments whose set for this environment rolls: the current one, and an in-progress promotion's candidate */
  deployment_ids: z.array(ObjectId),
  status: VariablesRolloutStatus,
  replicas: z.object({
    /** replicas the environment's sets are asked for */
    desired: Count,
    /** ready replicas running the current configuration */
    updated_ready: Count,
    /** replicas still running an older configuration (serving, or draining) */
    outdated: Count,
  }),
});
export type VariablesRollout = z.infer<typeof VariablesRollout>;

/** PUT …/variables/{name}: the variable as read back, and the rollout the change started. */
export const VariableChange = Variable.extend({ rollout: VariablesRollout });
export type VariableChange = z.infer<typeof VariableChange>;

/** DELETE …/variables/{name}. */
export const DeletedVariable = DeletedResponse.extend({ rollout: VariablesRollout });
export type DeletedVariable = z.infer<typeof DeletedVariable>;
