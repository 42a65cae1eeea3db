import { type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { orderPartition, ordersOutboxLayout } from '../../lambdas/orders/table';
import { outboxKeyOf } from '../../lambdas/outbox/layout';

/** Every outbox item in a (small, test-sized) table, read consistently: what the bus must hold. */
export const scanOutboxItems = async (
  doc: DynamoDBDocumentClient,
  tableName: string,
): Promise<Record<string, unknown>[]> => {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: 'begins_with(SK, :outbox)',
        ExpressionAttributeValues: { ':outbox': ordersOutboxLayout.sortKeyPrefix },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
};

/** The key of an order's outbox item with `sequence`: beside the order, in its partition. */
export const orderOutboxKey = (orderId: string, sequence: number) =>
  outboxKeyOf(
    ordersOutboxLayout,
    { aggregateType: 'Order', aggregateId: orderId, sequence },
    orderPartition(orderId),
  );
