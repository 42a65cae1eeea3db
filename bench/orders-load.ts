import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  DynamoDBClient,
  type TransactWriteItemsCommandInput,
} from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { OrdersSettings } from '../lambdas/orders/config';
import type { OrdersHandler } from '../lambdas/orders/http/api';
import type { OrdersRouteKey } from '../lambdas/orders/http/routes';
import { buildOrdersHandler } from '../lambdas/orders/wiring';
import { mapWithConcurrency } from '../packages/dynamodb-outbox/src/runtime/concurrency';
import { httpApiEvent, lambdaContext, orderBody } from './lambda-events';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './local-clients';
import { captureTransactions, putItems } from './sdk-hooks';

/** Placing orders through the real API handler, and writing what it would write in bulk. */

const PLACE_ORDER: OrdersRouteKey = 'POST /orders';

export interface ApiFunction {
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
}

/** POST /orders with an Idempotency-Key, as a well-behaved client sends it. */
export const placeOrderEvent = (n: number) =>
  httpApiEvent({
    method: 'POST',
    path: '/orders',
    routeKey: PLACE_ORDER,
    body: orderBody(n),
    headers: { 'idempotency-key': randomUUID() },
  });

/** Invoke the handler as Lambda would with `event`; anything but 201 Created is an error. */
export const invokePlaceOrder = async (
  handler: OrdersHandler,
  event: APIGatewayProxyEventV2,
  fn: ApiFunction,
): Promise<void> => {
  const result = await handler(event, lambdaContext('orders-api', fn.memoryMb, fn.timeoutSeconds * 1000));
  if (result.statusCode !== 201)
    throw new Error(`POST /orders answered ${result.statusCode}: ${String(result.body).slice(0, 200)}`);
};

/** Place order number `n` through the handler. */
export const placeOrder = (handler: OrdersHandler, n: number, fn: ApiFunction): Promise<void> =>
  invokePlaceOrder(handler, placeOrderEvent(n), fn);

/**
 * The transactions the handler would commit for `count` orders, captured without a database: the
 * raw baseline replays them, and backlogs are written from them in bulk.
 */
export const captureOrderTransactions = async (
  settings: OrdersSettings,
  count: number,
  fn: ApiFunction,
  firstOrder = 0,
): Promise<TransactWriteItemsCommandInput[]> => {
  const client = new DynamoDBClient({
    region: LOCAL_REGION,
    endpoint: 'http://127.0.0.1:9',
    credentials: LOCAL_CREDENTIALS,
  });
  const captured = captureTransactions(client);
  const handler = buildOrdersHandler({ settings, clients: { dynamoDb: client } });
  for (let i = 0; i < count; i++) await placeOrder(handler, firstOrder + i, fn);
  client.destroy();
  return captured;
};

const BATCH_WRITE_LIMIT = 25;

/**
 * Put every item of `transactions` with BatchWriteItem: the same items and stream records as
 * committing the transactions one by one, an order of magnitude faster, for building backlogs.
 */
export const writeItemsInBulk = async (
  client: DynamoDBClient,
  tableName: string,
  transactions: readonly TransactWriteItemsCommandInput[],
): Promise<number> => {
  const items = transactions.flatMap(putItems);
  const batches: Array<Record<string, AttributeValue>[]> = [];
  for (let i = 0; i < items.length; i += BATCH_WRITE_LIMIT)
    batches.push(items.slice(i, i + BATCH_WRITE_LIMIT));
  await mapWithConcurrency(batches, 4, async (batch) => {
    let requests = batch.map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt > 10) throw new Error('BatchWriteItem kept returning unprocessed items');
      const { UnprocessedItems } = await client.send(
        new BatchWriteItemCommand({ RequestItems: { [tableName]: requests } }),
      );
      requests = (UnprocessedItems?.[tableName] ?? []).flatMap((r) =>
        r.PutRequest?.Item ? [{ PutRequest: { Item: r.PutRequest.Item } }] : [],
      );
    }
  });
  return items.length;
};
