import type { Pool } from "undici";
import { ModelplaneClient, type CallArgs, type RouteName } from "../../sdk/index.js";

/**
 * How the API load sends its requests. `raw`: ModelplaneClient.callText, answered when the last
 * byte of a 2xx body has arrived — what the API took, as a load generator such as wrk or k6
 * measures it. `sdk`: ModelplaneClient.call, which also parses the body and validates it against
 * the contract's schema before it answers (3.6 ms for the list of 1,000 models): on this machine's
 * two cores that client work shares the CPU with the engine, and delays the answers of the
 * requests around it in this process's event loop — counted as the API's latency.
 * The contract's schemas are checked against the engine's answers by the tests, not here.
 */
export type LoadClientKind = "raw" | "sdk";

export interface LoadClient {
  /** Send `name`'s request; resolves with its body (raw: the text, sdk: the validated object) once answered with a 2xx. */
  send<N extends RouteName>(name: N, args: CallArgs<N>): Promise<unknown>;
}

export function loadClient(kind: LoadClientKind, endpoint: string, apiKey: string, connections: Pool): LoadClient {
  const client = new ModelplaneClient({ endpoint, apiKey, timeoutMs: 120_000, dispatcher: connections });
  return kind === "sdk" ? { send: (name, args) => client.call(name, args) } : { send: (name, args) => client.callText(name, args) };
}

/** An answer's body as an object: raw clients answer with the text. */
export function answerObject(answer: unknown): unknown {
  return typeof answer === "string" ? JSON.parse(answer) : answer;
}
