import {
  describeIssues,
  InvalidEventError,
  type OutboxDelivery,
  parseOutboxDelivery,
} from 'dynamodb-outbox/runtime';
import {
  AGGREGATE_TYPE_ORDER,
  EVENT_SCHEMA_VERSION,
  ORDER_CANCELLED,
  ORDER_PLACED,
  orderCancelledPayloadSchema,
  orderPlacedPayloadSchema,
} from '../orders/events';
import * as z from '../zod';
import type { InventoryEvent } from './reservations';

export { InvalidEventError };

const positiveLineSchema = z.object({
  sku: z.string().check(z.minLength(1)),
  quantity: z.number().check(z.int(), z.positive()),
});

/** An outbox delivery (envelope already validated) → the inventory domain's event. */
export const toInventoryEvent = ({ event }: OutboxDelivery): InventoryEvent => {
  const { eventId, eventType, aggregateType, aggregateId, sequence, schemaVersion, payload } = event;
  const fail = (message: string): never => {
    throw new InvalidEventError(message, eventId);
  };
  if (aggregateType !== AGGREGATE_TYPE_ORDER)
    fail(`aggregateType ${aggregateType} is not ${AGGREGATE_TYPE_ORDER}`);
  if (schemaVersion > EVENT_SCHEMA_VERSION)
    fail(`schemaVersion ${schemaVersion} is newer than the supported ${EVENT_SCHEMA_VERSION}`);

  if (eventType === ORDER_PLACED) {
    const parsed = z
      .extend(orderPlacedPayloadSchema, { lines: z.array(positiveLineSchema).check(z.minLength(1)) })
      .safeParse(payload);
    if (!parsed.success)
      return fail(`invalid ${ORDER_PLACED} payload: ${describeIssues(parsed.error, 'detail.payload')}`);
    if (parsed.data.orderId !== aggregateId) fail('payload.orderId does not match aggregateId');
    const lines = parsed.data.lines.map(({ sku, quantity }) => ({ sku, quantity }));
    return { type: ORDER_PLACED, eventId, orderId: aggregateId, sequence, lines };
  }
  if (eventType === ORDER_CANCELLED) {
    const parsed = orderCancelledPayloadSchema.safeParse(payload);
    if (!parsed.success)
      return fail(`invalid ${ORDER_CANCELLED} payload: ${describeIssues(parsed.error, 'detail.payload')}`);
    if (parsed.data.orderId !== aggregateId) fail('payload.orderId does not match aggregateId');
    return { type: ORDER_CANCELLED, eventId, orderId: aggregateId, sequence };
  }
  return fail(`inventory does not handle ${eventType}`);
};

/** Validate an EventBridge delivery at the edge and turn it into the domain's event. */
export const parseDelivery = (input: unknown): InventoryEvent => toInventoryEvent(parseOutboxDelivery(input));
