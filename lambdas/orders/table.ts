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

/**
 * A sparse index of the orders waiting for inventory's answer: only a PLACED order carries its
 * attributes (they are removed when it leaves PLACED), so the deadline sweeper queries the orders
 * placed before the deadline and reads nothing else. The placements are spread over a few
 * partition key values: one index partition takes at most 1,000 writes a second
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html).
 */
export const placedOrdersIndex = {
  indexName: 'placed-orders',
  partitionKey: 'placedShard',
  sortKey: 'placedAt',
  shards: 4,
} as const;

/** The index attributes of a PLACED order: its shard (from its id, so it never moves) and its placement time. */
export const placedOrderAttributes = (orderId: string, placedAt: string) => {
  let hash = 0;
  for (const char of orderId) hash = (hash * 31 + (char.codePointAt(0) ?? 0)) % placedOrdersIndex.shards;
  return { [placedOrdersIndex.partitionKey]: `PLACED#${hash}`, [placedOrdersIndex.sortKey]: placedAt };
};

/** Every partition key value of the placed-orders index. */
export const placedShards = (): string[] =>
  Array.from({ length: placedOrdersIndex.shards }, (_, shard) => `PLACED#${shard}`);
