// The console's only way to data: the same /v1 API as the CLI, with the key the user typed.
// The key lives in sessionStorage (gone with the tab), never in a URL, never logged.

const KEY_ITEM = "modelplane.apiKey";

export const session = {
  key() {
    return sessionStorage.getItem(KEY_ITEM);
  },
  signIn(key) {
    sessionStorage.setItem(KEY_ITEM, key);
  },
  signOut() {
    sessionStorage.removeItem(KEY_ITEM);
  },
};

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Calls the management API; resolves with the parsed body, rejects with ApiError. */
export async function api(method, path, body) {
  const headers = { accept: "application/json", authorization: `Api-Key ${session.key() ?? ""}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  } catch {
    throw new ApiError(0, "ENGINE_UNAVAILABLE", "the engine is not reachable; retrying when it is back");
  }
  const text = await response.text();
  let parsed;
  try {
    parsed = text === "" ? {} : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (response.ok) return parsed;
  const error = parsed?.error;
  throw new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? `HTTP ${response.status}`, error?.details);
}

export const paths = {
  models: () => "/v1/models",
  model: (modelId) => `/v1/models/${encodeURIComponent(modelId)}`,
  environments: (modelId) => `/v1/models/${encodeURIComponent(modelId)}/environments`,
  environment: (modelId, name) => `/v1/models/${encodeURIComponent(modelId)}/environments/${encodeURIComponent(name)}`,
  deployments: (modelId) => `/v1/models/${encodeURIComponent(modelId)}/deployments`,
  deployment: (modelId, deploymentId) => `/v1/models/${encodeURIComponent(modelId)}/deployments/${encodeURIComponent(deploymentId)}`,
  promotions: (modelId, name) => `${paths.environment(modelId, name)}/promotions`,
  audit: (modelId) => `/v1/models/${encodeURIComponent(modelId)}/audit_logs`,
};
