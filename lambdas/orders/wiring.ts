import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import { DynamoDbOrderStore } from './adapters/dynamodb-order-store';
import type { Clock, IdGenerator } from './application/ports';
import type { OrdersConfig } from './config';
import { createOrdersHandler, type OrdersHandler } from './http/api';

export const systemClock: Clock = { now: () => new Date().toISOString() };
export const ulidGenerator: IdGenerator = { next: () => ulid() };

/** Lambda sets this per invocation; it is undefined offline and when tracing is off. */
export const currentTraceHeader = (): string | undefined => process.env._X_AMZN_TRACE_ID || undefined;

export interface OrdersHandlerWiring {
  readonly config: OrdersConfig;
  readonly dynamoDb: DynamoDBClient;
  readonly clock?: Clock;
  readonly ids?: IdGenerator;
  readonly traceHeader?: () => string | undefined;
}

/**
 * Build the orders API handler from its configuration and a DynamoDB client. The Lambda entry
 * point and the offline runtime both call this, so they run the same code with the same settings.
 */
export const buildOrdersHandler = (wiring: OrdersHandlerWiring): OrdersHandler => {
  const documentClient = DynamoDBDocumentClient.from(wiring.dynamoDb, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const store = new DynamoDbOrderStore(documentClient, {
    tableName: wiring.config.tableName,
    deliveryTracking: wiring.config.deliveryTracking,
    retentionDays: wiring.config.retentionDays,
    traceHeader: wiring.traceHeader ?? currentTraceHeader,
  });
  return createOrdersHandler({ store, clock: wiring.clock ?? systemClock, ids: wiring.ids ?? ulidGenerator });
};
