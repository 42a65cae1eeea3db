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
  ORDER_REJECTED,
  orderCancelledPayloadSchema,
  orderPlacedPayloadSchema,
  orderRejectedPayloadSchema,
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
  const { eventId, eventType, aggregateType, aggregateId, sequence, schemaVersion, payload, correlationId } =
    event;
  const base = {
    eventId,
    orderId: aggregateId,
    sequence,
    ...(correlationId === undefined ? {} : { correlationId }),
  };
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
    return { type: ORDER_PLACED, ...base, lines };
  }
  if (eventType === ORDER_CANCELLED || eventType === ORDER_REJECTED) {
    const schema = eventType === ORDER_CANCELLED ? orderCancelledPayloadSchema : orderRejectedPayloadSchema;
    const parsed = schema.safeParse(payload);
    if (!parsed.success)
      return fail(`invalid ${eventType} payload: ${describeIssues(parsed.error, 'detail.payload')}`);
    if (parsed.data.orderId !== aggregateId) fail('payload.orderId does not match aggregateId');
    return { type: eventType, ...base };
  }
  return fail(`inventory does not handle ${eventType}`);
};

/** Validate an EventBridge delivery at the edge and turn it into the domain's event. */
export const parseDelivery = (input: unknown): InventoryEvent => toInventoryEvent(parseOutboxDelivery(input));
