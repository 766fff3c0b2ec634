import { arrayLiteral } from "./array-literal.js";
import type { ApiKeyScope } from "../../sdk/index.js";
import type { SqlExecutor } from "./sql.js";

/** A stored API key: its secret only as a sha256 hash. */
export interface ApiKeyRow {
  id: string;
  name: string;
  scope: ApiKeyScope;
  model_ids: string[] | null;
  environment_names: string[] | null;
  prefix: string;
  /** hex sha256 of the secret */
  key_hash: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export async function insertApiKey(
  sql: SqlExecutor,
  key: {
    id: string;
    name: string;
    scope: ApiKeyScope;
    modelIds: string[] | null;
    environmentNames: string[] | null;
    prefix: string;
    keyHash: string;
    at: string;
  },
): Promise<ApiKeyRow> {
  const [row] = await sql.query<ApiKeyRow>(
    `INSERT INTO api_keys (id, name, scope, model_ids, environment_names, prefix, key_hash, created_at)
     VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7, $8) RETURNING *`,
    [
      key.id,
      key.name,
      key.scope,
      key.modelIds === null ? null : JSON.stringify(key.modelIds),
      key.environmentNames === null ? null : JSON.stringify(key.environmentNames),
      key.prefix,
      key.keyHash,
      key.at,
    ],
  );
  return row!;
}

/** Live (not revoked) keys, oldest first. */
export async function listLiveApiKeys(sql: Pick<SqlExecutor, "query">): Promise<ApiKeyRow[]> {
  return sql.query<ApiKeyRow>("SELECT * FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, id");
}

/** Revokes a live key; the row stays (audit). Undefined when no live key has that id. */
export async function revokeApiKey(sql: SqlExecutor, id: string, at: string): Promise<ApiKeyRow | undefined> {
  const [row] = await sql.query<ApiKeyRow>(
    "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING *",
    [id, at],
  );
  return row;
}

/** Notes use by request; written in batches, so it is as precise as the batching period. */
export async function touchApiKeys(sql: Pick<SqlExecutor, "query">, ids: readonly string[], at: string): Promise<void> {
  if (ids.length === 0) return;
  await sql.query("UPDATE api_keys SET last_used_at = $2 WHERE id = ANY($1::text[]) AND revoked_at IS NULL", [arrayLiteral(ids), at]);
}
