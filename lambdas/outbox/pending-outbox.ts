import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { type OutboxKey, type OutboxLayout, PENDING_INDEX_SORT_KEY, pendingShards } from './layout';
import { type OutboxRecord, parseOutboxItem } from './outbox-item';

export interface PendingPage {
  readonly records: OutboxRecord[];
  /** Index entries that are not valid outbox items: they can never be published as they are. */
  readonly malformed: Array<{
    readonly key?: OutboxKey;
    readonly reason: string;
    readonly item: Record<string, unknown>;
  }>;
  readonly nextKey?: Record<string, unknown>;
}

/**
 * The sparse pending index (delivery tracking): only unpublished outbox items carry the index
 * key, spread over the layout's shards. Queried shard by shard, oldest first.
 */
export class PendingOutbox {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    readonly layout: OutboxLayout,
  ) {}

  shards(): string[] {
    return pendingShards(this.layout);
  }

  /** One page of `shard`'s items that occurred before `before` (ISO-8601), oldest first. */
  async page(
    shard: string,
    before: string,
    limit: number,
    startKey?: Record<string, unknown>,
  ): Promise<PendingPage> {
    const { indexName, shardAttribute } = this.layout.pendingIndex;
    const response = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: indexName,
        KeyConditionExpression: '#shard = :shard AND #occurredAt < :before',
        ExpressionAttributeNames: { '#shard': shardAttribute, '#occurredAt': PENDING_INDEX_SORT_KEY },
        ExpressionAttributeValues: { ':shard': shard, ':before': before },
        Limit: limit,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    const records: OutboxRecord[] = [];
    const malformed: PendingPage['malformed'][number][] = [];
    for (const item of response.Items ?? []) {
      const parsed = parseOutboxItem(this.layout, item);
      if (parsed.ok) records.push(parsed.record);
      else malformed.push({ ...(parsed.key ? { key: parsed.key } : {}), reason: parsed.reason, item });
    }
    return {
      records,
      malformed,
      ...(response.LastEvaluatedKey ? { nextKey: response.LastEvaluatedKey } : {}),
    };
  }
}
