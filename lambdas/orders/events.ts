import { STOCK_REJECTION_REASONS } from '../inventory/events';
import * as z from '../zod';

/**
 * The orders service's events: their types and payload schemas. The envelope around them is the
 * outbox's (lambdas/outbox/envelope.ts); consumers validate these payloads themselves.
 */
export const EVENT_SCHEMA_VERSION = 1;
export const AGGREGATE_TYPE_ORDER = 'Order';
export const ORDER_PLACED = 'OrderPlaced';
export const ORDER_CANCELLED = 'OrderCancelled';
/** Inventory reserved the order's stock: the order is confirmed. */
export const ORDER_CONFIRMED = 'OrderConfirmed';
/** Inventory refused the order, or it had no answer before the deadline: the order is rejected. */
export const ORDER_REJECTED = 'OrderRejected';

/**
 * Why an order was rejected: inventory's reasons (`StockRejected`), or `timeout` when no answer
 * came before the deadline.
 */
export const REJECTION_REASONS = [...STOCK_REJECTION_REASONS, 'timeout'] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export const orderLineSchema = z.object({
  sku: z.string(),
  quantity: z.number().check(z.int()),
  unitPrice: z.number().check(z.int()),
});

export const orderPlacedPayloadSchema = z.object({
  orderId: z.string(),
  customerId: z.string(),
  currency: z.string(),
  lines: z.array(orderLineSchema),
  total: z.number().check(z.int()),
});

export const orderCancelledPayloadSchema = z.object({
  orderId: z.string(),
  reason: z.optional(z.string()),
});

export const orderConfirmedPayloadSchema = z.object({ orderId: z.string() });

export const orderRejectedPayloadSchema = z.object({
  orderId: z.string(),
  reason: z.enum(REJECTION_REASONS),
});

export type OrderLine = z.infer<typeof orderLineSchema>;
export type OrderPlacedPayload = z.infer<typeof orderPlacedPayloadSchema>;
export type OrderCancelledPayload = z.infer<typeof orderCancelledPayloadSchema>;
export type OrderConfirmedPayload = z.infer<typeof orderConfirmedPayloadSchema>;
export type OrderRejectedPayload = z.infer<typeof orderRejectedPayloadSchema>;

/** CloudWatch metrics of the orders API (EMF); the monitoring construct charts them. */
export const OrdersMetric = {
  /** Orders committed (order + outbox event in one transaction). Count. */
  OrdersPlaced: 'OrdersPlaced',
  /** Orders cancelled. Count. */
  OrdersCancelled: 'OrdersCancelled',
} as const;
