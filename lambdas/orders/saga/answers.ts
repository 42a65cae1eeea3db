import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type ConsumerLogger,
  type ConsumerResult,
  createTransactionalConsumer,
  InvalidEventError,
  logger,
  type OutboxDelivery,
  type TransactionalConsumerSettings,
  type TransactionalOutcome,
} from 'dynamodb-outbox/runtime';
import { STOCK_RESERVED } from '../../inventory/events';
import { orderWrite } from '../adapters/dynamodb-order-store';
import type { Clock, IdGenerator, OrderStore } from '../application/ports';
import { confirmOrder, rejectOrder } from '../domain/order';
import { orderPartition } from '../table';
import { toStockAnswer } from './answer-schema';

/**
 * What an answer did to its order, as the offline console prints it: `Order 01J… PLACED →
 * CONFIRMED`, or the status that made the answer too late.
 */
export interface AnswerResult {
  readonly orderId: string;
  readonly outcome: string;
}

export type AnswerDeliveryResult = ConsumerResult<AnswerResult>;

/** Inbox records are keyed by this name: renaming or redeploying the function keeps its memory. */
export const ANSWERS_CONSUMER_NAME = 'order-answers';

export interface AnswersConsumerDeps {
  /** Reads the order (strongly consistent). */
  readonly store: OrderStore;
  readonly tableName: string;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  /** @default read from the environment OutboxConsumer sets */
  readonly settings?: TransactionalConsumerSettings;
  readonly dynamoDb?: DynamoDBClient;
  readonly logger?: ConsumerLogger;
}

/**
 * The orders service's consumer of inventory's answers, a transactional consumer on the orders
 * table: `StockReserved` confirms a PLACED order, `StockRejected` rejects it with inventory's
 * reason; the order update (conditional on the version and status read), its event and the inbox
 * record commit together. An answer for an order that already left PLACED changes nothing. A
 * failed condition (a cancel or the deadline won the race) reads the order again and decides again.
 */
export const createAnswersConsumer = (deps: AnswersConsumerDeps) => {
  const effect = async (delivery: OutboxDelivery): Promise<TransactionalOutcome<AnswerResult>> => {
    const answer = toStockAnswer(delivery);
    const { orderId } = answer;
    const current = await deps.store.get(orderId);
    if (current === undefined)
      throw new InvalidEventError(`order ${orderId} does not exist`, delivery.event.eventId);
    const ctx = {
      now: deps.clock.now(),
      eventId: deps.ids.next(),
      ...(answer.correlationId === undefined ? {} : { correlationId: answer.correlationId }),
    };
    const change =
      answer.type === STOCK_RESERVED ? confirmOrder(current, ctx) : rejectOrder(current, answer.reason, ctx);
    if (change === undefined)
      return {
        writes: [],
        result: {
          orderId,
          outcome: `Order ${orderId} ${current.status}: ${answer.type} too late, no change`,
        },
      };
    const { order, event } = change;
    return {
      writes: [
        orderWrite(deps.tableName, {
          type: 'updateOrder',
          order,
          expected: { version: current.version, status: current.status },
        }),
      ],
      emit: [event],
      aggregateKey: orderPartition(orderId),
      result: {
        orderId,
        outcome: `Order ${orderId} ${current.status} → ${order.status}${order.rejectionReason ? ` (${order.rejectionReason})` : ''}`,
      },
    };
  };
  return createTransactionalConsumer<AnswerResult>({
    name: ANSWERS_CONSUMER_NAME,
    handle: effect,
    onRejected: (delivery) => effect(delivery),
    logger: deps.logger ?? logger,
    now: () => new Date(deps.clock.now()),
    ...(deps.settings === undefined ? {} : { settings: deps.settings }),
    ...(deps.dynamoDb === undefined ? {} : { dynamoDb: deps.dynamoDb }),
  });
};
