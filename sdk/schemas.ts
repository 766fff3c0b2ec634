/** Every API object's schema; split by object under ./schemas/. */
export * from "./schemas/index.js";
