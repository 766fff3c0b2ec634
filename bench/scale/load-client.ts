import type { Dispatcher, Pool } from "undici";
import { contract, fillPath, ModelplaneClient, type CallArgs, type RouteName } from "../../sdk/index.js";

/**
 * How the API load sends its requests. `raw`: the contract's method and path over the load's own
 * connections, answered when the last byte of a 2xx body has arrived — what the API took, as a load
 * generator such as wrk or k6 measures it. `sdk`: ModelplaneClient.call, which also parses the body
 * and validates it against the contract's schema before it answers (3.6 ms for the list of 1,000
 * models): on this machine's two cores that client work shares the CPU with the engine, and delays
 * the answers of the requests around it in this process's event loop — counted as the API's latency.
 * The contract's schemas are checked against the engine's answers by the tests, not here.
 */
export type LoadClientKind = "raw" | "sdk";

export interface LoadClient {
  /** Send `name`'s request; resolves with its body (raw: the text, sdk: the validated object) once answered with a 2xx. */
  send<N extends RouteName>(name: N, args: CallArgs<N>): Promise<unknown>;
}

export function loadClient(kind: LoadClientKind, endpoint: string, apiKey: string, connections: Pool): LoadClient {
  if (kind === "sdk") {
    const client = new ModelplaneClient({ endpoint, apiKey, timeoutMs: 120_000, dispatcher: connections });
    return { send: (name, args) => client.call(name, args) };
  }
  const authorization = `Api-Key ${apiKey}`;
  return {
    async send(name, args) {
      const route = contract[name];
      const { params, body } = args as { params?: Record<string, string>; body?: unknown };
      const headers: Record<string, string> = { accept: "application/json", authorization };
      if (body !== undefined) headers["content-type"] = "application/json";
      const response = await connections.request({
        method: route.method as Dispatcher.HttpMethod,
        path: fillPath(route.path, params ?? {}),
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: 120_000,
        bodyTimeout: 120_000,
      });
      const text = await response.body.text();
      if (response.statusCode < 200 || response.statusCode >= 300) throw new Error(`${name}: HTTP ${response.statusCode} ${text.slice(0, 200)}`);
      return text;
    },
  };
}

/** An answer's body as an object: raw clients answer with the text. */
export function answerObject(answer: unknown): unknown {
  return typeof answer === "string" ? JSON.parse(answer) : answer;
}
