import { sameTableLayout } from 'dynamodb-outbox/runtime';

/**
 * The one description of the orders table, an order and its outbox events in one partition. The
 * CDK stack builds the table from it and hands its outbox layout to the outbox construct.
 * Pure data: importing it must not pull the CDK into a Lambda bundle.
 */
export const ordersTable = {
  partitionKey: 'PK',
  sortKey: 'SK',
  /** DynamoDB TTL attribute (epoch seconds). Outbox items only: orders are never expired. */
  timeToLiveAttribute: 'expiresAt',
} as const;

/** Outbox items beside each order: `ORDER#<id>` / `OUTBOX#<sequence>`. */
export const ordersOutboxLayout = sameTableLayout({
  partitionKey: ordersTable.partitionKey,
  sortKey: ordersTable.sortKey,
  sortKeyPrefix: 'OUTBOX#',
  timeToLiveAttribute: ordersTable.timeToLiveAttribute,
});

export const ORDER_PK_PREFIX = 'ORDER#';
export const ORDER_SK = 'ORDER';

/** The partition key value of an order: its outbox items live under the same value. */
export const orderPartition = (orderId: string): string => `${ORDER_PK_PREFIX}${orderId}`;

export const orderKey = (orderId: string) => ({ PK: orderPartition(orderId), SK: ORDER_SK });
