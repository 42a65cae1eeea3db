import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { invalidOutboxItemReason, type OutboxItem, outboxItemSchema } from '../shared/outbox-event';
import { ordersTable } from '../shared/table-definition';

export interface PendingPage {
  readonly items: OutboxItem[];
  /** Index entries that are not valid outbox items: they can never be published as they are. */
  readonly malformed: Array<{
    readonly key?: { PK: string; SK: string };
    readonly reason: string;
    readonly image: Record<string, unknown>;
  }>;
  readonly nextKey?: Record<string, unknown>;
}

/**
 * The sparse pending index (delivery tracking): only unpublished outbox items carry the index
 * key, spread over `pendingShardCount` shards. Queried shard by shard, oldest first.
 */
export class PendingOutbox {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** One page of `shard`'s items that occurred before `before` (ISO-8601), oldest first. */
  async page(
    shard: string,
    before: string,
    limit: number,
    startKey?: Record<string, unknown>,
  ): Promise<PendingPage> {
    const { indexName, partitionKey, sortKey } = ordersTable.pendingIndex;
    const response = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: indexName,
        KeyConditionExpression: '#shard = :shard AND #occurredAt < :before',
        ExpressionAttributeNames: { '#shard': partitionKey, '#occurredAt': sortKey },
        ExpressionAttributeValues: { ':shard': shard, ':before': before },
        Limit: limit,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    const items: OutboxItem[] = [];
    const malformed: PendingPage['malformed'][number][] = [];
    for (const raw of response.Items ?? []) {
      const parsed = outboxItemSchema.safeParse(raw);
      if (parsed.success) {
        items.push(parsed.data);
        continue;
      }
      const { PK, SK } = raw;
      malformed.push({
        ...(typeof PK === 'string' && typeof SK === 'string' ? { key: { PK, SK } } : {}),
        reason: invalidOutboxItemReason(parsed.error),
        image: raw,
      });
    }
    return { items, malformed, ...(response.LastEvaluatedKey ? { nextKey: response.LastEvaluatedKey } : {}) };
  }
}
