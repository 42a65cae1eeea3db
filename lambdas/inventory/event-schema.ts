import * as z from 'zod';
import {
  AGGREGATE_TYPE_ORDER,
  EVENT_SCHEMA_VERSION,
  eventEnvelopeSchema,
  ORDER_CANCELLED,
  ORDER_PLACED,
  orderCancelledPayloadSchema,
  orderPlacedPayloadSchema,
} from '../shared/outbox-event';
import type { InventoryEvent } from './reservations';

/** The parts of the EventBridge envelope inventory reads; the rest is not its business. */
const eventBridgeEventSchema = z.object({
  id: z.string(),
  'detail-type': z.string(),
  source: z.string(),
  detail: z.unknown(),
});

const positiveLineSchema = z.object({
  sku: z.string().min(1),
  quantity: z.number().int().positive(),
});

/** An event inventory cannot act on. It is an error, never a silent skip. */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
  constructor(
    message: string,
    /** The detail's eventId when it could be read, for the log. */
    readonly eventId?: string,
  ) {
    super(message);
  }
}

/** Field paths and messages only: never the values, which may be personal data. */
const describe = (error: z.ZodError, prefix: string): string =>
  error.issues.map((i) => `${[prefix, ...i.path].join('.')}: ${i.message}`).join('; ');

/** Validate an EventBridge delivery at the edge and turn it into the domain's event. */
export const parseDelivery = (input: unknown): InventoryEvent => {
  const envelope = eventBridgeEventSchema.safeParse(input);
  if (!envelope.success)
    throw new InvalidEventError(`not an EventBridge event: ${describe(envelope.error, 'event')}`);
  const detail = eventEnvelopeSchema.safeParse(envelope.data.detail);
  if (!detail.success) throw new InvalidEventError(`invalid detail: ${describe(detail.error, 'detail')}`);
  const { eventId, eventType, aggregateType, aggregateId, sequence, schemaVersion, payload } = detail.data;
  const fail = (message: string): never => {
    throw new InvalidEventError(message, eventId);
  };
  if (eventType !== envelope.data['detail-type'])
    fail(`detail-type ${envelope.data['detail-type']} does not match eventType ${eventType}`);
  if (aggregateType !== AGGREGATE_TYPE_ORDER)
    fail(`aggregateType ${aggregateType} is not ${AGGREGATE_TYPE_ORDER}`);
  if (schemaVersion > EVENT_SCHEMA_VERSION)
    fail(`schemaVersion ${schemaVersion} is newer than the supported ${EVENT_SCHEMA_VERSION}`);

  if (eventType === ORDER_PLACED) {
    const parsed = orderPlacedPayloadSchema
      .extend({ lines: z.array(positiveLineSchema).min(1) })
      .safeParse(payload);
    if (!parsed.success)
      return fail(`invalid ${ORDER_PLACED} payload: ${describe(parsed.error, 'detail.payload')}`);
    if (parsed.data.orderId !== aggregateId) fail('payload.orderId does not match aggregateId');
    const lines = parsed.data.lines.map(({ sku, quantity }) => ({ sku, quantity }));
    return { type: ORDER_PLACED, eventId, orderId: aggregateId, sequence, lines };
  }
  if (eventType === ORDER_CANCELLED) {
    const parsed = orderCancelledPayloadSchema.safeParse(payload);
    if (!parsed.success)
      return fail(`invalid ${ORDER_CANCELLED} payload: ${describe(parsed.error, 'detail.payload')}`);
    if (parsed.data.orderId !== aggregateId) fail('payload.orderId does not match aggregateId');
    return { type: ORDER_CANCELLED, eventId, orderId: aggregateId, sequence };
  }
  return fail(`inventory does not handle ${eventType}`);
};
