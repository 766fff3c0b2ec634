import type { Sql } from "../../engine/store/sql.js";

/**
 * A view of a store whose next decided transaction runs `change` first: another writer between an
 * operation's reads and its write (a promote, a create, an autoscaling patch at once), for tests
 * that the operation then goes the locked way.
 */
export function racingStore(store: () => Sql): { sql: Sql; meanwhile(change: () => Promise<unknown>): void; pending(): boolean } {
  let next: (() => Promise<unknown>) | undefined;
  return {
    sql: {
      ...store(),
      decidedTransaction: async (plan, decided) => {
        const change = next;
        next = undefined;
        await change?.();
        return store().decidedTransaction(plan, decided);
      },
    },
    meanwhile: (change) => void (next = change),
    pending: () => next !== undefined,
  };
}
