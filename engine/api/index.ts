export { createApiHandler, type ApiHandler, type ApiHandlerOptions } from "./api-handler.js";
export { matchRoute, type RouteMatch } from "./route-matcher.js";
export { MAX_BODY_BYTES } from "./read-json-body.js";
