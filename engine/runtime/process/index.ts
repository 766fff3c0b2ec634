export { ProcessRuntime, type ProcessRuntimeOptions } from "./process-runtime.js";
