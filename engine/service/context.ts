import type { AuditLogKind } from "../../sdk/index.js";
import { appendAuditLog } from "../store/audit-log.js";
import type { AtCommit, Sql, SqlTransaction } from "../store/sql.js";
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
export interface UnitOfWork extends PlannedWork {
  tx: SqlTransaction;
}

/**
 * A unit of work known before anything is sent: its writes gathered at commit (writesCollector),
 * for a decided transaction (sql.ts). What a unit of work's helpers need of it.
 */
export interface PlannedWork {
  tx: AtCommit;
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

/** A unit of work on `tx`, its events gathered into `pending`. */
export function workOn<Tx extends AtCommit>(tx: Tx, at: string, pending: DomainEvent[]): PlannedWork & { tx: Tx } {
  return {
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
  };
}

/** Run `fn` in a transaction; emit its events only after COMMIT (never for a rolled-back change). */
export async function inTransaction<T>(context: ServiceContext, fn: (work: UnitOfWork) => Promise<T>): Promise<T> {
  const pending: DomainEvent[] = [];
  const at = context.now().toISOString();
  const result = await context.sql.transaction((tx) => fn(workOn(tx, at, pending)));
  await committed(context, pending);
  return result;
}

/** After a commit: its events emitted, and applied by this engine before the answer (bounded). */
export async function committed(context: ServiceContext, events: readonly DomainEvent[]): Promise<void> {
  const applied = Promise.all(events.map((event) => context.events.emit(event)));
  // Read your writes: the answer to a change waits until this engine has applied it (its router
  // routes the new deployment, its controller declared the replicas), so a predict sent right after
  // a PUT reaches what the PUT made. Bounded: behind a long controller backlog the change is
  // committed and converges anyway. The control loop's own writes never wait: it applies them.
  if (!inControlLoop()) await within(applied, APPLY_WAIT_MS);
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
