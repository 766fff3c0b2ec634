import { z } from "zod";
import { contract, routeQuery, type RouteDefinition, type RouteName } from "./contract.js";
import { ErrorBody } from "./errors.js";
import { ModelplaneEvent } from "./schemas/event.js";

/**
 * OpenAPI 3.1 document generated from the route table with zod 4's `z.toJSONSchema`, so the
 * document cannot drift from what the engine validates. Request bodies use the schemas' input
 * form (defaults optional), responses the output form.
 */

type JsonObject = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonObject {
  const generated = z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" }) as JsonObject;
  delete generated.$schema;
  return generated;
}

function pathParameters(route: RouteDefinition): JsonObject[] {
  const params = jsonSchema(route.params, "input");
  const properties = (params.properties ?? {}) as Record<string, JsonObject>;
  return Object.entries(properties).map(([name, schema]) => ({ name, in: "path", required: true, schema }));
}

function queryParameters(operationId: string): JsonObject[] {
  const schema = routeQuery(operationId as RouteName);
  if (!schema) return [];
  const query = jsonSchema(schema, "input");
  const properties = (query.properties ?? {}) as Record<string, JsonObject>;
  return Object.entries(properties).map(([name, property]) => ({ name, in: "query", required: false, schema: property }));
}

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorBody" } } },
});

export function generateOpenApiDocument(options: { serverUrl?: string; version?: string } = {}): JsonObject {
  const paths: Record<string, Record<string, JsonObject>> = {};
  for (const [operationId, definition] of Object.entries(contract) as [string, RouteDefinition][]) {
    const operation: JsonObject = {
      operationId,
      summary: definition.summary,
      parameters: [...pathParameters(definition), ...queryParameters(operationId)],
      responses: {
        [String(definition.successStatus)]: {
          description: "success",
          content: { "application/json": { schema: jsonSchema(definition.response, "output") } },
        },
        "400": errorResponse("validation failed; details.fields lists every failing field"),
        "401": errorResponse("missing or wrong API key"),
        "404": errorResponse("not found"),
        "409": errorResponse("conflicts with the current state"),
      },
      "x-idempotent": definition.idempotent,
    };
    if (definition.body !== undefined) {
      operation.requestBody = {
        required: true,
        content: { "application/json": { schema: jsonSchema(definition.body, "input") } },
      };
    }
    const pathItem = (paths[definition.path] ??= {});
    pathItem[definition.method.toLowerCase()] = operation;
  }
  // The event stream is not a JSON route of the contract (engine/events/event-stream.ts): described here.
  paths["/v1/events"] = {
    get: {
      operationId: "streamEvents",
      summary: "Server-sent events of state changes; resumes after Last-Event-ID (a `reset` event when it cannot)",
      parameters: [
        { name: "model_id", in: "query", required: false, schema: { type: "string" } },
        { name: "environment", in: "query", required: false, schema: { type: "string" } },
        { name: "Last-Event-ID", in: "header", required: false, schema: { type: "string" } },
      ],
      responses: {
        "200": {
          description: "an endless text/event-stream: `event:` is the type, `data:` one ModelplaneEvent as JSON, `id:` <engine-epoch>.<n>",
          content: { "text/event-stream": { schema: jsonSchema(ModelplaneEvent, "output") } },
        },
        "400": errorResponse("an unknown or malformed query parameter"),
        "401": errorResponse("missing or wrong API key"),
        "403": errorResponse("a key whose scope cannot read the management API"),
      },
    },
  };
  return {
    openapi: "3.1.0",
    info: { title: "modelplane management API", version: options.version ?? "0.1.0" },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    security: [{ ApiKey: [] }],
    paths,
    components: {
      schemas: { ErrorBody: jsonSchema(ErrorBody, "output") },
      securitySchemes: {
        ApiKey: {
          type: "apiKey",
          in: "header",
          name: "Authorization",
          description: "`Authorization: Api-Key <key>`",
        },
      },
    },
  };
}
