import type { AuditLogKind } from "../../sdk/index.js";
import { appendAuditLog } from "../store/audit-log.js";
import type { Sql, SqlTransaction } from "../store/sql.js";
import { inControlLoop } from "../store/statement-priority.js";
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
  tx: SqlTransaction;
  /** one timestamp for every row the operation writes */
  at: string;
  emit(event: DomainEvent): void;
  audit(entry: {
    modelId: string | null;
    kind: AuditLogKind;
    objectId: string;
    objectName: string;
    details?: Record<string, unknown>;
  }): void;
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
  const applied = Promise.all(pending.map((event) => context.events.emit(event)));
  // Read your writes: the answer to a change waits until this engine has applied it (its router
  // routes the new deployment, its controller declared the replicas), so a predict sent right after
  // a PUT reaches what the PUT made. Bounded: behind a long controller backlog the change is
  // committed and converges anyway. The control loop's own writes never wait: it applies them.
  if (!inControlLoop()) await within(applied, APPLY_WAIT_MS);
  return result;
}

/** How long an answer waits for this engine to apply its change. */
const APPLY_WAIT_MS = 2_000;

async function within(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  try {
    await Promise.race([work, elapsed]);
  } finally {
    clearTimeout(timer);
  }
}
