import type { ChangeEvent, EventBus } from '../../kernel/event-bus.js';
import { inTransaction, isInTransaction } from '../../store/transaction.js';
import type { ControlContext } from './context.js';

/**
 * Runs one control operation as one transaction (see `inTransaction`): the rows it writes and
 * the change-log rows it records commit together or not at all, and a lost race answers 409.
 * Events it announces reach this process's bus only after the commit, so no listener reloads
 * state that is not there yet (or never will be), and a re-run after a deadlock announces once.
 * Nested calls join the outer operation.
 *
 * @example
 * ```ts
 * await transact(ctx, async (tx) => {
 *   const row = await getRow(tx, name); // locked until commit
 *   await tx.store.db.updateTable('deployments').set({ enabled: 0 }).where('id', '=', row.id).execute();
 *   await announce(tx, TOPICS.deploymentChanged, name);
 * });
 * ```
 */
export async function transact<T>(ctx: ControlContext, work: (tx: ControlContext) => Promise<T>): Promise<T> {
  if (isInTransaction(ctx.store)) return work(ctx);
  let pending: ChangeEvent[] = [];
  const result = await inTransaction(ctx.store, (store) => {
    pending = [];
    return work({ ...ctx, store, bus: deferringBus(ctx.bus, pending) });
  });
  for (const event of pending) await ctx.bus.publish(event);
  return result;
}

/** A bus that queues what is published (to publish after commit); subscribing goes to `bus`. */
function deferringBus(bus: EventBus, queue: ChangeEvent[]): EventBus {
  return {
    async publish(event) {
      queue.push(event);
    },
    subscribe: (listener) => bus.subscribe(listener),
  };
}
