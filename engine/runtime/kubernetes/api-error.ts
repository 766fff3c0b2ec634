/**
 * Errors of the Kubernetes API in plain words. The client throws an ApiException whose message
 * is the HTTP code, the raw body and the response headers; what a person needs is the Status
 * object's message ("deployments.apps is forbidden: User … cannot create …", "exceeded quota: …").
 */

/** HTTP status of a failed API call, undefined when the API was not reached at all. */
export function apiStatusCode(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "number" ? code : undefined;
}

/** "Kubernetes refused to create Deployment dep-…: deployments.apps "dep-…" is forbidden: …" */
export function describeApiError(error: unknown, action: string): string {
  const status = apiStatusCode(error);
  if (status === undefined) {
    const message = error instanceof Error ? error.message : String(error);
    return `cannot reach the Kubernetes API to ${action}: ${message}`;
  }
  const message = statusMessage(error) ?? `HTTP ${status}`;
  if (status === 401) return `the Kubernetes API did not accept the engine's credentials (${action}): ${message}`;
  if (status === 403) return `Kubernetes refused to ${action}: ${message}`;
  if (status === 422 || status === 400) return `Kubernetes rejected the request to ${action}: ${message}`;
  return `Kubernetes failed to ${action} (HTTP ${status}): ${message}`;
}

/** The `message` of the Status object in the exception's body (a JSON string or an object). */
function statusMessage(error: unknown): string | undefined {
  let body = (error as { body?: unknown }).body;
  if (typeof body === "string") {
    const text = body.trim();
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      return text.length > 0 ? text.slice(0, 1000) : undefined;
    }
  }
  if (typeof body === "object" && body !== null) {
    const message = (body as { message?: unknown }).message;
    if (typeof message === "string" && message.length > 0) return message;
  }
  return undefined;
}
