import {
  AGGREGATE_TYPE_ORDER,
  EVENT_SCHEMA_VERSION,
  ORDER_CANCELLED,
  ORDER_PLACED,
  type OrderCancelledPayload,
  type OrderLine,
  type OrderPlacedPayload,
} from '../events';

/**
 * The order aggregate. Pure: no clock, no random ids, no I/O. Callers pass in the time and the
 * ids, so the same inputs always produce the same order and events.
 */
export type OrderStatus = 'PLACED' | 'CANCELLED';

export interface Order {
  readonly orderId: string;
  readonly customerId: string;
  readonly currency: string;
  readonly lines: readonly OrderLine[];
  /** Sum of quantity × unitPrice, in the currency's minor units. */
  readonly total: number;
  readonly status: OrderStatus;
  /** Starts at 1 and grows by one with every state change; each change emits the event with this sequence. */
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly cancelledAt?: string;
  readonly cancelReason?: string;
}

/** A domain event, before it is stored: the outbox adapter adds keys, TTL and trace context. */
export interface DomainEvent {
  readonly eventId: string;
  readonly eventType: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly sequence: number;
  readonly occurredAt: string;
  readonly schemaVersion: number;
  readonly correlationId?: string;
  readonly payload: OrderPlacedPayload | OrderCancelledPayload;
}

export interface PlaceOrderCommand {
  readonly customerId: string;
  readonly currency: string;
  readonly lines: readonly OrderLine[];
}

/** Facts the caller supplies so that the domain stays deterministic. */
export interface ChangeContext {
  readonly now: string;
  readonly eventId: string;
  readonly correlationId?: string;
}

export class OrderNotCancellableError extends Error {
  constructor(
    readonly orderId: string,
    readonly status: OrderStatus,
  ) {
    super(`Order ${orderId} is ${status} and cannot be cancelled`);
    this.name = 'OrderNotCancellableError';
  }
}

export const orderTotal = (lines: readonly OrderLine[]): number =>
  lines.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0);

const event = (
  order: Order,
  eventType: string,
  ctx: ChangeContext,
  payload: OrderPlacedPayload | OrderCancelledPayload,
): DomainEvent => ({
  eventId: ctx.eventId,
  eventType,
  aggregateType: AGGREGATE_TYPE_ORDER,
  aggregateId: order.orderId,
  sequence: order.version,
  occurredAt: ctx.now,
  schemaVersion: EVENT_SCHEMA_VERSION,
  ...(ctx.correlationId === undefined ? {} : { correlationId: ctx.correlationId }),
  payload,
});

export const placeOrder = (
  orderId: string,
  command: PlaceOrderCommand,
  ctx: ChangeContext,
): { order: Order; event: DomainEvent } => {
  const lines = command.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, unitPrice: l.unitPrice }));
  const order: Order = {
    orderId,
    customerId: command.customerId,
    currency: command.currency,
    lines,
    total: orderTotal(lines),
    status: 'PLACED',
    version: 1,
    createdAt: ctx.now,
    updatedAt: ctx.now,
  };
  const payload: OrderPlacedPayload = {
    orderId,
    customerId: order.customerId,
    currency: order.currency,
    lines,
    total: order.total,
  };
  return { order, event: event(order, ORDER_PLACED, ctx, payload) };
};

export const cancelOrder = (
  current: Order,
  reason: string | undefined,
  ctx: ChangeContext,
): { order: Order; event: DomainEvent } => {
  if (current.status !== 'PLACED') throw new OrderNotCancellableError(current.orderId, current.status);
  const order: Order = {
    ...current,
    status: 'CANCELLED',
    version: current.version + 1,
    updatedAt: ctx.now,
    cancelledAt: ctx.now,
    ...(reason === undefined ? {} : { cancelReason: reason }),
  };
  const payload: OrderCancelledPayload = {
    orderId: order.orderId,
    ...(reason === undefined ? {} : { reason }),
  };
  return { order, event: event(order, ORDER_CANCELLED, ctx, payload) };
};

/**
 * What POST /orders answered when the order was placed. Built only from fields that never change,
 * so an idempotent replay returns the same body even after the order was cancelled.
 */
export const asPlaced = (order: Order): Order => ({
  orderId: order.orderId,
  customerId: order.customerId,
  currency: order.currency,
  lines: order.lines,
  total: order.total,
  status: 'PLACED',
  version: 1,
  createdAt: order.createdAt,
  updatedAt: order.createdAt,
});
