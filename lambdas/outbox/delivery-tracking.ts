import { type DynamoDBDocumentClient, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import type { OutboxItem } from '../shared/outbox-event';
import { ordersTable } from '../shared/table-definition';
import { mapWithConcurrency } from './concurrency';

const SECONDS_PER_DAY = 24 * 60 * 60;
const DEFAULT_CONCURRENCY = 16;

export interface OutboxKey {
  readonly PK: string;
  readonly SK: string;
}

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

export interface MarkParkedFailure {
  readonly key: OutboxKey;
  readonly errorCode: string;
  readonly errorMessage: string;
}

export interface MarkParkedResult {
  /** Items now carrying parkedAt and off the pending index. */
  readonly marked: number;
  /** Items already gone: nothing left to park. */
  readonly missing: number;
  /**
   * Items still pending: the reconciler will find them, hit the same poison and park them then
   * (one more message on the poison queue, never a loss).
   */
  readonly failed: MarkParkedFailure[];
}

export interface MarkOptions {
  /** UpdateItem requests in flight at once. @default 16 */
  readonly concurrency?: number;
}

/** TTL (epoch seconds) of an item published at `now`, kept `retentionDays` for inspection and replay. */
export const expiresAtFor = (now: Date, retentionDays: number): number =>
  Math.floor(now.getTime() / 1000) + retentionDays * SECONDS_PER_DAY;

interface UpdateFailure<T> {
  readonly target: T;
  readonly errorCode: string;
  readonly errorMessage: string;
}

/**
 * One conditional UpdateItem per target, at most `concurrency` in flight. A failed condition
 * (`attribute_exists` on the key) means the item is gone; any other error is reported per target,
 * never thrown, so one throttled update cannot undo the work of the others.
 */
const updateEach = async <T>(
  doc: DynamoDBDocumentClient,
  targets: readonly T[],
  concurrency: number,
  update: (target: T) => UpdateCommandInput,
): Promise<{ marked: number; missing: number; failed: UpdateFailure<T>[] }> => {
  const outcomes = await mapWithConcurrency(targets, concurrency, async (target) => {
    try {
      await doc.send(new UpdateCommand(update(target)));
      return 'marked' as const;
    } catch (error) {
      // By name: the document client may wrap a different copy of the DynamoDB client's classes.
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException')
        return 'missing' as const;
      return {
        target,
        errorCode: error instanceof Error ? error.name : 'UnknownError',
        errorMessage: error instanceof Error ? error.message : String(error),
      };
    }
  });
  let marked = 0;
  let missing = 0;
  const failed: UpdateFailure<T>[] = [];
  for (const outcome of outcomes) {
    if (outcome === 'marked') marked++;
    else if (outcome === 'missing') missing++;
    else failed.push(outcome);
  }
  return { marked, missing, failed };
};

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
  options: MarkOptions = {},
): Promise<MarkPublishedResult> => {
  if (!Number.isInteger(retentionDays) || retentionDays < 1)
    throw new Error(`retentionDays must be a positive integer, got ${retentionDays}`);
  const publishedAt = now.toISOString();
  const expiresAt = expiresAtFor(now, retentionDays);
  const { partitionKey, sortKey, timeToLiveAttribute, pendingIndex } = ordersTable;
  const { marked, missing, failed } = await updateEach(
    doc,
    items,
    options.concurrency ?? DEFAULT_CONCURRENCY,
    (item) => ({
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
  return { marked, missing, failed: failed.map(({ target, ...rest }) => ({ item: target, ...rest })) };
};

/**
 * Delivery tracking for an item that can never be published as it is: once its content is safe on
 * the poison queue, take it off the pending index so the reconciler does not republish it, hit
 * the same poison and send a second message for the same event. Its TTL stays unarmed: the item
 * is kept until a redrive publishes it (and marks it published). Call it only for items the
 * poison queue accepted; failures are reported, not thrown.
 */
export const markParked = async (
  doc: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly OutboxKey[],
  now: Date,
  options: MarkOptions = {},
): Promise<MarkParkedResult> => {
  const parkedAt = now.toISOString();
  const { partitionKey, sortKey, pendingIndex } = ordersTable;
  const { marked, missing, failed } = await updateEach(
    doc,
    keys,
    options.concurrency ?? DEFAULT_CONCURRENCY,
    (key) => ({
      TableName: tableName,
      Key: { [partitionKey]: key.PK, [sortKey]: key.SK },
      UpdateExpression: 'SET #parkedAt = :parkedAt REMOVE #pendingShard',
      ConditionExpression: 'attribute_exists(#pk)',
      ExpressionAttributeNames: {
        '#pk': partitionKey,
        '#parkedAt': 'parkedAt',
        '#pendingShard': pendingIndex.partitionKey,
      },
      ExpressionAttributeValues: { ':parkedAt': parkedAt },
    }),
  );
  return { marked, missing, failed: failed.map(({ target, ...rest }) => ({ key: target, ...rest })) };
};
