import type { ChainStage, ModelChain } from "../../sdk/index.js";
import { nameWithId } from "../../sdk/labels.js";
import { presentAnalysisStatus } from "../analysis/status.js";
import type { AnalysisState } from "../analysis/types.js";
import { listLiveDeployments, type DeploymentRow } from "../store/deployments.js";
import { findModelEnvironmentOfWorkspace, listLiveEnvironments, type EnvironmentRow } from "../store/environments.js";
import { listPromotions, type PromotionRow } from "../store/promotions.js";
import type { SqlExecutor } from "../store/sql.js";
import { toIsoTimestamp } from "../store/timestamps.js";
import { findLiveWorkspaceEnvironment, findWorkspaceEnvironmentById, listLiveWorkspaceEnvironments } from "../store/workspace-environments.js";
import { requireModel } from "./lookups.js";
import { chainOrder } from "./workspace-environments.js";

/**
 * The promotion chain of workspace environments: a deployment goes into an environment that
 * `requires` another only after its promotion into the model's environment of that other one
 * SUCCEEDED (with no failed analysis run, when it had an analysis that was not a dry run) and it
 * served there `min_soak_seconds` since. One rule for the promote routes (a 409 with the message)
 * and for GET /v1/models/{model_id}/chain.
 */

/** Why a deployment may not go into an environment yet. */
export type ChainBlockReason = "never_promoted" | "not_succeeded" | "analysis_failed" | "soaking" | "replaced_before_soak";

export type ChainVerdict =
  | { ok: true; requiredEnvironment: string | null }
  | {
      ok: false;
      requiredEnvironment: string;
      reason: ChainBlockReason;
      message: string;
      /** while soaking: since when it serves there, and when it passes */
      soakingSince?: Date;
      soakReadyAt?: Date;
    };

function failedAnalysisRuns(promotion: PromotionRow): number {
  const state = promotion.planner_state as { analysis?: AnalysisState; settings?: { analysis?: { dry_run?: boolean } | null } };
  const status = presentAnalysisStatus(state.analysis, state.settings?.analysis?.dry_run ?? false);
  if (status === null || status.dry_run) return 0;
  return status.failed_runs;
}

/** What the rule looks at, read by `chainVerdict`: one deployment, the model's environment it goes into and the required one. */
export interface ChainFacts {
  deployment: { id: string; name: string };
  /** the environment it is promoted into */
  environmentName: string;
  /** the workspace environment that one requires, and the soak it asks there */
  requiredEnvironment: string;
  minSoakSeconds: number;
  /** the model's environment of the required one: undefined when the model has none */
  required:
    | {
        currentDeploymentId: string | null;
        /** its promotions, newest first (any deployment) */
        promotions: readonly Pick<PromotionRow, "id" | "deployment_id" | "status" | "error_message" | "started_at" | "finished_at">[];
      }
    | undefined;
  /** failed analysis runs of a promotion (0 without analysis, or a dry run) */
  failedAnalysisRuns: (promotionId: string) => number;
}

/**
 * The chain rule, pure. Worked example: production requires staging with a 60 s soak; v2's promotion
 * into staging SUCCEEDED at 12:00:00 and v2 still serves staging: at 12:00:10 it is `soaking` (10 s
 * of 60 s, passes at 12:01:00), at 12:01:00 it passes. Had v3 taken staging over at 12:00:10, v2
 * would be `replaced_before_soak` for good (test/engine/service/chain.test.ts has this as a table).
 */
export function judgeChain(facts: ChainFacts, now: Date): ChainVerdict {
  const required = facts.requiredEnvironment;
  const who = `deployment ${nameWithId(facts.deployment.name, facts.deployment.id)}`;
  const blocked = (reason: ChainBlockReason, why: string, soak: { soakingSince?: Date; soakReadyAt?: Date } = {}): ChainVerdict => ({
    ok: false,
    requiredEnvironment: required,
    reason,
    message:
      `${who} has not passed ${required}, which ${facts.environmentName} requires: ${why}; ` +
      `promote it through ${required} first (or send "skip_chain": true with an admin key)`,
    ...soak,
  });
  if (!facts.required) return blocked("never_promoted", `the model has no ${required} environment`);
  const { promotions, currentDeploymentId } = facts.required;
  const own = promotions.filter((promotion) => promotion.deployment_id === facts.deployment.id);
  const latest = own[0];
  if (!latest) return blocked("never_promoted", `it was never promoted to ${required}`);
  const passed = own.find((promotion) => promotion.status === "SUCCEEDED" && promotion.finished_at !== null);
  if (!passed) {
    const detail = latest.error_message !== null ? ` (${latest.error_message})` : "";
    return blocked("not_succeeded", `its promotion to ${required} is ${latest.status}${detail}, not SUCCEEDED`);
  }
  const failedRuns = facts.failedAnalysisRuns(passed.id);
  if (failedRuns > 0) return blocked("analysis_failed", `its promotion to ${required} had ${failedRuns} failed analysis run(s)`);
  const soakSeconds = facts.minSoakSeconds;
  if (soakSeconds === 0) return { ok: true, requiredEnvironment: required };
  const since = passed.finished_at!;
  // It served until the next promotion there took over (the first SUCCEEDED one started after it passed).
  const replacedBy = promotions
    .filter((promotion) => promotion.status === "SUCCEEDED" && promotion.finished_at !== null && promotion.started_at.getTime() >= since.getTime() && promotion.id !== passed.id)
    .at(-1);
  const servingNow = currentDeploymentId === facts.deployment.id;
  const until = servingNow || !replacedBy ? now : replacedBy.finished_at!;
  const servedMs = until.getTime() - since.getTime();
  if (servedMs >= soakSeconds * 1000) return { ok: true, requiredEnvironment: required };
  const servedSeconds = Math.max(0, Math.floor(servedMs / 1000));
  if (!servingNow && replacedBy) {
    return blocked("replaced_before_soak", `it served in ${required} for ${servedSeconds} s of the ${soakSeconds} s required (min_soak_seconds) before it was replaced`);
  }
  const readyAt = new Date(since.getTime() + soakSeconds * 1000);
  return blocked(
    "soaking",
    `it has soaked in ${required} for ${servedSeconds} s of the ${soakSeconds} s required (min_soak_seconds), since ${since.toISOString()}; it passes at ${readyAt.toISOString()}`,
    { soakingSince: since, soakReadyAt: readyAt },
  );
}

/**
 * May `deployment` be promoted into `environment` now, by the chain rule? Environments of the
 * model's own, and workspace environments that require nothing, always allow it. Reads the facts,
 * then `judgeChain` decides.
 */
export async function chainVerdict(
  sql: SqlExecutor,
  environment: EnvironmentRow,
  deployment: Pick<DeploymentRow, "id" | "name">,
  now: Date,
): Promise<ChainVerdict> {
  if (environment.workspace_environment_id === null) return { ok: true, requiredEnvironment: null };
  const workspace = await findWorkspaceEnvironmentById(sql, environment.workspace_environment_id);
  if (!workspace || workspace.requires === null) return { ok: true, requiredEnvironment: null };
  const requiredWorkspace = await findLiveWorkspaceEnvironment(sql, workspace.requires);
  const requiredEnvironment = requiredWorkspace ? await findModelEnvironmentOfWorkspace(sql, environment.model_id, requiredWorkspace.id) : undefined;
  const promotions = requiredEnvironment ? await listPromotions(sql, requiredEnvironment.id) : [];
  const byId = new Map(promotions.map((promotion) => [promotion.id, promotion]));
  return judgeChain(
    {
      deployment,
      environmentName: environment.name,
      requiredEnvironment: workspace.requires,
      minSoakSeconds: workspace.min_soak_seconds,
      required: requiredEnvironment ? { currentDeploymentId: requiredEnvironment.current_deployment_id, promotions } : undefined,
      failedAnalysisRuns: (promotionId) => {
        const promotion = byId.get(promotionId);
        return promotion ? failedAnalysisRuns(promotion) : 0;
      },
    },
    now,
  );
}

/** GET /v1/models/{model_id}/chain: every published deployment's stage in each workspace environment. */
export async function modelChain(sql: SqlExecutor, modelId: string, now: Date): Promise<ModelChain> {
  await requireModel(sql, modelId);
  const workspaces = chainOrder(await listLiveWorkspaceEnvironments(sql));
  const environments = new Map((await listLiveEnvironments(sql, modelId)).map((row) => [row.workspace_environment_id, row]));
  const deployments = (await listLiveDeployments(sql, modelId)).filter((row) => !row.is_development);
  const promotionsOf = new Map<string, PromotionRow[]>();
  for (const workspace of workspaces) {
    const environment = environments.get(workspace.id);
    if (environment) promotionsOf.set(environment.id, await listPromotions(sql, environment.id));
  }
  const out: ModelChain["deployments"] = [];
  for (const deployment of [...deployments].sort((a, b) => b.created_at.getTime() - a.created_at.getTime())) {
    const stages: ChainStage[] = [];
    for (const workspace of workspaces) {
      const environment = environments.get(workspace.id);
      if (!environment) continue;
      const own = (promotionsOf.get(environment.id) ?? []).filter((promotion) => promotion.deployment_id === deployment.id);
      const passed = own.find((promotion) => promotion.status === "SUCCEEDED" && promotion.finished_at !== null);
      // as a promote would: rolling back to the environment's previous deployment is exempt
      const verdict: ChainVerdict =
        environment.previous_deployment_id === deployment.id ? { ok: true, requiredEnvironment: null } : await chainVerdict(sql, environment, deployment, now);
      stages.push({
        environment: environment.name,
        requires: workspace.requires,
        serving: environment.current_deployment_id === deployment.id,
        promotion_status: own[0]?.status ?? null,
        passed_at: passed ? toIsoTimestamp(passed.finished_at!) : null,
        can_promote: verdict.ok,
        blocked_by: verdict.ok ? null : verdict.message,
        soaking_since: !verdict.ok && verdict.soakingSince ? verdict.soakingSince.toISOString() : null,
        soak_ready_at: !verdict.ok && verdict.soakReadyAt ? verdict.soakReadyAt.toISOString() : null,
      });
    }
    out.push({ deployment_id: deployment.id, deployment_name: deployment.name, stages });
  }
  return {
    model_id: modelId,
    environments: workspaces.map((workspace) => ({ name: workspace.name, requires: workspace.requires, min_soak_seconds: workspace.min_soak_seconds })),
    deployments: out,
  };
}
