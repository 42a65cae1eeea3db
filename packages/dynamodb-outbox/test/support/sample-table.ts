import { sameTableLayout } from '../../src/runtime/layout.js';

/**
 * A sample service table for the tests: an order and its outbox events in one partition, laid out
 * as the orders reference app lays out its own.
 * Pure data.
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
