/**
 * `modelplane/engine`: run the engine in your own process.
 *
 *   const engine = await startModelplane({ port: 7070, dataDir: "./.modelplane" });
 *   ...
 *   await engine.close();
 */
export { startModelplane, type ModelplaneOptions, type RunningModelplane } from "./main.js";
export { startEngine, type EngineOptions, type RunningEngine } from "./engine.js";
export type { DataPlane, DataPlaneOptions } from "./data-plane.js";
export { ControlPlane } from "./service/control-plane.js";
export type { DomainEvent } from "./service/events.js";
