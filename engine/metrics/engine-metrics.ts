/**
 * Everything `GET /metrics` shows, in one prom-client registry. What changes per request is
 * counted by the router in RequestMetrics (request-metrics.ts) and read at scrape time; what is
 * state (replica counts, promotions, autoscaler recommendations) is read from its owner at
 * scrape time; engine internals (store queries, reconcile passes) are prom-client metrics
 * observed where they happen. The metric names and labels are listed in the README.
 *
 * Labels are ids the engine made, environment and object names, status codes and small fixed
 * vocabularies — never a secret, a variable, a key, a URL path or a request id — so the number
 * of series is bounded by the objects that exist.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { PromotionStatus } from "../../sdk/schemas/promotion.js";
import type { Autoscaler } from "../autoscaler/autoscaler.js";
import type { RoutingTable } from "../router/routing-table.js";
import type { ReplicaSetId, ReplicaSetOwner, Runtime } from "../runtime/runtime.js";
import { listLatestPromotionPerEnvironment, type PromotionSummaryRow } from "../store/promotions.js";
import type { SqlExecutor } from "../store/sql.js";
import { ReadOnlyHistogram } from "./read-only-histogram.js";
import { RequestMetrics, type RequestSeries } from "./request-metrics.js";
import { ShadowStats } from "./shadow-stats.js";
import type { StoreOperation, StoreTiming } from "./timed-sql.js";

/** What the data plane lets the export read; attached once it runs (engine/data-plane.ts). */
export interface DataPlaneSources {
  /** the sets the deployment controller runs, with their owners */
  replicaSets(): Iterable<{ id: ReplicaSetId; owner: ReplicaSetOwner }>;
  runtime: Pick<Runtime, "observe">;
  /** the router's count of requests of a set being served or held */
  inFlightForSet(replicaSetId: ReplicaSetId): number;
  autoscaler: Pick<Autoscaler, "recommendation">;
  /** which deployments and environments still exist: series of deleted ones are dropped */
  table: Pick<RoutingTable, "deployment" | "environment">;
  sql: Pick<SqlExecutor, "query">;
}

const SET_LABELS = ["model_id", "deployment_id", "environment", "replica_set"] as const;
const REQUEST_LABELS = [...SET_LABELS, "rollout_phase"] as const;
const PROMOTION_LABELS = ["model_id", "environment", "deployment_id", "previous_deployment_id", "kind"] as const;

/** Store and reconcile durations: milliseconds to seconds (a pass holds a transaction and
 * talks to the runtime). */
const ENGINE_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Node's own metrics (CPU, memory, event-loop delay, GC) are the process's, not an engine's:
 * one collector per process, shared by every engine started in it (tests start many). */
let processRegistry: Registry | undefined;
function sharedProcessRegistry(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

function setLabels(series: RequestSeries): Record<(typeof REQUEST_LABELS)[number], string> {
  return {
    model_id: series.modelId,
    deployment_id: series.deploymentId,
    environment: series.environment,
    replica_set: series.replicaSetId,
    rollout_phase: series.rolloutPhase,
  };
}

export class EngineMetrics {
  /** counted by the router on both paths */
  readonly requests = new RequestMetrics();
  /** counted by the router's shadow mirror (issue 17) */
  readonly shadows = new ShadowStats();
  readonly #own = new Registry();
  readonly #registry: Registry;
  #dataPlane: DataPlaneSources | undefined;
  /** scrapes run one at a time: each refreshes the gauges, then renders them */
  #scrape: Promise<unknown> = Promise.resolve();
  readonly #log: (line: string) => void;

  readonly #inFlight: Gauge;
  readonly #desired: Gauge;
  readonly #ready: Gauge;
  readonly #starting: Gauge;
  readonly #failing: Gauge;
  readonly #setInfo: Gauge;
  readonly #recommended: Gauge;
  readonly #demand: Gauge;
  readonly #promotionStatus: Gauge;
  readonly #promotionStep: Gauge;
  readonly #promotionSteps: Gauge;
  readonly #promotionPercent: Gauge;
  readonly #promotionDuration: Gauge;
  readonly #collectErrors: Counter;
  readonly #reconcilePasses: Counter;
  readonly #reconcileDuration: Histogram;
  readonly #reconcileLag: Histogram;
  readonly #storeQueries: Histogram;
  readonly #storeErrors: Counter;
  readonly #storeTransactions: Histogram;

  constructor(options: { log?: (line: string) => void } = {}) {
    this.#log = options.log ?? (() => undefined);
    const registers = [this.#own];
    const requests = this.requests;

    new Counter({
      name: "modelplane_inference_requests_total",
      help: "Predict requests routed to a replica set, by the HTTP status the client got (499: the client left before a response head; a response cut midway counts with the status it had sent). Requests turned away before routing are in modelplane_inference_rejected_requests_total.",
      labelNames: [...REQUEST_LABELS, "status_code"],
      registers,
      collect() {
        this.reset();
        for (const series of requests.series()) {
          const labels = setLabels(series);
          for (const [status, count] of series.statusCounts) this.inc({ ...labels, status_code: String(status) }, count);
        }
      },
    });
    const histogramOf = (name: string, help: string, pick: (series: RequestSeries) => RequestSeries["endToEnd"]) =>
      this.#own.registerMetric(
        new ReadOnlyHistogram({
          name,
          help,
          labelNames: REQUEST_LABELS,
          read: function* () {
            for (const series of requests.series()) yield { labels: setLabels(series), histogram: pick(series) };
          },
        }),
      );
    histogramOf(
      "modelplane_inference_end_to_end_response_time_seconds",
      "Predict requests from the router having the request's head to the end of the response (time held while a deployment scaled to zero wakes included).",
      (series) => series.endToEnd,
    );
    histogramOf(
      "modelplane_inference_time_to_first_byte_seconds",
      "Predict requests from the router having the request's head to the response head going to the client (requests whose client left first are not in it).",
      (series) => series.timeToFirstByte,
    );
    new Counter({
      name: "modelplane_inference_rejected_requests_total",
      help: "Predict requests answered before routing: no or a wrong key (unauthorized), a key that may not call the target (forbidden), an unknown target (not_found), a method other than POST (method_not_allowed).",
      labelNames: ["reason"],
      registers,
      collect() {
        this.reset();
        for (const [reason, count] of requests.rejected) this.inc({ reason }, count);
      },
    });
    const shadows = this.shadows;
    new Counter({
      name: "modelplane_shadow_requests_total",
      help: "Requests selected for an environment's shadow, by what became of the copy: agreed/disagreed (both answered, compared: status and output), shadow_error, primary_error, shed (queue full), skipped_body (body over max_body_bytes, streamed, or an answer over 64 KiB), unavailable (no shadow to send to), not_idempotent (Idempotency-Key, not mirrored), backed_off (not sent: the shadow's replicas could not be reached, see the README's back-off).",
      labelNames: ["model_id", "environment", "shadow_deployment_id", "outcome"],
      registers,
      collect() {
        this.reset();
        for (const counter of shadows.counters()) {
          this.inc({ model_id: counter.modelId, environment: counter.environment, shadow_deployment_id: counter.shadowDeploymentId, outcome: counter.outcome }, counter.count);
        }
      },
    });
    new Gauge({
      name: "modelplane_shadow_agreement_ratio",
      help: "Agreed / compared copies of an environment's shadow since it (or its candidate) last changed, as GET …/environments/{env}/shadow reports (absent before the first comparison).",
      labelNames: ["model_id", "environment", "shadow_deployment_id"],
      registers,
      collect() {
        this.reset();
        for (const window of shadows.windows()) {
          if (window.agreementRate !== null) this.set({ model_id: window.modelId, environment: window.environment, shadow_deployment_id: window.shadowDeploymentId }, window.agreementRate);
        }
      },
    });
    new Gauge({
      name: "modelplane_shadow_latency_seconds",
      help: "Latency quantiles of the compared copies' two sides (primary: the answer the client got; shadow: the copy's), over the newest 1024 comparisons of the current window.",
      labelNames: ["model_id", "environment", "shadow_deployment_id", "side", "quantile"],
      registers,
      collect() {
        this.reset();
        for (const window of shadows.windows()) {
          for (const side of ["primary", "shadow"] as const) {
            for (const [quantile, value] of [["0.5", window.latencySeconds[side].p50], ["0.9", window.latencySeconds[side].p90], ["0.99", window.latencySeconds[side].p99]] as const) {
              if (value !== null) this.set({ model_id: window.modelId, environment: window.environment, shadow_deployment_id: window.shadowDeploymentId, side, quantile }, value);
            }
          }
        }
      },
    });

    const setGauge = (name: string, help: string, extraLabels: readonly string[] = []) =>
      new Gauge({ name, help, labelNames: [...SET_LABELS, ...extraLabels], registers });
    this.#inFlight = setGauge("modelplane_inference_requests_in_flight", "Predict requests of a replica set being served or held while it wakes.");
    this.#desired = setGauge("modelplane_replicas_desired", "Replicas asked of the runtime for a replica set.");
    this.#ready = setGauge("modelplane_replicas_ready", "Replicas answering their readiness path (the only ones that get traffic).");
    this.#starting = setGauge("modelplane_replicas_starting", "Replicas started and not ready yet.");
    this.#failing = setGauge("modelplane_replica_set_failing", "1 while a replica set's replicas keep crashing or never become ready.");
    this.#setInfo = new Gauge({
      name: "modelplane_replica_set_info",
      help: "1 per replica set the engine runs, with the names of its model and deployment (join on replica_set).",
      labelNames: [...SET_LABELS, "model_name", "deployment_name"],
      registers,
    });
    this.#recommended = setGauge("modelplane_autoscaler_recommended_replicas", "Replicas the autoscaler's last decision asks for, within min_replica..max_replica (a set a promotion drives is measured, not scaled).");
    this.#demand = setGauge("modelplane_autoscaler_demand_replicas", "Replicas the load calls for before min/max: ceil(average in flight / (concurrency_target x utilization)).");

    const promotionGauge = (name: string, help: string) => new Gauge({ name, help, labelNames: PROMOTION_LABELS, registers });
    this.#promotionStatus = new Gauge({
      name: "modelplane_promotion_status",
      help: "The latest promotion of each environment: 1 for its status, 0 for the others. deployment_id is the candidate.",
      labelNames: [...PROMOTION_LABELS, "status"],
      registers,
    });
    this.#promotionStep = promotionGauge("modelplane_promotion_step", "Step the latest promotion of each environment is at.");
    this.#promotionSteps = promotionGauge("modelplane_promotion_total_steps", "Steps the latest promotion of each environment has in all.");
    this.#promotionPercent = promotionGauge("modelplane_promotion_traffic_percent", "Share of the environment's traffic the latest promotion sends to its candidate (0-100).");
    this.#promotionDuration = promotionGauge("modelplane_promotion_duration_seconds", "How long the latest promotion of each environment has run (until it ended, if it has).");
    this.#collectErrors = new Counter({
      name: "modelplane_metrics_collect_errors_total",
      help: "Scrapes that left out a source that failed to read (promotions: the store).",
      labelNames: ["source"],
      registers,
    });

    this.#reconcilePasses = new Counter({
      name: "modelplane_reconcile_passes_total",
      help: "Promotion reconcile passes run by this engine, by result (error: the pass threw and is retried).",
      labelNames: ["result"],
      registers,
    });
    this.#reconcileDuration = new Histogram({
      name: "modelplane_reconcile_pass_duration_seconds",
      help: "Duration of one promotion reconcile pass.",
      buckets: ENGINE_DURATION_BUCKETS,
      registers,
    });
    this.#reconcileLag = new Histogram({
      name: "modelplane_reconcile_lag_seconds",
      help: "How late a reconcile pass started after it was due (an event, or the time the planner asked to come back).",
      buckets: ENGINE_DURATION_BUCKETS,
      registers,
    });
    this.#storeQueries = new Histogram({
      name: "modelplane_store_query_duration_seconds",
      help: "Duration of one store statement, by its first keyword.",
      labelNames: ["operation"],
      buckets: ENGINE_DURATION_BUCKETS,
      registers,
    });
    this.#storeErrors = new Counter({
      name: "modelplane_store_query_errors_total",
      help: "Store statements that failed (constraint violations the API turns into 409 included).",
      labelNames: ["operation"],
      registers,
    });
    this.#storeTransactions = new Histogram({
      name: "modelplane_store_transaction_duration_seconds",
      help: "Duration of one store transaction, waiting for the database included.",
      buckets: ENGINE_DURATION_BUCKETS,
      registers,
    });
    this.#registry = Registry.merge([sharedProcessRegistry(), this.#own]);
  }

  get contentType(): string {
    return this.#registry.contentType;
  }

  /** What timed-sql reports to. */
  readonly store: StoreTiming = {
    query: (operation: StoreOperation, seconds: number, failed: boolean) => {
      this.#storeQueries.observe({ operation }, seconds);
      if (failed) this.#storeErrors.inc({ operation });
    },
    transaction: (seconds: number) => this.#storeTransactions.observe(seconds),
  };

  /** One promotion reconcile pass. */
  reconcilePass(result: "ok" | "error", seconds: number, lagSeconds: number): void {
    this.#reconcilePasses.inc({ result });
    this.#reconcileDuration.observe(seconds);
    this.#reconcileLag.observe(Math.max(0, lagSeconds));
  }

  /** The data plane is running: its state joins the export until the returned detach. */
  observeDataPlane(sources: DataPlaneSources): () => void {
    this.#dataPlane = sources;
    return () => {
      if (this.#dataPlane === sources) this.#dataPlane = undefined;
    };
  }

  /** The Prometheus text of everything, as of now. */
  render(): Promise<string> {
    const next = this.#scrape.then(async () => {
      const promotions = await this.#readPromotions();
      // From here to the registry's read, nothing awaits: one consistent snapshot.
      this.#refresh(promotions);
      return this.#registry.metrics();
    });
    this.#scrape = next.catch(() => undefined);
    return next;
  }

  async #readPromotions(): Promise<PromotionSummaryRow[] | undefined> {
    const sources = this.#dataPlane;
    if (sources === undefined) return [];
    try {
      return await listLatestPromotionPerEnvironment(sources.sql);
    } catch (error) {
      this.#collectErrors.inc({ source: "promotions" });
      this.#log(`metrics: could not read promotions: ${(error as Error).message}`);
      return undefined;
    }
  }

  #refresh(promotions: PromotionSummaryRow[] | undefined): void {
    const sources = this.#dataPlane;
    for (const gauge of [this.#inFlight, this.#desired, this.#ready, this.#starting, this.#failing, this.#setInfo, this.#recommended, this.#demand]) gauge.reset();
    if (sources === undefined) return;
    const { table } = sources;
    this.requests.prune(
      (series) =>
        table.deployment(series.modelId, series.deploymentId) !== undefined &&
        (series.environment === "" || table.environment(series.modelId, series.environment) !== undefined),
    );
    for (const { id, owner } of sources.replicaSets()) {
      const labels = { model_id: owner.modelId, deployment_id: owner.deploymentId, environment: owner.environment ?? "", replica_set: id };
      const observed = sources.runtime.observe(id);
      this.#inFlight.set(labels, sources.inFlightForSet(id));
      this.#desired.set(labels, observed.desired);
      this.#ready.set(labels, observed.ready);
      this.#starting.set(labels, observed.starting);
      this.#failing.set(labels, observed.failing ? 1 : 0);
      this.#setInfo.set({ ...labels, model_name: owner.modelName, deployment_name: owner.deploymentName }, 1);
      const recommendation = sources.autoscaler.recommendation(id);
      if (recommendation !== undefined) {
        this.#recommended.set(labels, recommendation.replicas);
        this.#demand.set(labels, recommendation.demand);
      }
    }
    // A failed read keeps the previous scrape's promotion values rather than showing none.
    if (promotions === undefined) return;
    for (const gauge of [this.#promotionStatus, this.#promotionStep, this.#promotionSteps, this.#promotionPercent, this.#promotionDuration]) gauge.reset();
    const now = Date.now();
    for (const row of promotions) {
      const labels = {
        model_id: row.model_id,
        environment: row.environment_name,
        deployment_id: row.deployment_id,
        previous_deployment_id: row.previous_deployment_id ?? "",
        kind: row.kind,
      };
      for (const status of PromotionStatus.options) this.#promotionStatus.set({ ...labels, status }, status === row.status ? 1 : 0);
      this.#promotionStep.set(labels, row.step);
      this.#promotionSteps.set(labels, row.total_steps);
      this.#promotionPercent.set(labels, row.percent_traffic_to_new_version);
      const endedAt = row.finished_at === null ? now : new Date(row.finished_at).getTime();
      this.#promotionDuration.set(labels, (endedAt - new Date(row.started_at).getTime()) / 1000);
    }
  }
}
