import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { OutboxWriter } from 'dynamodb-outbox/runtime';
import { ulid } from 'ulid';
import { DynamoDbOrderStore } from './adapters/dynamodb-order-store';
import type { Clock, IdGenerator } from './application/ports';
import type { OrdersSettings } from './config';
import { createOrdersHandler, type OrdersHandler } from './http/api';

export const systemClock: Clock = { now: () => new Date().toISOString() };
export const ulidGenerator: IdGenerator = { next: () => ulid() };

/** Lambda sets this per invocation; it is undefined offline and when tracing is off. */
export const currentTraceHeader = (): string | undefined => process.env._X_AMZN_TRACE_ID || undefined;

export interface OrdersHandlerWiring {
  readonly settings: OrdersSettings;
  readonly clients: { readonly dynamoDb: DynamoDBClient };
  readonly clock?: Clock;
  readonly ids?: IdGenerator;
  readonly traceHeader?: () => string | undefined;
}

/** The document client every orders function writes the table through: undefined fields are left out. */
export const ordersDocumentClient = (dynamoDb: DynamoDBClient) =>
  DynamoDBDocumentClient.from(dynamoDb, { marshallOptions: { removeUndefinedValues: true } });

/**
 * The one composition point of the orders API: the Lambda entry point and the offline runtime
 * both call this, so they run the same code with the same settings.
 */
export const buildOrdersHandler = (wiring: OrdersHandlerWiring): OrdersHandler => {
  const clock = wiring.clock ?? systemClock;
  const store = new DynamoDbOrderStore(ordersDocumentClient(wiring.clients.dynamoDb), {
    tableName: wiring.settings.tableName,
    outbox: new OutboxWriter(wiring.settings.outbox, {
      traceHeader: wiring.traceHeader ?? currentTraceHeader,
      now: () => new Date(clock.now()),
    }),
  });
  return createOrdersHandler({ store, clock, ids: wiring.ids ?? ulidGenerator });
};
