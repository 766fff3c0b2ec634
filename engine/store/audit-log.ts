import type { AuditLogKind } from "../../sdk/index.js";
import type { AtCommit, SqlExecutor } from "./sql.js";

export interface AuditLogRow {
  seq: number;
  id: string;
  model_id: string | null;
  at: Date;
  kind: string;
  object_id: string;
  object_name: string;
  details: Record<string, unknown>;
}

export interface NewAuditLogEntry {
  id: string;
  modelId: string | null;
  at: string;
  kind: AuditLogKind;
  objectId: string;
  objectName: string;
  /** must not contain secret values */
  details: Record<string, unknown>;
}

/** Written with the transaction's COMMIT: nothing reads an entry in the transaction that writes it. */
export function appendAuditLog(tx: AtCommit, entry: NewAuditLogEntry): void {
  tx.writeAtCommit(
    `INSERT INTO audit_logs (id, model_id, at, kind, object_id, object_name, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`,
    [entry.id, entry.modelId, entry.at, entry.kind, entry.objectId, entry.objectName, JSON.stringify(entry.details)],
  );
}

/** A model's audit log, newest first. Deleted models keep theirs. */
export async function listAuditLogs(sql: SqlExecutor, modelId: string, limit = 500): Promise<AuditLogRow[]> {
  return sql.query<AuditLogRow>("SELECT * FROM audit_logs WHERE model_id = $1 ORDER BY seq DESC LIMIT $2", [
    modelId,
    limit,
  ]);
}
