import * as z from 'zod';

/**
 * The event contract. `OutboxItem` is what the write path stores next to the order; the relay
 * publishes its `EventEnvelope` part as the EventBridge `detail`. Consumers deduplicate on
 * `detail.eventId` (fixed at write time), never on the EventBridge envelope `id`, which is new
 * on every PutEvents call.
 */
export const EVENT_SCHEMA_VERSION = 1;
export const AGGREGATE_TYPE_ORDER = 'Order';

export const orderLineSchema = z.object({
  sku: z.string(),
  quantity: z.number().int(),
  unitPrice: z.number().int(),
});

export const orderPlacedPayloadSchema = z.object({
  orderId: z.string(),
  customerId: z.string(),
  currency: z.string(),
  lines: z.array(orderLineSchema),
  total: z.number().int(),
});

export const orderCancelledPayloadSchema = z.object({
  orderId: z.string(),
  reason: z.string().optional(),
});

export const eventEnvelopeSchema = z.object({
  eventId: z.string().min(1),
  eventType: z.string().min(1),
  aggregateType: z.string().min(1),
  aggregateId: z.string().min(1),
  sequence: z.number().int().positive(),
  occurredAt: z.iso.datetime(),
  schemaVersion: z.number().int().positive(),
  correlationId: z.string().optional(),
  payload: z.record(z.string(), z.unknown()),
});

export const outboxItemSchema = eventEnvelopeSchema.extend({
  PK: z.string(),
  SK: z.string(),
  /** X-Ray trace header of the request that wrote the event; becomes the PutEvents TraceHeader. */
  traceHeader: z.string().optional(),
  /** TTL, epoch seconds. Set at write time without delivery tracking, after publish with it. */
  expiresAt: z.number().int().optional(),
  /** Sparse pending-index key; present only while the event is unpublished (delivery tracking). */
  pendingShard: z.string().optional(),
  publishedAt: z.string().optional(),
});

/**
 * Why a stored item or stream image is not a valid outbox item, for logs and the poison queue:
 * field paths and messages of the first issues only, never the values (they may be personal data).
 */
export const invalidOutboxItemReason = (error: z.ZodError): string =>
  `Not a valid outbox item: ${error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(item)'}: ${issue.message}`)
    .join('; ')}`;

export type OrderLine = z.infer<typeof orderLineSchema>;
export type OrderPlacedPayload = z.infer<typeof orderPlacedPayloadSchema>;
export type OrderCancelledPayload = z.infer<typeof orderCancelledPayloadSchema>;
export type EventEnvelope = z.infer<typeof eventEnvelopeSchema>;
export type OutboxItem = z.infer<typeof outboxItemSchema>;

export const ORDER_PLACED = 'OrderPlaced';
export const ORDER_CANCELLED = 'OrderCancelled';

/** The part of an outbox item that travels: keys, TTL and tracking attributes stay home. */
export const toEnvelope = (item: OutboxItem): EventEnvelope => ({
  eventId: item.eventId,
  eventType: item.eventType,
  aggregateType: item.aggregateType,
  aggregateId: item.aggregateId,
  sequence: item.sequence,
  occurredAt: item.occurredAt,
  schemaVersion: item.schemaVersion,
  ...(item.correlationId === undefined ? {} : { correlationId: item.correlationId }),
  payload: item.payload,
});
