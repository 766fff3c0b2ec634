export * from "./schemas/index.js";
export * from "./errors.js";
export * from "./contract.js";
export { generateOpenApiDocument } from "./openapi.js";
export { ModelplaneClient, closeAllClients, backoffDelayMs, type ClientOptions, type CallArgs } from "./client.js";
export * from "./client-errors.js";
export * from "./wait.js";
export * from "./labels.js";
