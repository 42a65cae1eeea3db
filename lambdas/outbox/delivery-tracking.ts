import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { OutboxItem } from '../shared/outbox-event';
import { ordersTable } from '../shared/table-definition';
import { mapWithConcurrency } from './concurrency';

const SECONDS_PER_DAY = 24 * 60 * 60;

export interface MarkPublishedFailure {
  readonly item: OutboxItem;
  readonly errorCode: string;
  readonly errorMessage: string;
}

export interface MarkPublishedResult {
  /** Items now carrying publishedAt and an armed TTL. */
  readonly marked: number;
  /** Items already gone (expired or deleted): nothing left to mark, and nothing lost. */
  readonly missing: number;
  /** Items still pending: the reconciler will publish them again (a duplicate, never a loss). */
  readonly failed: MarkPublishedFailure[];
}

export interface MarkPublishedOptions {
  /** UpdateItem requests in flight at once. @default 16 */
  readonly concurrency?: number;
}

/** TTL (epoch seconds) of an item published at `now`, kept `retentionDays` for inspection and replay. */
export const expiresAtFor = (now: Date, retentionDays: number): number =>
  Math.floor(now.getTime() / 1000) + retentionDays * SECONDS_PER_DAY;

/**
 * Delivery tracking: after EventBridge accepted the events, record it on their outbox items and
 * only then arm their TTL, removing them from the sparse pending index. The condition keeps an
 * item that TTL already deleted from being re-created as a stub. Failures are reported, not
 * thrown: the events are out, and an item left pending only costs a republish later.
 */
export const markPublished = async (
  doc: DynamoDBDocumentClient,
  tableName: string,
  items: readonly OutboxItem[],
  now: Date,
  retentionDays: number,
  options: MarkPublishedOptions = {},
): Promise<MarkPublishedResult> => {
  if (!Number.isInteger(retentionDays) || retentionDays < 1)
    throw new Error(`retentionDays must be a positive integer, got ${retentionDays}`);
  const publishedAt = now.toISOString();
  const expiresAt = expiresAtFor(now, retentionDays);
  const { partitionKey, sortKey, timeToLiveAttribute, pendingIndex } = ordersTable;
  const outcomes = await mapWithConcurrency(items, options.concurrency ?? 16, async (item) => {
    try {
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { [partitionKey]: item.PK, [sortKey]: item.SK },
          UpdateExpression: 'SET #publishedAt = :publishedAt, #expiresAt = :expiresAt REMOVE #pendingShard',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: {
            '#pk': partitionKey,
            '#publishedAt': 'publishedAt',
            '#expiresAt': timeToLiveAttribute,
            '#pendingShard': pendingIndex.partitionKey,
          },
          ExpressionAttributeValues: { ':publishedAt': publishedAt, ':expiresAt': expiresAt },
        }),
      );
      return 'marked' as const;
    } catch (error) {
      // By name: the document client may wrap a different copy of the DynamoDB client's classes.
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException')
        return 'missing' as const;
      return {
        item,
        errorCode: error instanceof Error ? error.name : 'UnknownError',
        errorMessage: error instanceof Error ? error.message : String(error),
      };
    }
  });
  let marked = 0;
  let missing = 0;
  const failed: MarkPublishedFailure[] = [];
  for (const outcome of outcomes) {
    if (outcome === 'marked') marked++;
    else if (outcome === 'missing') missing++;
    else failed.push(outcome);
  }
  return { marked, missing, failed };
};
