import {
  AGGREGATE_TYPE_ORDER,
  EVENT_SCHEMA_VERSION,
  ORDER_CANCELLED,
  ORDER_CONFIRMED,
  ORDER_PLACED,
  ORDER_REJECTED,
  type OrderCancelledPayload,
  type OrderConfirmedPayload,
  type OrderLine,
  type OrderPlacedPayload,
  type OrderRejectedPayload,
  type RejectionReason,
} from '../events';

/**
 * The order aggregate. Pure: no clock, no random ids, no I/O. Callers pass in the time and the
 * ids, so the same inputs always produce the same order and events.
 */
/**
 * PLACED: waiting for inventory's answer. CONFIRMED: stock reserved. REJECTED: inventory refused
 * it, or did not answer before the deadline. CANCELLED: the customer cancelled it (from PLACED or
 * CONFIRMED; inventory then holds no stock for it).
 */
export const ORDER_STATUSES = ['PLACED', 'CONFIRMED', 'REJECTED', 'CANCELLED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** The statuses a customer may cancel from: the ones where stock is, or may soon be, held. */
export const CANCELLABLE_STATUSES: readonly OrderStatus[] = ['PLACED', 'CONFIRMED'];

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
  readonly confirmedAt?: string;
  readonly rejectedAt?: string;
  readonly rejectionReason?: RejectionReason;
}

type EventPayload = OrderPlacedPayload | OrderCancelledPayload | OrderConfirmedPayload | OrderRejectedPayload;

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
  readonly payload: EventPayload;
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

const event = (order: Order, eventType: string, ctx: ChangeContext, payload: EventPayload): DomainEvent => ({
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
  if (!CANCELLABLE_STATUSES.includes(current.status))
    throw new OrderNotCancellableError(current.orderId, current.status);
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

/** A change of an order and the event that announces it. */
export interface OrderChange {
  readonly order: Order;
  readonly event: DomainEvent;
}

/**
 * Inventory reserved the stock: a PLACED order is confirmed. Any other status means the order left
 * PLACED first (cancelled, or rejected at the deadline): the answer is late and changes nothing here
 * (inventory releases what it holds when it sees the cancellation or rejection).
 */
export const confirmOrder = (current: Order, ctx: ChangeContext): OrderChange | undefined => {
  if (current.status !== 'PLACED') return undefined;
  const order: Order = {
    ...current,
    status: 'CONFIRMED',
    version: current.version + 1,
    updatedAt: ctx.now,
    confirmedAt: ctx.now,
  };
  return { order, event: event(order, ORDER_CONFIRMED, ctx, { orderId: order.orderId }) };
};

/** Inventory refused the order, or the deadline passed: a PLACED order is rejected with `reason`. */
export const rejectOrder = (
  current: Order,
  reason: RejectionReason,
  ctx: ChangeContext,
): OrderChange | undefined => {
  if (current.status !== 'PLACED') return undefined;
  const order: Order = {
    ...current,
    status: 'REJECTED',
    version: current.version + 1,
    updatedAt: ctx.now,
    rejectedAt: ctx.now,
    rejectionReason: reason,
  };
  return { order, event: event(order, ORDER_REJECTED, ctx, { orderId: order.orderId, reason }) };
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
