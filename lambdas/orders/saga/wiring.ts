import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type EnvMap,
  InvalidSettingsError,
  logger,
  OutboxWriter,
  type TransactionalConsumerSettings,
  transactionalConsumerSettings,
  type WriterSettings,
  writerSettings,
} from 'dynamodb-outbox/runtime';
import * as z from '../../zod';
import { DynamoDbOrderStore } from '../adapters/dynamodb-order-store';
import type { Clock, IdGenerator } from '../application/ports';
import { readTableName } from '../config';
import { currentTraceHeader, ordersDocumentClient, systemClock, ulidGenerator } from '../wiring';
import { createAnswersConsumer } from './answers';
import { sweepDeadline } from './deadline';

export interface AnswersSettings {
  readonly tableName: string;
  readonly consumer: TransactionalConsumerSettings;
}

/** TABLE_NAME (the orders table) and the transactional consumer's settings (set by OutboxConsumer). */
export const readAnswersSettings = (env: EnvMap = process.env): AnswersSettings => ({
  tableName: readTableName(env),
  consumer: transactionalConsumerSettings.fromEnv(env),
});

export interface DeadlineSettings {
  readonly tableName: string;
  readonly outbox: WriterSettings;
  readonly deadlineSeconds: number;
}

const deadlineSecondsSchema = z.coerce.number().check(z.int(), z.positive());

/** TABLE_NAME, the outbox writer's settings (`grantWrite`) and ORDER_DEADLINE_SECONDS (the OrderSaga construct). */
export const readDeadlineSettings = (env: EnvMap = process.env): DeadlineSettings => {
  const deadline = deadlineSecondsSchema.safeParse(env.ORDER_DEADLINE_SECONDS);
  if (!deadline.success)
    throw new InvalidSettingsError('ORDER_DEADLINE_SECONDS must be a positive whole number of seconds');
  return {
    tableName: readTableName(env),
    outbox: writerSettings.fromEnv(env),
    deadlineSeconds: deadline.data,
  };
};

interface SagaWiring<S> {
  readonly settings: S;
  readonly clients: { readonly dynamoDb: DynamoDBClient };
  readonly clock?: Clock;
  readonly ids?: IdGenerator;
}

/** The one composition point of the answers consumer, for Lambda and the offline runtime. */
export const buildAnswersHandler = (wiring: SagaWiring<AnswersSettings>) => {
  const { tableName, consumer } = wiring.settings;
  const clock = wiring.clock ?? systemClock;
  return createAnswersConsumer({
    // The store's writer is never used here: the consumer's events go through its own outbox.
    store: new DynamoDbOrderStore(ordersDocumentClient(wiring.clients.dynamoDb), {
      tableName,
      outbox: new OutboxWriter(consumer.outbox),
    }),
    tableName,
    clock,
    ids: wiring.ids ?? ulidGenerator,
    settings: consumer,
    dynamoDb: wiring.clients.dynamoDb,
  });
};

/** The one composition point of the deadline sweeper (a scheduled function), for Lambda and the offline runtime. */
export const buildDeadlineHandler = (wiring: SagaWiring<DeadlineSettings>) => {
  const { tableName, outbox, deadlineSeconds } = wiring.settings;
  const clock = wiring.clock ?? systemClock;
  const store = new DynamoDbOrderStore(ordersDocumentClient(wiring.clients.dynamoDb), {
    tableName,
    outbox: new OutboxWriter(outbox, { traceHeader: currentTraceHeader, now: () => new Date(clock.now()) }),
  });
  return async (_event?: unknown) => {
    const result = await sweepDeadline({
      store,
      placedBefore: (cutoff, limit) => store.placedBefore(cutoff, limit),
      clock,
      ids: wiring.ids ?? ulidGenerator,
      deadlineSeconds,
    });
    for (const orderId of result.rejected)
      logger.info(`Order ${orderId} PLACED → REJECTED (timeout)`, { orderId, cutoff: result.cutoff });
    return { rejected: result.rejected.length, answered: result.answered };
  };
};
