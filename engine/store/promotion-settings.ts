import type { PromotionSettings } from "../../sdk/index.js";
import type { SqlExecutor } from "./sql.js";

export interface PromotionSettingsRow {
  id: string;
  name: string;
  settings: PromotionSettings;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export async function insertPromotionSettings(
  sql: SqlExecutor,
  object: { id: string; name: string; settings: PromotionSettings; at: string },
): Promise<PromotionSettingsRow> {
  const [row] = await sql.query<PromotionSettingsRow>(
    `INSERT INTO promotion_settings (id, name, settings, created_at, updated_at) VALUES ($1, $2, $3::jsonb, $4, $4)
     RETURNING *`,
    [object.id, object.name, JSON.stringify(object.settings), object.at],
  );
  return row!;
}

export async function findLivePromotionSettings(
  sql: SqlExecutor,
  id: string,
  forUpdate = false,
): Promise<PromotionSettingsRow | undefined> {
  const [row] = await sql.query<PromotionSettingsRow>(
    `SELECT * FROM promotion_settings WHERE id = $1 AND deleted_at IS NULL${forUpdate ? " FOR UPDATE" : ""}`,
    [id],
  );
  return row;
}

export async function listLivePromotionSettings(sql: SqlExecutor): Promise<PromotionSettingsRow[]> {
  return sql.query<PromotionSettingsRow>(
    "SELECT * FROM promotion_settings WHERE deleted_at IS NULL ORDER BY created_at, id",
  );
}

export async function updatePromotionSettings(
  sql: SqlExecutor,
  id: string,
  changes: { name: string; settings: PromotionSettings },
  at: string,
): Promise<PromotionSettingsRow> {
  const [row] = await sql.query<PromotionSettingsRow>(
    "UPDATE promotion_settings SET name = $2, settings = $3::jsonb, updated_at = $4 WHERE id = $1 RETURNING *",
    [id, changes.name, JSON.stringify(changes.settings), at],
  );
  if (!row) throw new Error(`promotion settings ${id} vanished during update`);
  return row;
}

export async function softDeletePromotionSettings(sql: SqlExecutor, id: string, at: string): Promise<void> {
  await sql.query("UPDATE promotion_settings SET deleted_at = $2, updated_at = $2 WHERE id = $1", [id, at]);
}
