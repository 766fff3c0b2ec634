export { ProcessRuntime, type ProcessRuntimeOptions } from "./process-runtime.js";
export { defaultReplicaUser, lookupUser, DEFAULT_REPLICA_USERS, type ReplicaUser } from "./replica-user.js";
export { INHERITED_VARIABLES } from "./replica-env.js";
