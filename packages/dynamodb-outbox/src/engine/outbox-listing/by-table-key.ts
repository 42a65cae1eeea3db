import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { TimeOrderedLayout } from '../../runtime/layout.js';
import type { ItemsByTime, ItemsPage } from './items-by-time.js';

/**
 * A time-ordered table lists itself: its partition key is `<minute>#<shard>` and its sort key
 * `<prefix><writtenAt>#…`, so a minute is one Query per partition, with no index.
 */
export const byTableKey = (
  doc: DynamoDBDocumentClient,
  tableName: string,
  layout: TimeOrderedLayout,
): ItemsByTime => ({
  async page(partition, before, limit, startKey): Promise<ItemsPage> {
    const response = await doc.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :first AND :before',
        ExpressionAttributeNames: { '#pk': layout.partitionKey, '#sk': layout.sortKey },
        ExpressionAttributeValues: {
          ':pk': partition,
          ':first': layout.sortKeyPrefix,
          // Everything written before `before` sorts below this.
          ':before': `${layout.sortKeyPrefix}${before}`,
        },
        Limit: limit,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    return {
      items: response.Items ?? [],
      ...(response.LastEvaluatedKey ? { nextKey: response.LastEvaluatedKey } : {}),
    };
  },
});
