/**
 * Calling one webhook gate (the I/O edge; the planner decides from the result). Every attempt has
 * its own timeout; a non-2xx answer or no answer is retried `retries` times, half a second apart
 * (a receiver restarting, a cold evaluation suite), then the gate has failed. The result is a value,
 * never an exception: a broken receiver fails the promotion cleanly, never the reconcile pass.
 */
import type { PromotionWebhook, PromotionWebhookResult } from "../../sdk/index.js";

/** How much of a failing answer's body goes into the message (receivers often say why). */
const BODY_EXCERPT_CHARS = 300;
const RETRY_PAUSE_MS = 500;

export interface WebhookCall {
  hook: PromotionWebhook;
  /** the JSON body (the promotion's identity, the candidate's endpoint, the hook's metadata) */
  body: Record<string, unknown>;
  now: () => number;
  fetch?: typeof fetch;
}

export async function callWebhook(call: WebhookCall): Promise<PromotionWebhookResult> {
  const { hook } = call;
  const doFetch = call.fetch ?? fetch;
  const attempts = hook.retries + 1;
  let lastStatus: number | null = null;
  let lastProblem = "";
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    try {
      const response = await doFetch(hook.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(call.body),
        signal: AbortSignal.timeout(hook.timeout_seconds * 1000),
      });
      const text = (await response.text().catch(() => "")).slice(0, BODY_EXCERPT_CHARS).trim();
      lastStatus = response.status;
      if (response.ok) {
        return result(hook, true, attempt, lastStatus, `answered ${response.status} (attempt ${attempt} of ${attempts})`, call.now());
      }
      lastProblem = `answered ${response.status}${text ? `: ${text}` : ""}`;
    } catch (error) {
      lastStatus = null;
      lastProblem =
        error instanceof Error && error.name === "TimeoutError"
          ? `no answer within ${hook.timeout_seconds} s`
          : `unreachable: ${(error as Error).message}`;
    }
    if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
  }
  return result(hook, false, attempts, lastStatus, `${lastProblem} (last of ${attempts} attempts)`, call.now());
}

function result(hook: PromotionWebhook, passed: boolean, attempts: number, httpStatus: number | null, message: string, at: number): PromotionWebhookResult {
  return { name: hook.name, type: hook.type, passed, attempts, http_status: httpStatus, message: message.slice(0, 1024), at: new Date(at).toISOString() };
}
