import type { PromotionSettings, ValueSource } from "../../sdk/index.js";
import { DEPLOYMENT_JSON_COLUMNS, SERVING_ENVIRONMENT_COLUMN, type ServingDeploymentRow } from "./deployments.js";
import type { EnvironmentRow } from "./environments.js";
import { decodeJsonRow, decodeJsonRows, type Columns } from "./json-rows.js";
import { IN_PROGRESS_SQL, PROMOTION_COLUMNS, PROMOTION_JSON_COLUMNS, type PromotionRow } from "./promotions.js";
import type { SqlExecutor } from "./sql.js";

/**
 * An environment with everything the API shows of it, read in one statement: GET environment and
 * the list of a model's environments were 4-10 statements an environment (the row, its newest
 * promotion, two deployments, variables, workspace variables, settings objects, the workspace
 * environment), and the embedded store runs one statement at a time for everyone. One statement
 * also reads one snapshot: the promotion, the deployments and the row agree (a promotion that
 * succeeded between two reads showed SUCCEEDED beside the deployment it replaced).
 */

/** An effective variable as reads show it: a secret's value is neither read nor decrypted. */
export type ShownVariable = { name: string; source: ValueSource } & ({ secret: true } | { secret: false; value: string });

export interface EnvironmentView {
  environment: EnvironmentRow;
  /** the newest promotion, whatever its status */
  latestPromotion: PromotionRow | undefined;
  /** the live deployment it serves, with the environment that deployment serves (findLiveDeploymentServing) */
  currentDeployment: ServingDeploymentRow | undefined;
  /** the newest promotion's deployment while that promotion is in progress, likewise */
  candidateDeployment: ServingDeploymentRow | undefined;
  /**
   * effective variables (effectiveVariables in engine/service/lookups.ts): the workspace
   * environment's, each overridden by the model's own of the same name. Ordered as before: an
   * environment of the model's own as listVariables orders them (ORDER BY name, the database's
   * collation); one of a workspace environment as mergeEffectiveVariables sorts them (by code unit:
   * COLLATE "C" orders by byte, the same order for the names the API accepts, [A-Z0-9_])
   */
  variables: ShownVariable[];
  /** the settings a promotion would use now (effectivePromotionSettings) */
  promotionSettings: PromotionSettings;
  /** the live workspace environment it is of, or null */
  workspaceEnvironmentName: string | null;
}

/** The row's own columns as the driver gives them (Date, parsed jsonb); the rest is JSON (json-rows.ts decodes it). */
type ViewRow = EnvironmentRow & {
  latest_promotion: unknown;
  current_deployment: unknown;
  candidate_deployment: unknown;
  effective_variables: unknown;
  effective_promotion_settings: PromotionSettings;
  workspace_environment_name: string | null;
};

const SERVING_DEPLOYMENT_COLUMNS: Columns<ServingDeploymentRow> = { ...DEPLOYMENT_JSON_COLUMNS, serving_environment: "text?" };

/** An effective variable as the statement gives it: `value` null for a secret. */
interface VariableJson {
  name: string;
  secret: boolean;
  value: string | null;
  source: ValueSource;
}
const VARIABLE_JSON_COLUMNS: Columns<VariableJson> = { name: "text", secret: "boolean", value: "text?", source: "text" };

/** The environment's promotion settings are the workspace environment's (promotionSettingsSource "workspace", and that one is live). */
const INHERITS_SETTINGS = "(e.workspace_environment_id IS NOT NULL AND e.inherit_promotion_settings AND w.id IS NOT NULL)";

/** The live workspace environment `w` of environment `e` (none: w.* null), for EFFECTIVE_PROMOTION_SETTINGS. */
export const LIVE_WORKSPACE_ENVIRONMENT_JOIN = "LEFT JOIN workspace_environments w ON w.id = e.workspace_environment_id AND w.deleted_at IS NULL";

/** The settings a promotion in environment `e` would use now (effectivePromotionSettings), with `w` joined by LIVE_WORKSPACE_ENVIRONMENT_JOIN. */
export const EFFECTIVE_PROMOTION_SETTINGS = `coalesce(
    (SELECT settings FROM promotion_settings
     WHERE promotion_settings.id = CASE WHEN ${INHERITS_SETTINGS} THEN w.promotion_settings_id ELSE e.promotion_settings_id END
       AND promotion_settings.deleted_at IS NULL),
    CASE WHEN ${INHERITS_SETTINGS} THEN w.inline_promotion_settings ELSE e.inline_promotion_settings END)`;

/** A live deployment of the environment's model by id, with the environment it serves, as JSON (null: none). */
const deploymentJson = (idExpression: string, condition = "true") => `(SELECT to_json(d) FROM (
    SELECT deployments.*, ${SERVING_ENVIRONMENT_COLUMN} FROM deployments
    WHERE deployments.id = ${idExpression} AND deployments.model_id = e.model_id AND deployments.deleted_at IS NULL AND ${condition}) d)`;

const VIEW_SELECT = `SELECT e.*,
  CASE WHEN p.id IS NULL THEN NULL ELSE to_json(p) END AS latest_promotion,
  ${deploymentJson("e.current_deployment_id")} AS current_deployment,
  ${deploymentJson("p.deployment_id", `p.${IN_PROGRESS_SQL}`)} AS candidate_deployment,
  (SELECT coalesce(json_agg(json_build_object('name', v.name, 'secret', v.secret, 'value', CASE WHEN v.secret THEN NULL ELSE v.value END, 'source', v.source)
      ORDER BY CASE WHEN e.workspace_environment_id IS NULL THEN v.name END, v.name COLLATE "C"), '[]'::json)
    FROM (SELECT name, secret, value, 'model' AS source FROM variables WHERE environment_id = e.id
          UNION ALL
          SELECT name, secret, value, 'workspace' FROM workspace_variables wv WHERE wv.workspace_environment_id = e.workspace_environment_id
            AND NOT EXISTS (SELECT 1 FROM variables own WHERE own.environment_id = e.id AND own.name = wv.name)) v) AS effective_variables,
  ${EFFECTIVE_PROMOTION_SETTINGS} AS effective_promotion_settings,
  w.name AS workspace_environment_name
FROM environments e
${LIVE_WORKSPACE_ENVIRONMENT_JOIN}
LEFT JOIN LATERAL (SELECT ${PROMOTION_COLUMNS} FROM promotions WHERE promotions.environment_id = e.id
  ORDER BY started_at DESC, id DESC LIMIT 1) p ON true`;

/** A live environment of a model as the API shows it, or undefined. */
export async function findEnvironmentView(sql: SqlExecutor, modelId: string, name: string): Promise<EnvironmentView | undefined> {
  const [row] = await sql.query<ViewRow>(`${VIEW_SELECT} WHERE e.model_id = $1 AND e.name = $2 AND e.deleted_at IS NULL`, [modelId, name]);
  return row && viewOf(row);
}

/** A model's live environments as the API shows them, production first, then by name (as listLiveEnvironments). */
export async function listEnvironmentViews(sql: SqlExecutor, modelId: string): Promise<EnvironmentView[]> {
  const rows = await sql.query<ViewRow>(
    `${VIEW_SELECT} WHERE e.model_id = $1 AND e.deleted_at IS NULL ORDER BY (e.name = 'production') DESC, e.name`,
    [modelId],
  );
  return rows.map(viewOf);
}

/**
 * A workspace environment's live environments in live models, each with its model's name, by model
 * name (as listEnvironmentsOfWorkspace): one statement for every model, where reading each model's
 * environment one by one was ~5 statements a model (a workspace environment spans every model).
 */
export async function listWorkspaceEnvironmentViews(sql: SqlExecutor, workspaceEnvironmentId: string): Promise<Array<EnvironmentView & { modelName: string }>> {
  const rows = await sql.query<ViewRow & { model_name: string }>(
    `SELECT view.*, m.name AS model_name
     FROM (${VIEW_SELECT} WHERE e.workspace_environment_id = $1 AND e.deleted_at IS NULL) view
     JOIN models m ON m.id = view.model_id AND m.deleted_at IS NULL
     ORDER BY m.name, view.model_id`,
    [workspaceEnvironmentId],
  );
  return rows.map(({ model_name: modelName, ...row }) => ({ ...viewOf(row), modelName }));
}

function viewOf(row: ViewRow): EnvironmentView {
  const {
    latest_promotion: promotion,
    current_deployment: current,
    candidate_deployment: candidate,
    effective_variables: variables,
    effective_promotion_settings: promotionSettings,
    workspace_environment_name: workspaceEnvironmentName,
    ...environment
  } = row;
  const deployment = (json: unknown) => (json === null ? undefined : decodeJsonRow("deployments", SERVING_DEPLOYMENT_COLUMNS, json));
  return {
    environment,
    latestPromotion: promotion === null ? undefined : decodeJsonRow("promotions", PROMOTION_JSON_COLUMNS, promotion),
    currentDeployment: deployment(current),
    candidateDeployment: deployment(candidate),
    variables: decodeJsonRows("variables", VARIABLE_JSON_COLUMNS, variables).map(shownVariable),
    promotionSettings,
    workspaceEnvironmentName,
  };
}

function shownVariable({ name, secret, value, source }: VariableJson): ShownVariable {
  if (secret) return { name, source, secret: true };
  // a plain variable's value is NOT NULL in both tables
  if (value === null) throw new Error(`variable ${name} has no value`);
  return { name, source, secret: false, value };
}
