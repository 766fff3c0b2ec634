/** The engine the provider talks to, set by the dynamic provider's `configure` hook. */
import { ModelplaneClient } from "../../sdk/client.js";

export interface ConnectionSettings {
  endpoint?: string | undefined;
  apiKey?: string | undefined;
}

let connection: ConnectionSettings = {};

/** From the stack config (`modelplane:endpoint`, secret `modelplane:apiKey`). */
export function configure(settings: ConnectionSettings): void {
  connection = settings;
}

/**
 * A client for the configured engine: stack config first, then MODELPLANE_ENDPOINT / MODELPLANE_API_KEY.
 * `timing`: a question asked at preview that may go unanswered (the chain) asks once, briefly.
 */
export function engineClient(timing: { timeoutMs?: number; retryBudgetMs?: number } = {}): ModelplaneClient {
  return new ModelplaneClient({
    endpoint: connection.endpoint || process.env.MODELPLANE_ENDPOINT,
    apiKey: connection.apiKey || process.env.MODELPLANE_API_KEY,
    ...timing,
  });
}
