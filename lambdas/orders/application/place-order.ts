import { asPlaced, type Order, type PlaceOrderCommand, placeOrder } from '../domain/order';
import { IdempotencyKeyInUseError, IdempotencyKeyReusedError } from './errors';
import { orderIdForKey, requestHash } from './idempotency';
import {
  ChangeRejectedError,
  type Clock,
  ConcurrentWriteError,
  type IdGenerator,
  type OrderStore,
  type StoredOrder,
} from './ports';

export interface PlaceOrderDeps {
  readonly store: OrderStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
}

export interface PlaceOrderInput {
  readonly command: PlaceOrderCommand;
  /** Client idempotency: `key` from the header, `scope` the caller's identity. */
  readonly idempotency?: { readonly key: string; readonly scope: string };
  readonly correlationId?: string;
}

export type PlaceOrderResult =
  | { readonly replayed: false; readonly order: Order; readonly eventId: string }
  | { readonly replayed: true; readonly order: Order };

/**
 * Place an order: the order and its OrderPlaced outbox event in one commit. With an Idempotency-Key
 * the order id is derived from the key, so a retry collides with the first attempt's order and
 * gets the original answer back (same body) or a 422 (different body).
 */
export const placeOrderUseCase = async (
  deps: PlaceOrderDeps,
  input: PlaceOrderInput,
): Promise<PlaceOrderResult> => {
  const { idempotency } = input;
  const hash = idempotency ? requestHash(input.command) : undefined;
  const orderId = idempotency ? orderIdForKey(idempotency.scope, idempotency.key) : deps.ids.next();
  const eventId = deps.ids.next();
  const placed = placeOrder(orderId, input.command, {
    now: deps.clock.now(),
    eventId,
    ...(input.correlationId === undefined ? {} : { correlationId: input.correlationId }),
  });
  const stored: StoredOrder = hash === undefined ? placed.order : { ...placed.order, requestHash: hash };
  try {
    await deps.store.commit([
      { type: 'insertOrder', order: stored },
      { type: 'appendEvent', event: placed.event },
    ]);
    return { replayed: false, order: placed.order, eventId };
  } catch (error) {
    if (hash === undefined) throw error;
    if (error instanceof ConcurrentWriteError) throw new IdempotencyKeyInUseError({ cause: error });
    if (!(error instanceof ChangeRejectedError) || error.changeIndex !== 0) throw error;
    const existing = error.current ?? (await deps.store.get(orderId));
    if (existing === undefined) throw error;
    if (existing.requestHash !== hash) throw new IdempotencyKeyReusedError();
    return { replayed: true, order: asPlaced(existing) };
  }
};
