import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { SameTableLayout } from '../../runtime/layout.js';
import type { ItemsByTime, ItemsPage } from './items-by-time.js';

/**
 * A same table lists its outbox items through the sparse time index every outbox item has an
 * entry in (`timeIndexEntryOf`): partition `<minute>#<shard>`, sorted by write time. The index
 * projects the whole item (the reconciler republishes from it). A GSI read is eventually
 * consistent (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.Reading):
 * the reconciler reads minutes well past its threshold, long after an entry is propagated.
 */
export const byTimeIndex = (
  doc: DynamoDBDocumentClient,
  tableName: string,
  layout: SameTableLayout,
): ItemsByTime => ({
  async page(partition, before, limit, startKey): Promise<ItemsPage> {
    const { indexName, partitionKey, sortKey } = layout.timeIndex;
    const response = await doc.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: indexName,
        KeyConditionExpression: '#minute = :minute AND #writtenAt < :before',
        ExpressionAttributeNames: { '#minute': partitionKey, '#writtenAt': sortKey },
        ExpressionAttributeValues: { ':minute': partition, ':before': before },
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
