import { replicaSetId, type ReplicaInfo, type ReplicaSetId } from "../runtime/runtime.js";
import type { DataPlaneTarget } from "./data-plane-path.js";
import type { DeploymentRoute, EnvironmentRoute, RoutingTable } from "./routing-table.js";

/**
 * The deployment an environment request goes to: the candidate with probability
 * percentToCandidate / 100, else the current one. `rand` returns [0, 1) (Math.random in
 * production, a seeded sequence in tests). Null when the environment has nothing to serve.
 */
export function pickDeployment(route: EnvironmentRoute, rand: () => number): string | null {
  const { currentDeploymentId, candidateDeploymentId } = route;
  if (candidateDeploymentId === null) return currentDeploymentId;
  if (currentDeploymentId === null) return candidateDeploymentId;
  const percent = Math.min(100, Math.max(0, route.percentToCandidate));
  return rand() * 100 < percent ? candidateDeploymentId : currentDeploymentId;
}

/**
 * Least requests in flight; ties are broken round-robin by starting the scan at `rotation`
 * (a counter the caller increments per request), so that idle replicas share sequential load
 * evenly instead of the first one taking everything.
 */
export function pickReplica<R extends Pick<ReplicaInfo, "id">>(
  readyReplicas: readonly R[],
  inFlight: (replicaId: string) => number,
  rotation: number,
): R | undefined {
  const count = readyReplicas.length;
  if (count === 0) return undefined;
  let best: R | undefined;
  let bestLoad = Number.POSITIVE_INFINITY;
  for (let offset = 0; offset < count; offset++) {
    const replica = readyReplicas[(rotation + offset) % count]!;
    const load = inFlight(replica.id);
    if (load < bestLoad) {
      best = replica;
      bestLoad = load;
      if (load === 0) break;
    }
  }
  return best;
}

export type Resolution =
  | {
      ok: true;
      modelId: string;
      deploymentId: string;
      replicaSetId: ReplicaSetId;
      deployment: DeploymentRoute;
      /** the environment whose set serves it; null for the per-deployment and development endpoints */
      environment: string | null;
      /** that environment has a promotion in progress (metrics' rollout_phase) */
      promoting: boolean;
    }
  | { ok: false; message: string };

/** Which deployment serves a predict request, or why none does (a 404). Pure. */
export function resolveTarget(table: RoutingTable, target: DataPlaneTarget, rand: () => number): Resolution {
  const { modelId } = target;
  if (!table.hasModel(modelId)) return { ok: false, message: `model "${modelId}" not found` };
  let deploymentId: string;
  // An environment's traffic only reaches its own set (its ENVIRONMENT, variables and secrets);
  // the per-deployment and development endpoints reach the deployment's own set.
  let setEnvironment: string | null = null;
  let promoting = false;
  switch (target.kind) {
    case "environment": {
      const environment = table.environment(modelId, target.envName);
      if (environment === undefined) {
        return { ok: false, message: `environment "${target.envName}" of model "${modelId}" not found` };
      }
      // header routing to the candidate; without a promotion in progress, the usual split
      const picked = target.candidate === true && environment.candidateDeploymentId !== null ? environment.candidateDeploymentId : pickDeployment(environment, rand);
      if (picked === null) {
        return {
          ok: false,
          message: `environment "${target.envName}" of model "${modelId}" has no deployment yet: promote a deployment to it first`,
        };
      }
      deploymentId = picked;
      setEnvironment = target.envName;
      promoting = environment.candidateDeploymentId !== null;
      break;
    }
    case "deployment":
      deploymentId = target.deploymentId;
      break;
    case "development": {
      const development = table.developmentDeploymentId(modelId);
      if (development === undefined) return { ok: false, message: `model "${modelId}" has no development deployment` };
      deploymentId = development;
      break;
    }
  }
  const deployment = table.deployment(modelId, deploymentId);
  if (deployment === undefined) {
    return { ok: false, message: `deployment "${deploymentId}" of model "${modelId}" not found` };
  }
  if (!deployment.active) {
    return { ok: false, message: `deployment "${deploymentId}" of model "${modelId}" is inactive: activate it to serve predictions` };
  }
  return { ok: true, modelId, deploymentId, replicaSetId: replicaSetId(deploymentId, setEnvironment), deployment, environment: setEnvironment, promoting };
}
