export * from "./schemas/index.js";
export * from "./errors.js";
export * from "./contract.js";
export { generateOpenApiDocument } from "./openapi.js";
