import type { ApiKey, CreateApiKeyBody, CreatedApiKey } from "../../sdk/index.js";
import { newApiKeySecret } from "../auth/api-key-secret.js";
import { notFound } from "../errors.js";
import { insertApiKey, listLiveApiKeys, revokeApiKey as revokeStoredApiKey, type ApiKeyRow } from "../store/api-keys.js";
import { toIsoTimestamp } from "../store/timestamps.js";
import { inTransaction, type ServiceContext } from "./context.js";
import { withConflictMessages } from "./database-conflicts.js";
import { newObjectId } from "./ids.js";

export function presentApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    scope: row.scope,
    model_ids: row.model_ids,
    environment_names: row.environment_names,
    prefix: row.prefix,
    created_at: toIsoTimestamp(row.created_at),
    last_used_at: toIsoTimestamp(row.last_used_at),
  };
}

/** Mints a key; its secret is in the answer and nowhere else (the store keeps its sha256). */
export async function createApiKey(context: ServiceContext, body: CreateApiKeyBody): Promise<CreatedApiKey> {
  return inTransaction(context, async (work) => {
    const secret = newApiKeySecret();
    const row = await withConflictMessages(
      () =>
        insertApiKey(work.tx, {
          id: newObjectId("key"),
          name: body.name,
          scope: body.scope,
          modelIds: body.model_ids ?? null,
          environmentNames: body.environment_names ?? null,
          prefix: secret.prefix,
          keyHash: secret.keyHash,
          at: work.at,
        }),
      { api_keys_name_live: `an API key named ${body.name} already exists; revoke it or choose another name` },
    );
    work.audit({
      modelId: null,
      kind: "api_key.created",
      objectId: row.id,
      objectName: row.name,
      details: { scope: row.scope, model_ids: row.model_ids, environment_names: row.environment_names, prefix: row.prefix },
    });
    return { ...presentApiKey(row), key: secret.key };
  });
}

export async function listApiKeys(context: ServiceContext): Promise<ApiKey[]> {
  return (await listLiveApiKeys(context.sql)).map(presentApiKey);
}

/** Revokes a live key (its row stays, for the audit); 404 for an unknown or already revoked id. */
export async function revokeApiKey(context: ServiceContext, id: string): Promise<{ id: string; deleted: true }> {
  return inTransaction(context, async (work) => {
    const row = await revokeStoredApiKey(work.tx, id, work.at);
    if (row === undefined) throw notFound(`API key ${id} not found (or already revoked); list live keys with GET /v1/api_keys`);
    work.audit({ modelId: null, kind: "api_key.revoked", objectId: row.id, objectName: row.name, details: { prefix: row.prefix } });
    return { id: row.id, deleted: true as const };
  });
}
