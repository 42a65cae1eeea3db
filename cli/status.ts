import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { PENDING_INDEX_SORT_KEY, pendingShards, type SameTableLayout } from '../lambdas/outbox/layout';
import type { OutboxTarget } from './target';

export interface QueueDepth {
  readonly name: string;
  readonly url: string;
  /** Messages waiting (ApproximateNumberOfMessages). */
  readonly messages?: number;
  /** Received and not yet deleted (ApproximateNumberOfMessagesNotVisible). */
  readonly inFlight?: number;
  readonly error?: string;
}

export interface OutboxStatus {
  readonly target: string;
  readonly table: string;
  /** Outbox items not yet published (delivery tracking's sparse index). */
  readonly pending: number;
  readonly oldestPendingOccurredAt?: string;
  readonly oldestPendingAgeSeconds?: number;
  readonly queues: readonly QueueDepth[];
  readonly notes: readonly string[];
}

const sortKey = PENDING_INDEX_SORT_KEY;

type PendingIndexTarget = OutboxTarget & { readonly layout: SameTableLayout };

const shardQuery = (target: PendingIndexTarget, shard: string) => ({
  TableName: target.tableName,
  IndexName: target.layout.pendingIndex.indexName,
  KeyConditionExpression: '#shard = :shard',
  ExpressionAttributeNames: { '#shard': target.layout.pendingIndex.shardAttribute },
  ExpressionAttributeValues: { ':shard': shard },
});

/** Count one shard of the pending index, page by page (a COUNT query still pages at 1 MB). */
const countShard = async (target: PendingIndexTarget, shard: string): Promise<number> => {
  let count = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await target.doc.send(
      new QueryCommand({
        ...shardQuery(target, shard),
        Select: 'COUNT',
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    count += page.Count ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return count;
};

/** The shard's oldest pending item: the index sorts by occurredAt. */
const oldestInShard = async (target: PendingIndexTarget, shard: string): Promise<string | undefined> => {
  const { ExpressionAttributeNames, ...query } = shardQuery(target, shard);
  const { Items = [] } = await target.doc.send(
    new QueryCommand({
      ...query,
      ExpressionAttributeNames: { ...ExpressionAttributeNames, '#occurredAt': sortKey },
      ProjectionExpression: '#occurredAt',
      ScanIndexForward: true,
      Limit: 1,
    }),
  );
  const value = Items[0]?.[sortKey];
  return typeof value === 'string' ? value : undefined;
};

const queueDepth = async (target: OutboxTarget, name: string, url: string): Promise<QueueDepth> => {
  try {
    const { Attributes = {} } = await target.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return {
      name,
      url,
      messages: Number(Attributes.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
  } catch (error) {
    // One unreadable queue must not hide the others.
    return { name, url, error: error instanceof Error ? error.message || error.name : String(error) };
  }
};

export const outboxStatus = async (target: OutboxTarget, now: Date = new Date()): Promise<OutboxStatus> => {
  const { layout } = target;
  if (layout.kind !== 'same-table')
    throw new Error(`outbox status reads a pending index; ${target.tableName} is a ${layout.kind}`);
  const indexed: PendingIndexTarget = { ...target, layout };
  const shards = pendingShards(layout);
  const [counts, oldest, queues] = await Promise.all([
    Promise.all(shards.map((shard) => countShard(indexed, shard))),
    Promise.all(shards.map((shard) => oldestInShard(indexed, shard))),
    Promise.all(target.queues.map((q) => queueDepth(target, q.name, q.url))),
  ]);
  const oldestOccurredAt = oldest.filter((o): o is string => o !== undefined).sort()[0];
  return {
    target: target.description,
    table: target.tableName,
    pending: counts.reduce((a, b) => a + b, 0),
    ...(oldestOccurredAt === undefined
      ? {}
      : {
          oldestPendingOccurredAt: oldestOccurredAt,
          oldestPendingAgeSeconds: Math.max(
            0,
            Math.round((now.getTime() - Date.parse(oldestOccurredAt)) / 1000),
          ),
        }),
    queues,
    notes: target.notes,
  };
};

const age = (seconds: number): string => {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
};

export const formatStatus = (status: OutboxStatus): string => {
  const width = Math.max(24, ...status.queues.map((q) => q.name.length + 2));
  const lines = [
    `Outbox status: ${status.target}`,
    `  table                 ${status.table}`,
    `  pending events        ${status.pending}`,
    `  oldest pending        ${
      status.oldestPendingAgeSeconds === undefined
        ? '-'
        : `${age(status.oldestPendingAgeSeconds)} (occurred ${status.oldestPendingOccurredAt})`
    }`,
    '',
    `${'Queues'.padEnd(width)}messages  in flight`,
  ];
  if (status.queues.length === 0) lines.push('  (none found)');
  for (const q of status.queues) {
    const name = `  ${q.name}`.padEnd(width);
    lines.push(
      q.error === undefined
        ? `${name}${String(q.messages).padEnd(10)}${q.inFlight}`
        : `${name}unreadable: ${q.error}`,
    );
  }
  for (const note of status.notes) lines.push('', `Note: ${note}`);
  return lines.join('\n');
};
