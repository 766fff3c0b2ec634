/**
 * One PromQL instant query (`GET /api/v1/query`), answered as a `PrometheusOutcome`. Every failure
 * (unreachable, timeout, non-2xx, a query error) is an outcome, not an exception: it makes the
 * metric inconclusive, never a pass and never a crash of the reconcile pass.
 */
import type { PrometheusOutcome } from "./types.js";

export interface PrometheusQueryOptions {
  /** the server's base URL, e.g. http://127.0.0.1:9090 */
  url: string;
  query: string;
  /** evaluation time, ms since the epoch */
  at: number;
  timeoutMs: number;
  fetch?: typeof fetch;
}

interface PrometheusResponse {
  status?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

/** The first sample's value: a vector's first element, or a scalar. */
function firstValue(data: PrometheusResponse["data"]): string | undefined {
  const result = data?.result;
  if (data?.resultType === "scalar" && Array.isArray(result)) return typeof result[1] === "string" ? result[1] : undefined;
  if (data?.resultType === "vector" && Array.isArray(result) && result.length > 0) {
    const sample = (result[0] as { value?: unknown }).value;
    if (Array.isArray(sample) && typeof sample[1] === "string") return sample[1];
  }
  return undefined;
}

export async function queryPrometheus(options: PrometheusQueryOptions): Promise<PrometheusOutcome> {
  const endpoint = new URL("api/v1/query", options.url.endsWith("/") ? options.url : `${options.url}/`);
  endpoint.searchParams.set("query", options.query);
  endpoint.searchParams.set("time", (options.at / 1000).toFixed(3));
  const doFetch = options.fetch ?? fetch;
  try {
    const response = await doFetch(endpoint, { signal: AbortSignal.timeout(options.timeoutMs) });
    const body = (await response.json().catch(() => ({}))) as PrometheusResponse;
    if (!response.ok || body.status !== "success") {
      return { kind: "error", message: `prometheus answered ${response.status}${body.error ? `: ${body.error}` : ""}` };
    }
    const raw = firstValue(body.data);
    const value = raw === undefined ? Number.NaN : Number(raw);
    return Number.isFinite(value) ? { kind: "value", value } : { kind: "empty" };
  } catch (error) {
    const message = error instanceof Error && error.name === "TimeoutError" ? `no answer within ${options.timeoutMs} ms` : (error as Error).message;
    return { kind: "error", message: `prometheus at ${endpoint.origin} unreachable: ${message}` };
  }
}

/**
 * The query with its placeholders filled in. Example: `rate(x{deployment_id="{{candidate_deployment_id}}"}[{{interval}}])`
 * with candidate dep_3 and a 30-s interval → `rate(x{deployment_id="dep_3"}[30s])`.
 */
export function fillQuery(query: string, values: Readonly<Record<string, string>>): string {
  return query.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (whole, key: string) => values[key] ?? whole);
}
