import { describeIssues, InvalidEventError, type OutboxDelivery } from 'dynamodb-outbox/runtime';
import {
  AGGREGATE_TYPE_RESERVATION,
  EVENT_SCHEMA_VERSION,
  STOCK_REJECTED,
  STOCK_RESERVED,
  type StockRejectionReason,
  stockRejectedPayloadSchema,
  stockReservedPayloadSchema,
} from '../../inventory/events';

/** Inventory's answer to an order, as the orders service acts on it. */
export type StockAnswer =
  | { readonly type: typeof STOCK_RESERVED; readonly orderId: string; readonly correlationId?: string }
  | {
      readonly type: typeof STOCK_REJECTED;
      readonly orderId: string;
      readonly reason: StockRejectionReason;
      readonly correlationId?: string;
    };

/** An outbox delivery from inventory (envelope already validated) → the answer it carries. */
export const toStockAnswer = ({ event }: OutboxDelivery): StockAnswer => {
  const { eventId, eventType, aggregateType, aggregateId, schemaVersion, payload, correlationId } = event;
  const fail = (message: string): never => {
    throw new InvalidEventError(message, eventId);
  };
  if (aggregateType !== AGGREGATE_TYPE_RESERVATION)
    fail(`aggregateType ${aggregateType} is not ${AGGREGATE_TYPE_RESERVATION}`);
  if (schemaVersion > EVENT_SCHEMA_VERSION)
    fail(`schemaVersion ${schemaVersion} is newer than the supported ${EVENT_SCHEMA_VERSION}`);
  const traced = correlationId === undefined ? {} : { correlationId };
  if (eventType === STOCK_RESERVED) {
    const parsed = stockReservedPayloadSchema.safeParse(payload);
    if (!parsed.success)
      return fail(`invalid ${eventType} payload: ${describeIssues(parsed.error, 'detail.payload')}`);
    if (parsed.data.orderId !== aggregateId) fail('payload.orderId does not match aggregateId');
    return { type: STOCK_RESERVED, orderId: aggregateId, ...traced };
  }
  if (eventType === STOCK_REJECTED) {
    const parsed = stockRejectedPayloadSchema.safeParse(payload);
    if (!parsed.success)
      return fail(`invalid ${eventType} payload: ${describeIssues(parsed.error, 'detail.payload')}`);
    if (parsed.data.orderId !== aggregateId) fail('payload.orderId does not match aggregateId');
    return { type: STOCK_REJECTED, orderId: aggregateId, reason: parsed.data.reason, ...traced };
  }
  return fail(`the orders service does not handle ${eventType}`);
};
