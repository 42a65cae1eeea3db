import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type ConsumerLogger,
  type ConsumerResult,
  createTransactionalConsumer,
  type EventEnvelope,
  logger,
  type OutboxDelivery,
  type TransactionalConsumerSettings,
  type TransactionalOutcome,
} from 'dynamodb-outbox/runtime';
import { ulid } from 'ulid';
import { ORDER_PLACED } from '../orders/events';
import { toInventoryEvent } from './event-schema';
import { AGGREGATE_TYPE_RESERVATION, EVENT_SCHEMA_VERSION } from './events';
import type { InventoryStore } from './inventory-store';
import { type Decision, decide, type InventoryEvent, mergeLines, type Outcome } from './reservations';

/** What one event did: the result the inbox keeps, returned again for a duplicate. */
export interface EventResult {
  readonly eventId: string;
  readonly orderId: string;
  readonly sequence: number;
  readonly outcome: Outcome;
  /** The answer inventory emitted (StockReserved, StockRejected, StockReleased), if any. */
  readonly answer?: string;
  readonly reason?: string;
}

export type DeliveryResult = ConsumerResult<EventResult>;

/** Inbox records are keyed by this name: renaming or redeploying the function keeps its memory. */
export const INVENTORY_CONSUMER_NAME = 'inventory';

export interface InventoryConsumerDeps {
  readonly store: InventoryStore;
  /** @default read from the environment OutboxConsumer sets */
  readonly settings?: TransactionalConsumerSettings;
  readonly dynamoDb?: DynamoDBClient;
  /** @default the container's logger, named by POWERTOOLS_SERVICE_NAME */
  readonly logger?: ConsumerLogger & {
    warn(message: string, ...attributes: Record<string, unknown>[]): void;
  };
  /** The clock of the answers' occurredAt and of the inbox. @default the system clock */
  readonly now?: () => Date;
  /** Ids of the emitted answers. @default a new ULID each */
  readonly newEventId?: () => string;
}

/** The outbox envelope of `decision`'s answer to `event`. */
const answerEnvelope = (
  decision: Decision,
  event: InventoryEvent,
  eventId: string,
  occurredAt: Date,
): EventEnvelope[] => {
  if (decision.answer === undefined || decision.record === undefined) return [];
  return [
    {
      eventId,
      eventType: decision.answer.eventType,
      aggregateType: AGGREGATE_TYPE_RESERVATION,
      aggregateId: event.orderId,
      sequence: decision.record.next.version,
      occurredAt: occurredAt.toISOString(),
      schemaVersion: EVENT_SCHEMA_VERSION,
      ...(event.correlationId === undefined ? {} : { correlationId: event.correlationId }),
      payload: decision.answer.payload,
    },
  ];
};

/**
 * The inventory consumer, a transactional consumer: it reads the order's reservation (and, for an
 * `OrderPlaced`, the stock of its SKUs), decides, and commits the reservation, the stock changes,
 * its answer and its inbox record in one transaction. A failed condition means what it read has
 * changed (another order took the last units, say): it reads and decides again, which answers
 * `StockRejected` when the stock is no longer there.
 */
export const createInventoryConsumer = (deps: InventoryConsumerDeps) => {
  const { store } = deps;
  const log = deps.logger ?? logger;
  const now = deps.now ?? (() => new Date());
  const newEventId = deps.newEventId ?? ulid;
  const effect = async (delivery: OutboxDelivery): Promise<TransactionalOutcome<EventResult>> => {
    const event = toInventoryEvent(delivery);
    const current = await store.reservation(event.orderId);
    const stock =
      event.type === ORDER_PLACED && current === undefined
        ? await store.stockLevels(mergeLines(event.lines).map(({ sku }) => sku))
        : new Map<string, number>();
    const decision = decide(current, stock, event);
    const emit = answerEnvelope(decision, event, newEventId(), now());
    return {
      writes: store.writes(decision),
      emit,
      result: {
        eventId: event.eventId,
        orderId: event.orderId,
        sequence: event.sequence,
        outcome: decision.outcome,
        ...(emit[0] === undefined ? {} : { answer: emit[0].eventType }),
        ...(decision.reason === undefined ? {} : { reason: decision.reason }),
      },
    };
  };
  const consume = createTransactionalConsumer<EventResult>({
    name: INVENTORY_CONSUMER_NAME,
    handle: effect,
    onRejected: (delivery) => effect(delivery),
    logger: log,
    now,
    ...(deps.settings === undefined ? {} : { settings: deps.settings }),
    ...(deps.dynamoDb === undefined ? {} : { dynamoDb: deps.dynamoDb }),
  });
  return async (input: unknown, context?: Parameters<typeof consume>[1]): Promise<DeliveryResult> => {
    const result = await consume(input, context);
    if (result.duplicate) return result;
    const { outcome, sequence, answer, reason } = result;
    if (outcome === 'rejected' || outcome === 'stale')
      log.warn(`event ${outcome}`, { outcome, sequence, reason });
    else log.info(`stock ${outcome}`, { outcome, sequence, answer });
    return result;
  };
};
