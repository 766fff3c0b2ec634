import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { contract, routeQuery, type RouteName } from "../../sdk/contract.js";
import { EmptyBody } from "../../sdk/schemas/common.js";
import { ModelplaneError, validationError } from "../../sdk/errors.js";
import { generateOpenApiDocument } from "../../sdk/openapi.js";
import type { ControlPlane } from "../service/control-plane.js";
import type { AccessView } from "../auth/access-view.js";
import { NO_BODY, readJsonBody } from "./read-json-body.js";
import { matchRoute } from "./route-matcher.js";
import type { EventStreams } from "../events/event-stream.js";
import { createRouteHandlers, type RouteHandlers } from "./route-handlers.js";
import { asCaller } from "../store/statement-priority.js";

export interface ApiHandlerOptions {
  service: ControlPlane;
  /** who may call what: the management API needs an admin key */
  access: AccessView;
  /** `GET /v1/events` (absent: 404) */
  events?: EventStreams;
  /** one line per server-side failure; never receives bodies or secrets */
  log?: (line: string) => void;
}

/** Returns true when the request was an API path and has been answered. */
export type ApiHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

function sendJson(res: ServerResponse, status: number, body: unknown, extraHeaders: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...extraHeaders,
  });
  res.end(text);
}

function sendError(res: ServerResponse, error: ModelplaneError, extraHeaders: Record<string, string> = {}): void {
  sendJson(res, error.status, error.toBody(), extraHeaders);
}

/** Routes after which the access view is re-read: keys, public environments, and deletions that
 * take public environments away. */
const CHANGES_ACCESS: ReadonlySet<RouteName> = new Set<RouteName>([
  "createApiKey",
  "revokeApiKey",
  "createEnvironment",
  "patchEnvironment",
  "deleteEnvironment",
  "deleteModel",
]);

/** `/v1/…` plus the two unauthenticated documents; everything else belongs to the data plane. */
function isApiPath(pathname: string): boolean {
  return pathname === "/v1" || pathname.startsWith("/v1/") || pathname === "/openapi.json" || pathname === "/healthz";
}

/**
 * The management API over plain `node:http`, driven by the contract: match, authenticate,
 * validate params and body with the route's schemas, call the service, serialize with the
 * response schema. Every failure is `{"error": {code, message, details}}`.
 */
export function createApiHandler(options: ApiHandlerOptions): ApiHandler {
  const { access } = options;
  const handlers: RouteHandlers = createRouteHandlers(options.service);
  const log = options.log ?? (() => {});
  let openApiDocument: unknown;

  async function dispatch(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const { pathname } = url;
    const method = req.method ?? "GET";
    if (pathname === "/healthz") {
      sendJson(res, 200, { status: "ok" });
      return;
    }
    if (pathname === "/openapi.json") {
      if (method !== "GET") throw new ModelplaneError("METHOD_NOT_ALLOWED", `${method} is not allowed on ${pathname}; use GET`);
      openApiDocument ??= generateOpenApiDocument();
      sendJson(res, 200, openApiDocument);
      return;
    }
    const decision = access.authorizeManagement(req.headers.authorization);
    if (!decision.ok) {
      req.resume();
      throw new ModelplaneError(
        decision.code,
        decision.code === "UNAUTHORIZED"
          ? `${decision.message} (an admin key: MODELPLANE_API_KEY of the engine, the key it generated in <data-dir>/api-key — ./.modelplane/api-key by default — or one from 'modelplane keys create --scope admin')`
          : decision.message,
      );
    }
    // A stream, not a JSON answer: outside the contract's route table (its event schema is sdk/schemas/event.ts).
    if (pathname === "/v1/events" && options.events !== undefined) {
      req.resume();
      if (method !== "GET") throw new ModelplaneError("METHOD_NOT_ALLOWED", `${method} is not allowed on ${pathname}; use GET`, { allowed: ["GET"] });
      options.events.serve(req, res, url.searchParams);
      return;
    }
    let match;
    try {
      match = matchRoute(method, pathname);
    } catch {
      throw new ModelplaneError("MALFORMED_REQUEST", `path ${pathname} has a malformed percent-escape`);
    }
    if (match.kind === "not_found") {
      req.resume();
      throw new ModelplaneError("NOT_FOUND", `no API route ${method} ${pathname}; see GET /openapi.json`);
    }
    if (match.kind === "method_not_allowed") {
      req.resume();
      throw new ModelplaneError("METHOD_NOT_ALLOWED", `${method} is not allowed on ${pathname}; use ${match.allowed.join(", ")}`, {
        allowed: match.allowed,
      });
    }
    const route = contract[match.name];
    const params = route.params.safeParse(match.rawParams);
    if (!params.success) {
      req.resume();
      throw validationError(params.error, "path");
    }
    const querySchema = routeQuery(match.name);
    let query: unknown = undefined;
    if (querySchema) {
      const parsed = querySchema.safeParse(Object.fromEntries(url.searchParams));
      if (!parsed.success) {
        req.resume();
        throw validationError(parsed.error, "query");
      }
      query = parsed.data;
    }
    const rawBody = await readJsonBody(req);
    const bodySchema: z.ZodType = route.body ?? EmptyBody;
    const body = bodySchema.safeParse(rawBody === NO_BODY ? (route.body ? undefined : {}) : rawBody);
    if (!body.success) throw validationError(body.error, "body");
    const handler = handlers[match.name] as (input: { params: unknown; body: unknown; query: unknown }) => Promise<unknown>;
    const result = await asCaller(decision.keyId, async () => {
      const answer = await handler({ params: params.data, body: route.body ? body.data : undefined, query });
      // This engine's own changes to who may call what take effect before the caller hears back
      // (other engines on the same PostgreSQL pick them up at their next resync).
      if (CHANGES_ACCESS.has(match.name)) await access.refresh();
      return answer;
    });
    const serialized = (route.response as z.ZodType).safeParse(result);
    if (!serialized.success) {
      throw new ModelplaneError("INTERNAL", `engine produced an invalid ${match.name} response`, {
        fields: serialized.error.issues.map((issue) => issue.path.join(".")),
      });
    }
    sendJson(res, route.successStatus, serialized.data);
  }

  return async (req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      return false;
    }
    const { pathname } = url;
    if (!isApiPath(pathname)) return false;
    try {
      await dispatch(req, res, url);
    } catch (error) {
      const known =
        error instanceof ModelplaneError
          ? error
          : new ModelplaneError("INTERNAL", `internal error in ${req.method} ${pathname}; see the engine log`);
      if (!(error instanceof ModelplaneError) || known.status >= 500) {
        log(`api ${req.method} ${pathname} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
      if (res.headersSent) {
        res.destroy();
      } else {
        sendError(res, known, known.code === "UNAUTHORIZED" ? { "www-authenticate": "Api-Key" } : {});
      }
    }
    return true;
  };
}

export type { RouteName };
