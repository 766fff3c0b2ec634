/**
 * One engine's control side on a store, for the deployment controller's tests: its own recording
 * runtime, router table, autoscaler and controller, as engine/data-plane.ts wires them (without the
 * event queue, the lease and the data plane). Engines on one store with a leadership each are a
 * leader and its followers.
 */
import { Autoscaler } from "../../engine/autoscaler/index.js";
import type { Leadership } from "../../engine/control/control-lease.js";
import { DeploymentController } from "../../engine/control/deployment-controller.js";
import { RoutingTable } from "../../engine/router/index.js";
import type { Sql } from "../../engine/store/sql.js";
import { RecordingRuntime } from "./recording-runtime.js";

export interface ControlEngine {
  runtime: RecordingRuntime;
  autoscaler: Autoscaler;
  table: RoutingTable;
  controller: DeploymentController;
  /** the controller's log lines */
  log: string[];
  /** the autoscaler stopped, then the controller (its pending writes finish first) */
  close(): Promise<void>;
}

export interface ControlEngineOptions {
  /** default: leads alone (the controller's default) */
  leadership?: Leadership;
  /** the autoscaler's decisions applied, as the engine does (default: not; a test's counts stay its own) */
  autoscaling?: boolean;
}

export function controlEngineOn(sql: Sql, options: ControlEngineOptions = {}): ControlEngine {
  const runtime = new RecordingRuntime();
  const autoscaler = new Autoscaler({ source: { inFlightForSet: () => 0 } });
  const table = new RoutingTable();
  const log: string[] = [];
  const controller = new DeploymentController({ sql, runtime, table, autoscaler, log: (line) => log.push(line), ...(options.leadership ? { leadership: options.leadership } : {}) });
  if (options.autoscaling) autoscaler.onDecision((id, replicas) => controller.applyAutoscaling(id, replicas));
  return {
    runtime,
    autoscaler,
    table,
    controller,
    log,
    async close() {
      autoscaler.close();
      await controller.close();
    },
  };
}
