import { contract, type HttpMethod, type RouteName } from "../../sdk/contract.js";

/**
 * Matches a request path against the contract's templates. Literal segments win over parameters
 * (`/deployments/development` before `/deployments/{deployment_id}`), so the table's order does
 * not matter.
 */
interface CompiledRoute {
  name: RouteName;
  method: HttpMethod;
  segments: { literal?: string; param?: string }[];
  literalCount: number;
}

export type RouteMatch =
  | { kind: "route"; name: RouteName; rawParams: Record<string, string> }
  /** the path exists with other methods */
  | { kind: "method_not_allowed"; allowed: HttpMethod[] }
  | { kind: "not_found" };

const compiled: CompiledRoute[] = (Object.entries(contract) as [RouteName, (typeof contract)[RouteName]][])
  .map(([name, route]) => {
    const segments = route.path
      .split("/")
      .slice(1)
      .map((segment) => {
        const param = /^\{([a-z_]+)\}$/.exec(segment)?.[1];
        return param !== undefined ? { param } : { literal: segment };
      });
    return { name, method: route.method, segments, literalCount: segments.filter((s) => s.literal !== undefined).length };
  })
  .sort((a, b) => b.literalCount - a.literalCount);

/** Raw segments are still percent-encoded; a malformed escape throws URIError (a 400 for the caller). */
function matchSegments(route: CompiledRoute, rawSegments: string[]): Record<string, string> | undefined {
  if (route.segments.length !== rawSegments.length) return undefined;
  const params: Record<string, string> = {};
  for (let index = 0; index < rawSegments.length; index++) {
    const expected = route.segments[index]!;
    const raw = rawSegments[index]!;
    if (expected.literal !== undefined) {
      if (raw !== expected.literal) return undefined;
    } else {
      params[expected.param!] = decodeURIComponent(raw);
    }
  }
  return params;
}

export function matchRoute(method: string, pathname: string): RouteMatch {
  const rawSegments = pathname.split("/").slice(1);
  const allowed: HttpMethod[] = [];
  for (const route of compiled) {
    const params = matchSegments(route, rawSegments);
    if (params === undefined) continue;
    if (route.method === method) return { kind: "route", name: route.name, rawParams: params };
    if (!allowed.includes(route.method)) allowed.push(route.method);
  }
  return allowed.length > 0 ? { kind: "method_not_allowed", allowed } : { kind: "not_found" };
}
