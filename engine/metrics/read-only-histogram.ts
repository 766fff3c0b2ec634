/**
 * A prom-client histogram whose observations live elsewhere (LatencyHistogram: cheap enough for
 * the router's fast path, where prom-client's own `observe(labels, value)` — about 0.7 µs with
 * its label hashing — would be a few percent of a request's CPU) and are read at scrape time.
 * The registry renders it like any histogram of its own.
 */
import { Histogram } from "prom-client";
import type { LatencyHistogram } from "./latency-histogram.js";

type HistogramExport = Awaited<ReturnType<Histogram["get"]>>;
type ExportedValue = HistogramExport["values"][number];

export interface HistogramSource {
  labels: Record<string, string>;
  histogram: LatencyHistogram;
}

export interface ReadOnlyHistogramConfiguration {
  name: string;
  help: string;
  labelNames: readonly string[];
  /** read at every scrape */
  read: () => Iterable<HistogramSource>;
}

export class ReadOnlyHistogram extends Histogram {
  readonly #name: string;
  readonly #help: string;
  readonly #read: () => Iterable<HistogramSource>;

  constructor(configuration: ReadOnlyHistogramConfiguration) {
    // Registered by the caller (registerMetric), not in prom-client's global registry.
    super({ name: configuration.name, help: configuration.help, labelNames: configuration.labelNames, registers: [] });
    this.#name = configuration.name;
    this.#help = configuration.help;
    this.#read = configuration.read;
  }

  override async get(): Promise<HistogramExport> {
    return this.getForPromString();
  }

  /** What prom-client's registry renders (it prefers this to `get`). */
  async getForPromString(): Promise<HistogramExport> {
    const values: ExportedValue[] = [];
    for (const { labels, histogram } of this.#read()) {
      const cumulative = histogram.cumulative();
      histogram.bounds.forEach((bound, index) => {
        values.push({ metricName: `${this.#name}_bucket`, labels: { ...labels, le: String(bound) }, value: cumulative[index]! });
      });
      values.push({ metricName: `${this.#name}_bucket`, labels: { ...labels, le: "+Inf" }, value: histogram.count });
      values.push({ metricName: `${this.#name}_sum`, labels, value: histogram.sum });
      values.push({ metricName: `${this.#name}_count`, labels, value: histogram.count });
    }
    return {
      name: this.#name,
      help: this.#help,
      // prom-client's typings declare `type` as a numeric enum they do not export; at run time,
      // and in what the registry writes, it is this string.
      type: "histogram" as unknown as HistogramExport["type"],
      aggregator: "sum",
      collect: () => undefined,
      values,
    };
  }
}
