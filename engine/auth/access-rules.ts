/**
 * Who may call what — pure decisions over a key's grant, no I/O. The access view (access-view.ts)
 * finds the grant; the API handler and both router paths act on the decision.
 */
import type { ApiKeyScope } from "../../sdk/index.js";
import type { DataPlaneTarget } from "../router/data-plane-path.js";

/** What a live key allows, as held in memory. */
export interface KeyGrant {
  /** the key's id; "bootstrap" for the engine's own key */
  id: string;
  scope: ApiKeyScope;
  /** inference keys limited to these models (null: all) */
  modelIds: ReadonlySet<string> | null;
  /** inference keys limited to these environment names (null: all, and the per-deployment and
   * development endpoints) */
  environmentNames: ReadonlySet<string> | null;
}

export type AccessDecision =
  | { ok: true }
  | { ok: false; code: "UNAUTHORIZED" | "FORBIDDEN"; message: string };

type Refusal = Extract<AccessDecision, { ok: false }>;

/** A management request's decision: allowed, it names the key it came with (whose work it is: statement-priority.ts). */
export type ManagementDecision = { ok: true; keyId: string } | Refusal;

const ALLOWED: AccessDecision = { ok: true };

const HOW_TO_SEND = "send 'Authorization: Api-Key <key>' (or 'Bearer <key>')";

export const NO_KEY: Refusal = {
  ok: false,
  code: "UNAUTHORIZED",
  message: `this endpoint needs an API key: ${HOW_TO_SEND}; create one with 'modelplane keys create' or POST /v1/api_keys`,
};

export const UNKNOWN_KEY: Refusal = {
  ok: false,
  code: "UNAUTHORIZED",
  message: `wrong or revoked API key: ${HOW_TO_SEND} with a live key`,
};

function forbidden(message: string): Refusal {
  return { ok: false, code: "FORBIDDEN", message };
}

/**
 * May a caller reach a predict target? `credentialGiven`: the request carried a credential at all
 * (401 wording); `grant`: the live key it names, if any; `isPublic`: the target is an environment
 * made public. Order: public first (no key needed), then 401, then the scope's 403s — so an
 * anonymous caller learns nothing about which models or deployments exist.
 *
 * Rule for limited inference keys: a key limited to environments may call only
 * `/environments/{env}/predict` (and `/production/predict`) for those names; the per-deployment
 * and development endpoints serve outside any environment, so they need a key not limited to
 * environments (a deployment id, handed out in `x-modelplane-deployment-id`, must not reach
 * past the limit).
 */
export function decidePredictAccess(
  target: DataPlaneTarget,
  isPublic: boolean,
  credentialGiven: boolean,
  grant: KeyGrant | undefined,
): AccessDecision {
  // header routing to the candidate is never anonymous, even on a public environment
  if (isPublic && target.kind === "environment" && target.candidate !== true) return ALLOWED;
  if (grant === undefined) return credentialGiven ? UNKNOWN_KEY : NO_KEY;
  switch (grant.scope) {
    case "admin":
      return ALLOWED;
    case "metrics":
      return forbidden("a metrics key can only read GET /metrics; predict needs an inference or admin key");
    case "inference":
      break;
  }
  if (grant.modelIds !== null && !grant.modelIds.has(target.modelId)) {
    return forbidden(`this API key may not call model "${target.modelId}" (it is limited to other models)`);
  }
  if (grant.environmentNames !== null) {
    if (target.kind !== "environment") {
      return forbidden(
        `this API key is limited to environments (${[...grant.environmentNames].join(", ")}): it cannot call the per-deployment or development endpoints`,
      );
    }
    if (!grant.environmentNames.has(target.envName)) {
      return forbidden(`this API key may not call environment "${target.envName}" (it is limited to ${[...grant.environmentNames].join(", ")})`);
    }
  }
  return ALLOWED;
}

/** May a caller read `GET /metrics`? Metrics and admin keys; an inference key is for predict only. */
export function decideMetricsAccess(credentialGiven: boolean, grant: KeyGrant | undefined): AccessDecision {
  if (grant === undefined) return credentialGiven ? UNKNOWN_KEY : NO_KEY;
  if (grant.scope === "admin" || grant.scope === "metrics") return ALLOWED;
  return forbidden("an inference key cannot read GET /metrics: it needs a metrics key ('modelplane keys create NAME --scope metrics') or an admin key");
}

/** May a caller use the management API (`/v1/…`)? Admin keys only. */
export function decideManagementAccess(credentialGiven: boolean, grant: KeyGrant | undefined): ManagementDecision {
  if (grant === undefined) return credentialGiven ? UNKNOWN_KEY : NO_KEY;
  if (grant.scope === "admin") return { ok: true, keyId: grant.id };
  return forbidden(`a${grant.scope === "inference" ? "n" : ""} ${grant.scope} key cannot use the management API (/v1/…): it needs an admin key`);
}
