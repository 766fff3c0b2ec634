/**
 * The whole engine: the management API (startEngine) with the data plane mounted on the same
 * port — replicas, router, autoscaler, promotion reconciler. This is what `modelplane serve`,
 * the quickstart and `modelplane/testing` start.
 */
import { startDataPlane, type DataPlane, type DataPlaneOptions } from "./data-plane.js";
import { startEngine, type EngineOptions, type RunningEngine } from "./engine.js";

export interface ModelplaneOptions extends EngineOptions, DataPlaneOptions {}

export interface RunningModelplane extends RunningEngine<DataPlane> {
  dataPlane: DataPlane;
}

export async function startModelplane(options: ModelplaneOptions = {}): Promise<RunningModelplane> {
  const engine = await startEngine(options, (parts) => startDataPlane(parts, options));
  const { mounted } = engine;
  // startEngine mounts what it is given before it answers
  if (mounted === undefined) throw new Error("startModelplane: the data plane was not mounted");
  return { ...engine, dataPlane: mounted };
}
