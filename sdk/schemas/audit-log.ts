import { z } from "zod";
import { ObjectId, Timestamp } from "./common.js";

/**
 * Kinds of audit entries. Kept open (a string) on the wire so a newer engine can add kinds
 * without breaking older clients; these are the ones the engine writes today.
 */
export const AUDIT_LOG_KINDS = [
  "model.created",
  "model.deleted",
  "deployment.created",
  "deployment.updated",
  "deployment.patched",
  "deployment.activated",
  "deployment.deactivated",
  "deployment.deleted",
  "deployment.status_changed",
  "deployment.autoscaling_updated",
  "environment.created",
  "environment.updated",
  "environment.deleted",
  "variable.set",
  "variable.deleted",
  "promotion_settings.created",
  "promotion_settings.updated",
  "promotion_settings.deleted",
  "promotion.started",
  "promotion.action",
  "promotion.paused",
  "promotion.webhook",
  "promotion.finished",
  "workspace_environment.created",
  "workspace_environment.updated",
  "workspace_environment.deleted",
  "promotion.chain_skipped",
  "api_key.created",
  "api_key.revoked",
] as const;
export type AuditLogKind = (typeof AUDIT_LOG_KINDS)[number];

export const AuditLogEntry = z.object({
  id: ObjectId,
  /** null for objects outside a model (named promotion settings, API keys) */
  model_id: ObjectId.nullable(),
  at: Timestamp,
  kind: z.string().max(100),
  object_id: z.string().max(200),
  object_name: z.string().max(200),
  /** what changed; never contains secret values */
  details: z.record(z.string(), z.unknown()),
});
export type AuditLogEntry = z.infer<typeof AuditLogEntry>;

export const AuditLogList = z.object({ audit_logs: z.array(AuditLogEntry) });
export type AuditLogList = z.infer<typeof AuditLogList>;
