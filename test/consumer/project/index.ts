// The README's program ("Add modelplane to a project"), typechecked by the consumer test.
import * as pulumi from "@pulumi/pulumi";
import { Deployment, Environment, Model } from "modelplane";

const config = new pulumi.Config();
const model = new Model("sentiment", { name: "sentiment" });
const v1 = new Deployment("v1", { modelId: model.id, name: "v1", command: ["node", "/srv/models/sentiment-v1/server.js"] });
const v2 = new Deployment("v2", { modelId: model.id, name: "v2", command: ["node", "/srv/models/sentiment-v2/server.js"] });
const production = new Environment("production", { modelId: model.id, name: "production", deploymentId: config.get("production") === "v2" ? v2.id : v1.id });
export const endpoint = production.endpoint;
