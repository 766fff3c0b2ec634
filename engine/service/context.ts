import type { AuditLogKind } from "../../sdk/index.js";
import { appendAuditLog } from "../store/audit-log.js";
import type { Sql, SqlExecutor } from "../store/sql.js";
import type { DomainEvent, DomainEvents } from "./events.js";
import { newObjectId } from "./ids.js";

/** What every service operation needs; injected so tests can fix the clock. */
export interface ServiceContext {
  sql: Sql;
  events: DomainEvents;
  now: () => Date;
}

/** One unit of work: a transaction, the time it happens at, and the events to emit once committed. */
export interface UnitOfWork {
  tx: SqlExecutor;
  /** one timestamp for every row the operation writes */
  at: string;
  emit(event: DomainEvent): void;
  audit(entry: {
    modelId: string | null;
    kind: AuditLogKind;
    objectId: string;
    objectName: string;
    details?: Record<string, unknown>;
  }): Promise<void>;
}

/** Run `fn` in a transaction; emit its events only after COMMIT (never for a rolled-back change). */
export async function inTransaction<T>(context: ServiceContext, fn: (work: UnitOfWork) => Promise<T>): Promise<T> {
  const pending: DomainEvent[] = [];
  const at = context.now().toISOString();
  const result = await context.sql.transaction((tx) =>
    fn({
      tx,
      at,
      emit: (event) => pending.push(event),
      audit: (entry) =>
        appendAuditLog(tx, {
          id: newObjectId("log"),
          modelId: entry.modelId,
          at,
          kind: entry.kind,
          objectId: entry.objectId,
          objectName: entry.objectName,
          details: entry.details ?? {},
        }),
    }),
  );
  for (const event of pending) context.events.emit(event);
  return result;
}
