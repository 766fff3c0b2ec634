import type { HeaderRouting } from "../../sdk/schemas/header-routing.js";
import type { ShadowSettings } from "../../sdk/schemas/shadow.js";

/**
 * What the data plane knows about models, deployments and environments: an in-memory copy that
 * the engine updates whenever their state changes, so a predict request never touches the
 * database. Plain maps; every lookup is O(1).
 */

export interface DeploymentRoute {
  /** false once deactivated: predict answers 404 */
  active: boolean;
  /** path on the replica that serves predictions, e.g. "/predict" */
  predictPath: string;
  /** the model's development deployment, served at /models/{id}/development/predict */
  isDevelopment: boolean;
}

export interface EnvironmentRoute {
  /** deployment serving the environment; null until the first promotion to it */
  currentDeploymentId: string | null;
  /** deployment being promoted to the environment, if a promotion is in progress */
  candidateDeploymentId: string | null;
  /** share of requests sent to the candidate, 0–100 */
  percentToCandidate: number;
}

/** An environment's shadow as the router holds it (engine/router/shadow/mirror.ts). */
export interface ShadowRoute {
  settings: ShadowSettings;
  /** identifies the configuration: a changed one gets a new queue and a new report window */
  key: string;
}

interface ModelRoutes {
  deployments: Map<string, DeploymentRoute>;
  environments: Map<string, EnvironmentRoute>;
  /** kept apart from `environments`: a traffic shift (setEnvironment) never touches a shadow */
  shadows: Map<string, ShadowRoute>;
  /** the same for header routing (sdk/schemas/header-routing.ts) */
  headerRouting: Map<string, HeaderRouting>;
}

export class RoutingTable {
  private readonly models = new Map<string, ModelRoutes>();
  /** environments with a shadow, all models: 0 keeps the data plane's per-request cost to this one check */
  private shadowCount = 0;
  /** environments with header routing, all models: the same one check */
  private headerRoutingCount = 0;

  setDeployment(modelId: string, deploymentId: string, route: DeploymentRoute): void {
    this.modelRoutes(modelId).deployments.set(deploymentId, { ...route });
  }

  removeDeployment(modelId: string, deploymentId: string): void {
    this.models.get(modelId)?.deployments.delete(deploymentId);
  }

  setEnvironment(modelId: string, envName: string, route: EnvironmentRoute): void {
    this.modelRoutes(modelId).environments.set(envName, { ...route });
  }

  removeEnvironment(modelId: string, envName: string): void {
    this.models.get(modelId)?.environments.delete(envName);
    this.setShadow(modelId, envName, null);
    this.setHeaderRouting(modelId, envName, null);
  }

  /** An environment's header routing (null: off). */
  setHeaderRouting(modelId: string, envName: string, routing: HeaderRouting | null): void {
    if (routing === null) {
      if (this.models.get(modelId)?.headerRouting.delete(envName)) this.headerRoutingCount--;
      return;
    }
    const routes = this.modelRoutes(modelId).headerRouting;
    if (!routes.has(envName)) this.headerRoutingCount++;
    routes.set(envName, routing);
  }

  headerRouting(modelId: string, envName: string): HeaderRouting | undefined {
    return this.models.get(modelId)?.headerRouting.get(envName);
  }

  /** Whether any environment has header routing. */
  get hasHeaderRouting(): boolean {
    return this.headerRoutingCount !== 0;
  }

  /** An environment's shadow (null: none). Unchanged settings keep the same route (and queue). */
  setShadow(modelId: string, envName: string, settings: ShadowSettings | null): void {
    const model = this.models.get(modelId);
    if (settings === null) {
      if (model?.shadows.delete(envName)) this.shadowCount--;
      return;
    }
    const shadows = this.modelRoutes(modelId).shadows;
    const key = JSON.stringify(settings);
    const existing = shadows.get(envName);
    if (existing?.key === key) return;
    if (existing === undefined) this.shadowCount++;
    shadows.set(envName, { settings, key });
  }

  shadow(modelId: string, envName: string): ShadowRoute | undefined {
    return this.models.get(modelId)?.shadows.get(envName);
  }

  /** Whether any environment has a shadow. */
  get hasShadows(): boolean {
    return this.shadowCount !== 0;
  }

  /** Declares a model with no deployment yet, so that its paths answer a precise 404. */
  setModel(modelId: string): void {
    this.modelRoutes(modelId);
  }

  removeModel(modelId: string): void {
    this.shadowCount -= this.models.get(modelId)?.shadows.size ?? 0;
    this.headerRoutingCount -= this.models.get(modelId)?.headerRouting.size ?? 0;
    this.models.delete(modelId);
  }

  /** Models with routes (a resync drops those no longer stored). */
  modelIds(): string[] {
    return [...this.models.keys()];
  }

  /** A model's environments with routes. */
  environmentNames(modelId: string): string[] {
    return [...(this.models.get(modelId)?.environments.keys() ?? [])];
  }

  hasModel(modelId: string): boolean {
    return this.models.has(modelId);
  }

  deployment(modelId: string, deploymentId: string): DeploymentRoute | undefined {
    return this.models.get(modelId)?.deployments.get(deploymentId);
  }

  environment(modelId: string, envName: string): EnvironmentRoute | undefined {
    return this.models.get(modelId)?.environments.get(envName);
  }

  /** The id of the model's development deployment, if it has one. */
  developmentDeploymentId(modelId: string): string | undefined {
    const model = this.models.get(modelId);
    if (model === undefined) return undefined;
    for (const [deploymentId, route] of model.deployments) if (route.isDevelopment) return deploymentId;
    return undefined;
  }

  private modelRoutes(modelId: string): ModelRoutes {
    let model = this.models.get(modelId);
    if (model === undefined) {
      model = { deployments: new Map(), environments: new Map(), shadows: new Map(), headerRouting: new Map() };
      this.models.set(modelId, model);
    }
    return model;
  }
}
