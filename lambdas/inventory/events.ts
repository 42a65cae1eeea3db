import * as z from '../zod';

/**
 * Inventory's answers to the orders service, published through inventory's own outbox: their
 * source, types and payload schemas. Each one is about the stock reservation of one order
 * (`aggregateId` = the order id).
 */
export const INVENTORY_SOURCE = 'inventory';
export const EVENT_SCHEMA_VERSION = 1;
export const AGGREGATE_TYPE_RESERVATION = 'StockReservation';
/** The order's stock is held. */
export const STOCK_RESERVED = 'StockReserved';
/** The order cannot be reserved (the reason says why); nothing is held. */
export const STOCK_REJECTED = 'StockRejected';
/** The stock held for a cancelled or rejected order is available again. */
export const STOCK_RELEASED = 'StockReleased';

export const STOCK_REJECTION_REASONS = ['insufficient-stock', 'unknown-sku', 'too-many-lines'] as const;
export type StockRejectionReason = (typeof STOCK_REJECTION_REASONS)[number];

const stockLineSchema = z.object({
  sku: z.string(),
  quantity: z.number().check(z.int(), z.positive()),
});

export const stockReservedPayloadSchema = z.object({
  orderId: z.string(),
  lines: z.array(stockLineSchema),
});

export const stockRejectedPayloadSchema = z.object({
  orderId: z.string(),
  reason: z.enum(STOCK_REJECTION_REASONS),
  /** For people: which SKUs, how many were wanted and available. */
  message: z.string(),
});

export const stockReleasedPayloadSchema = z.object({
  orderId: z.string(),
  lines: z.array(stockLineSchema),
});

export type StockLine = z.infer<typeof stockLineSchema>;
export type StockReservedPayload = z.infer<typeof stockReservedPayloadSchema>;
export type StockRejectedPayload = z.infer<typeof stockRejectedPayloadSchema>;
export type StockReleasedPayload = z.infer<typeof stockReleasedPayloadSchema>;
