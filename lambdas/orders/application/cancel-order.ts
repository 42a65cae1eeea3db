import { cancelOrder, type Order } from '../domain/order';
import { OrderConflictError, OrderNotFoundError } from './errors';
import {
  ChangeRejectedError,
  type Clock,
  ConcurrentWriteError,
  type IdGenerator,
  type OrderStore,
} from './ports';

export interface CancelOrderDeps {
  readonly store: OrderStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
}

export interface CancelOrderInput {
  readonly orderId: string;
  readonly reason?: string;
  readonly correlationId?: string;
}

/**
 * The saga moves an order on while a customer cancels it (PLACED → CONFIRMED, say): a lost race is
 * read again and retried, since the new status may still be cancellable. Past this, a conflict.
 */
const MAX_ATTEMPTS = 3;

/**
 * Cancel a placed or confirmed order: the order update (conditional on the version and status we
 * read) and the OrderCancelled event (sequence = new version) in one commit.
 *
 * @throws OrderNotFoundError, OrderNotCancellableError (cancelled or rejected), OrderConflictError (kept losing races)
 */
export const cancelOrderUseCase = async (
  deps: CancelOrderDeps,
  input: CancelOrderInput,
): Promise<{ order: Order; eventId: string }> => {
  let lost: Error | undefined;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const current = await deps.store.get(input.orderId);
    if (current === undefined) throw new OrderNotFoundError(input.orderId);
    const eventId = deps.ids.next();
    const { order, event } = cancelOrder(current, input.reason, {
      now: deps.clock.now(),
      eventId,
      ...(input.correlationId === undefined ? {} : { correlationId: input.correlationId }),
    });
    try {
      await deps.store.commit([
        { type: 'updateOrder', order, expected: { version: current.version, status: current.status } },
        { type: 'appendEvent', event },
      ]);
      return { order, eventId };
    } catch (error) {
      if (!(error instanceof ChangeRejectedError || error instanceof ConcurrentWriteError)) throw error;
      lost = error;
    }
  }
  throw new OrderConflictError(input.orderId, { cause: lost });
};
