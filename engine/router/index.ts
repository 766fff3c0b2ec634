export { createRouter, type AuthorizePredict, type Router, type RouterOptions } from "./router.js";
export { RoutingTable, type DeploymentRoute, type EnvironmentRoute } from "./routing-table.js";
export { pickDeployment, pickReplica, resolveTarget, type Resolution } from "./pick.js";
export { parseDataPlaneUrl, type DataPlaneTarget, type ParsedDataPlaneUrl } from "./data-plane-path.js";
export { DEPLOYMENT_ID_HEADER } from "./forward.js";
export { closeFrontDoor, createFrontDoor, type ConnectionHandler } from "./front-door.js";
export { InFlightCounts } from "./in-flight-counts.js";
