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
 * Cancel a placed order: the order update (conditional on the version and status we read) and the
 * OrderCancelled event (sequence = new version) in one commit.
 *
 * A lost race is reported as a conflict without retrying: PLACED → CANCELLED is the only
 * transition, so whoever won it cancelled the order, and a re-read would only find CANCELLED.
 *
 * @throws OrderNotFoundError, OrderNotCancellableError (already cancelled), OrderConflictError (lost a race)
 */
export const cancelOrderUseCase = async (
  deps: CancelOrderDeps,
  input: CancelOrderInput,
): Promise<{ order: Order; eventId: string }> => {
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
  } catch (error) {
    if (error instanceof ChangeRejectedError || error instanceof ConcurrentWriteError)
      throw new OrderConflictError(input.orderId, { cause: error });
    throw error;
  }
  return { order, eventId };
};
