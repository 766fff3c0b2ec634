/** A predict URL, parsed. The engine's management API lives under /v1/, so no path overlaps. */
export type DataPlaneTarget =
  /** `candidate`: header routing asked for the environment's in-progress candidate (router.ts) */
  | { kind: "environment"; modelId: string; envName: string; candidate?: true }
  | { kind: "deployment"; modelId: string; deploymentId: string }
  | { kind: "development"; modelId: string };

export interface ParsedDataPlaneUrl {
  target: DataPlaneTarget;
  /** "?a=b" or "", forwarded to the replica as is */
  query: string;
}

/**
 * Recognises the four data-plane paths:
 *   /models/{model_id}/environments/{env_name}/predict
 *   /models/{model_id}/production/predict            (= environments/production)
 *   /models/{model_id}/deployment/{deployment_id}/predict
 *   /models/{model_id}/development/predict
 * Anything else is not a data-plane path (undefined), so the caller can route it elsewhere.
 */
export function parseDataPlaneUrl(url: string): ParsedDataPlaneUrl | undefined {
  if (!url.startsWith("/models/")) return undefined;
  const queryStart = url.indexOf("?");
  const path = queryStart === -1 ? url : url.slice(0, queryStart);
  const query = queryStart === -1 ? "" : url.slice(queryStart);
  const segments = path.split("/");
  // ["", "models", modelId, ...rest]
  const modelId = decodeSegment(segments[2]);
  if (modelId === undefined || segments[segments.length - 1] !== "predict") return undefined;
  if (segments.length === 5) {
    if (segments[3] === "production") return { target: { kind: "environment", modelId, envName: "production" }, query };
    if (segments[3] === "development") return { target: { kind: "development", modelId }, query };
    return undefined;
  }
  if (segments.length === 6) {
    const name = decodeSegment(segments[4]);
    if (name === undefined) return undefined;
    if (segments[3] === "environments") return { target: { kind: "environment", modelId, envName: name }, query };
    if (segments[3] === "deployment") return { target: { kind: "deployment", modelId, deploymentId: name }, query };
  }
  return undefined;
}

function decodeSegment(segment: string | undefined): string | undefined {
  if (segment === undefined || segment.length === 0) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
