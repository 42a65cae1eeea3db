import {
  ChangeRejectedError,
  type Clock,
  ConcurrentWriteError,
  type IdGenerator,
  type OrderStore,
} from '../application/ports';
import { rejectOrder } from '../domain/order';

export interface DeadlineDeps {
  readonly store: OrderStore;
  /** Ids of the orders still PLACED that were placed at or before the cutoff, at most `limit`. */
  readonly placedBefore: (cutoff: string, limit: number) => Promise<string[]>;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  /** How long an order may wait for inventory's answer. */
  readonly deadlineSeconds: number;
  /**
   * Orders rejected per run at most; the next run takes the rest. Keeps one run well inside the
   * function's timeout when many orders time out at once (inventory down, say).
   * @default 500
   */
  readonly limit?: number;
}

export interface SweepResult {
  readonly cutoff: string;
  /** Orders rejected with reason `timeout` (each with its OrderRejected event). */
  readonly rejected: readonly string[];
  /** Orders listed that had left PLACED by the time they were read or written: the answer won the race. */
  readonly answered: number;
}

/**
 * No order stays PLACED forever: every order placed more than `deadlineSeconds` ago and still
 * PLACED is rejected with reason `timeout`, in one transaction with its OrderRejected event
 * (conditional on the version and status read, so an answer that arrives meanwhile wins cleanly).
 * Inventory releases whatever it reserved for the order when it sees the OrderRejected.
 */
export const sweepDeadline = async (deps: DeadlineDeps): Promise<SweepResult> => {
  const cutoff = new Date(Date.parse(deps.clock.now()) - deps.deadlineSeconds * 1000).toISOString();
  const rejected: string[] = [];
  let answered = 0;
  for (const orderId of await deps.placedBefore(cutoff, deps.limit ?? 500)) {
    const current = await deps.store.get(orderId);
    const change =
      current === undefined
        ? undefined
        : rejectOrder(current, 'timeout', { now: deps.clock.now(), eventId: deps.ids.next() });
    if (current === undefined || change === undefined) {
      answered++;
      continue;
    }
    try {
      await deps.store.commit([
        {
          type: 'updateOrder',
          order: change.order,
          expected: { version: current.version, status: current.status },
        },
        { type: 'appendEvent', event: change.event },
      ]);
      rejected.push(orderId);
    } catch (error) {
      if (!(error instanceof ChangeRejectedError || error instanceof ConcurrentWriteError)) throw error;
      answered++;
    }
  }
  return { cutoff, rejected, answered };
};
