import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ordersOutboxLayout, placedOrdersIndex } from '../../lambdas/orders/table';
import { createTableAndWait, outboxTableInput } from '../../packages/dynamodb-outbox/src/local/dynamodb';

/**
 * A fresh orders table as the stack deploys it: the same-table outbox (its stream and pending
 * index) and the sparse placed-orders index the deadline sweeper reads.
 */
export const createOrdersTable = async (client: DynamoDBClient): Promise<string> => {
  const tableName = `orders-${randomUUID().slice(0, 8)}`;
  const input = outboxTableInput(tableName, ordersOutboxLayout);
  await createTableAndWait(client, {
    ...input,
    AttributeDefinitions: [
      ...(input.AttributeDefinitions ?? []),
      { AttributeName: placedOrdersIndex.partitionKey, AttributeType: 'S' },
      { AttributeName: placedOrdersIndex.sortKey, AttributeType: 'S' },
    ],
    GlobalSecondaryIndexes: [
      ...(input.GlobalSecondaryIndexes ?? []),
      {
        IndexName: placedOrdersIndex.indexName,
        KeySchema: [
          { AttributeName: placedOrdersIndex.partitionKey, KeyType: 'HASH' },
          { AttributeName: placedOrdersIndex.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ],
  });
  return tableName;
};
