import { randomUUID } from 'node:crypto';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { mapWithConcurrency } from '../runtime/concurrency.js';
import {
  bucketOfPartition,
  expiresAtFor,
  type OutboxKey,
  type OutboxLayout,
  type SameTableLayout,
  type TimeOrderedLayout,
  tracksWithReceipts,
} from '../runtime/layout.js';

/** BatchGetItem takes at most 100 keys a request. */
const BATCH_GET_LIMIT = 100;
const BATCH_GET_RETRIES = 2;

export interface MarkFailure {
  readonly key: OutboxKey;
  readonly errorCode: string;
  readonly errorMessage: string;
}

export interface MarkResult {
  /** Items now marked. */
  readonly marked: number;
  /** Items already gone (expired or deleted): nothing left to mark, and nothing lost. */
  readonly missing: number;
  /**
   * Items still pending. Published ones: the reconciler publishes them again (a duplicate, never a
   * loss). Parked ones: the reconciler hits the same poison and parks them then (one more poison
   * message, never a loss).
   */
  readonly failed: MarkFailure[];
}

export interface SettledLookup {
  /** Keys whose item is marked published or parked: nothing left for the relay to do. */
  readonly settled: OutboxKey[];
  /** Keys that could not be read; the caller treats them as unsettled (a duplicate at worst). */
  readonly unread: number;
}

/**
 * Delivery tracking, the port the relay and the reconciler record outcomes through. Failures are
 * reported, never thrown: the events are out (or parked), and an item left pending only costs a
 * republish later.
 */
export interface DeliveryTracker {
  /** EventBridge accepted these: record them (a receipt, or a mark that takes them off the pending index and arms their TTL). */
  markPublished(keys: readonly OutboxKey[], now: Date): Promise<MarkResult>;
  /**
   * The poison queue holds these in full: record them (a receipt, or a mark off the pending index) so the reconciler does
   * not republish them, hit the same poison and send a second message. Their TTL stays unarmed:
   * the item is kept until a redrive publishes it.
   */
  markParked(keys: readonly OutboxKey[], now: Date): Promise<MarkResult>;
  /**
   * Which of these items are already marked published or parked. The relay asks before it
   * publishes records a previous invocation may have handled (a batch retried by Lambda), so that
   * EventBridge does not get them twice. Never throws: what cannot be read counts as unsettled.
   */
  settled(keys: readonly OutboxKey[]): Promise<SettledLookup>;
}

export interface DeliveryTrackerOptions<Layout extends OutboxLayout = OutboxLayout> {
  readonly tableName: string;
  readonly layout: Layout;
  /** Days a published item is kept before its TTL deletes it. */
  readonly retentionDays: number;
  /** UpdateItem requests in flight at once. @default 16 */
  readonly concurrency?: number;
}

/** Both trackers arm TTLs `retentionDays` ahead: a whole number of days, at least one. */
const checkRetentionDays = (retentionDays: number): void => {
  if (!Number.isInteger(retentionDays) || retentionDays < 1)
    throw new Error(`retentionDays must be a positive integer, got ${retentionDays}`);
};

/**
 * Delivery tracking on the outbox table: one conditional UpdateItem per item. The condition
 * (`attribute_exists` on the key) keeps an item that TTL already deleted from being re-created as
 * a stub.
 */
export class DynamoDbDeliveryTracker implements DeliveryTracker {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly options: DeliveryTrackerOptions<SameTableLayout>,
  ) {
    checkRetentionDays(options.retentionDays);
  }

  markPublished(keys: readonly OutboxKey[], now: Date): Promise<MarkResult> {
    const { layout, retentionDays } = this.options;
    return updateEach(this.doc, this.options, keys, {
      UpdateExpression: 'SET #publishedAt = :at, #expiresAt = :expiresAt REMOVE #pendingShard',
      ExpressionAttributeNames: {
        '#publishedAt': 'publishedAt',
        '#expiresAt': layout.timeToLiveAttribute,
        '#pendingShard': layout.pendingIndex.shardAttribute,
      },
      ExpressionAttributeValues: { ':at': now.toISOString(), ':expiresAt': expiresAtFor(now, retentionDays) },
    });
  }

  markParked(keys: readonly OutboxKey[], now: Date): Promise<MarkResult> {
    return updateEach(this.doc, this.options, keys, {
      UpdateExpression: 'SET #parkedAt = :at REMOVE #pendingShard',
      ExpressionAttributeNames: {
        '#parkedAt': 'parkedAt',
        '#pendingShard': this.options.layout.pendingIndex.shardAttribute,
      },
      ExpressionAttributeValues: { ':at': now.toISOString() },
    });
  }

  /** A parked event a redrive published: marked published as the relay marks it, which arms its TTL. */
  markRedriven(keys: readonly OutboxKey[], now: Date): Promise<MarkResult> {
    return this.markPublished(keys, now);
  }

  /**
   * BatchGetItem, 100 keys a request, projecting only the key and the two marks, eventually
   * consistent. Cost: read units are charged on the whole item's size, not on the projection
   * (rounded up to 4 KB; eventually consistent halves it), so an item up to 4 KB costs 0.5 RRU:
   * 50 RRU for a batch of 100. Unprocessed keys are asked for again, twice, then counted unread.
   */
  async settled(keys: readonly OutboxKey[]): Promise<SettledLookup> {
    const { tableName, layout } = this.options;
    const settled: OutboxKey[] = [];
    let unread = 0;
    for (let start = 0; start < keys.length; start += BATCH_GET_LIMIT) {
      let pending: Record<string, unknown>[] = keys
        .slice(start, start + BATCH_GET_LIMIT)
        .map((k) => ({ ...k }));
      for (let attempt = 0; pending.length > 0 && attempt <= BATCH_GET_RETRIES; attempt++) {
        try {
          const response = await this.doc.send(
            new BatchGetCommand({
              RequestItems: {
                [tableName]: {
                  Keys: pending,
                  ProjectionExpression: '#pk, #sk, #publishedAt, #parkedAt',
                  ExpressionAttributeNames: {
                    '#pk': layout.partitionKey,
                    '#sk': layout.sortKey,
                    '#publishedAt': 'publishedAt',
                    '#parkedAt': 'parkedAt',
                  },
                },
              },
            }),
          );
          for (const item of response.Responses?.[tableName] ?? []) {
            if (item.publishedAt === undefined && item.parkedAt === undefined) continue;
            settled.push({
              [layout.partitionKey]: String(item[layout.partitionKey]),
              [layout.sortKey]: String(item[layout.sortKey]),
            });
          }
          pending = response.UnprocessedKeys?.[tableName]?.Keys ?? [];
        } catch {
          break;
        }
      }
      unread += pending.length;
    }
    return { settled, unread };
  }
}

/**
 * One conditional UpdateItem per key, `concurrency` at a time: a failed condition means the item
 * is gone (`missing`), any other error is reported.
 */
const updateEach = async (
  doc: DynamoDBDocumentClient,
  options: DeliveryTrackerOptions,
  keys: readonly OutboxKey[],
  update: Pick<
    UpdateCommandInput,
    'UpdateExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
  >,
): Promise<MarkResult> => {
  const { tableName, layout } = options;
  const outcomes = await mapWithConcurrency(keys, options.concurrency ?? 16, async (key) => {
    try {
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { ...key },
          ...update,
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { ...update.ExpressionAttributeNames, '#pk': layout.partitionKey },
        }),
      );
      return 'marked' as const;
    } catch (error) {
      // By name: the document client may wrap a different copy of the DynamoDB client's classes.
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException')
        return 'missing' as const;
      return {
        key,
        errorCode: error instanceof Error ? error.name : 'UnknownError',
        errorMessage: error instanceof Error ? error.message : String(error),
      };
    }
  });
  let marked = 0;
  let missing = 0;
  const failed: MarkFailure[] = [];
  for (const outcome of outcomes) {
    if (outcome === 'marked') marked++;
    else if (outcome === 'missing') missing++;
    else failed.push(outcome);
  }
  return { marked, missing, failed };
};

/** Sort-key prefix of a receipt: `RECEIPT#<written at>#<uuid>`, so a minute's receipts sort by write time. */
const RECEIPT_SORT_PREFIX = 'RECEIPT#';

/** Minutes whose receipts a tracker remembers between lookups: a backlog drains minute by minute. */
const REMEMBERED_BUCKETS = 4;

/** How far before the newest receipt already read a later lookup reads again (writers' clocks differ). */
const RECEIPT_CLOCK_MARGIN_MS = 10_000;

interface RememberedReceipts {
  readonly published: Set<string>;
  readonly parked: Set<string>;
  /** Write time of the newest receipt read (ISO-8601). */
  newest?: string;
}

/** Partition of the receipts of the events written in `bucket` (a time-ordered table). */
export const receiptPartition = (bucket: string): string => `RECEIPT#${bucket}`;

/**
 * Sort keys a receipt lists at most: 1,000 keys of about 90 bytes stay far below DynamoDB's 400 KB
 * item limit (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html).
 */
export const KEYS_PER_RECEIPT = 1000;

/** What the receipts of one bucket say: sort keys of events published, and of events parked. */
export interface BucketReceipts {
  readonly published: ReadonlySet<string>;
  readonly parked: ReadonlySet<string>;
}

/**
 * Delivery tracking on a time-ordered outbox table (`time-ordered-table`): one receipt item per
 * relay invocation (per minute of the events it carried, usually one) listing the sort keys it
 * published or parked, instead of one write per event. A published item is never updated: its TTL
 * is armed at write time (a parked one has it removed until a redrive, `markParked`). The reconciler lists a minute's items by key and compares them with
 * the minute's receipts (`receiptsOf`). Receipts share the table, under `RECEIPT#<minute>`; their
 * sort keys do not start with the outbox prefix, so the stream filter drops them.
 */
export class ReceiptDeliveryTracker implements DeliveryTracker {
  /** Receipts read per minute, the most recently asked last (`rememberedReceiptsOf`). */
  private readonly remembered = new Map<string, RememberedReceipts>();

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly options: DeliveryTrackerOptions<TimeOrderedLayout>,
  ) {
    checkRetentionDays(options.retentionDays);
  }

  markPublished(keys: readonly OutboxKey[], now: Date): Promise<MarkResult> {
    return this.writeReceipts(keys, now, 'published');
  }

  /**
   * Keeps each parked item past its TTL first (REMOVE the TTL attribute: the poison queue may hold
   * its message longer than the retention, and a message too large for SQS points to the item),
   * then lists the kept and the already deleted ones in a `parked` receipt. A key whose item could
   * not be kept is reported failed and left out of the receipt, so the reconciler parks it again.
   */
  async markParked(keys: readonly OutboxKey[], now: Date): Promise<MarkResult> {
    const kept = await updateEach(this.doc, this.options, keys, {
      UpdateExpression: 'REMOVE #expiresAt',
      ExpressionAttributeNames: { '#expiresAt': this.options.layout.timeToLiveAttribute },
    });
    const failed = new Set(kept.failed.map((f) => f.key));
    const receipts = await this.writeReceipts(
      keys.filter((key) => !failed.has(key)),
      now,
      'parked',
    );
    // Recorded: listed in the receipt with the item kept; missing: listed, the item already gone.
    return {
      marked: receipts.marked - kept.missing,
      missing: kept.missing,
      failed: [...kept.failed, ...receipts.failed],
    };
  }

  /**
   * A parked event a redrive published: a `published` receipt, and its item handed back to TTL,
   * `retentionDays` from now (`markParked` kept it).
   */
  async markRedriven(keys: readonly OutboxKey[], now: Date): Promise<MarkResult> {
    const receipts = await this.writeReceipts(keys, now, 'published');
    const released = await updateEach(this.doc, this.options, keys, {
      UpdateExpression: 'SET #expiresAt = :expiresAt',
      ExpressionAttributeNames: { '#expiresAt': this.options.layout.timeToLiveAttribute },
      ExpressionAttributeValues: { ':expiresAt': expiresAtFor(now, this.options.retentionDays) },
    });
    return { ...receipts, failed: [...receipts.failed, ...released.failed] };
  }

  /** Which of `keys` a receipt lists as published. One Query per minute they were written in. */
  async published(keys: readonly OutboxKey[]): Promise<OutboxKey[]> {
    const { settled, receipts } = await this.lookUp(keys);
    return settled.filter((key) => receipts.get(this.bucketOf(key))?.published.has(this.sortOf(key)));
  }

  /** Which of `keys` a receipt lists as published or parked; a minute that cannot be read counts as unsettled. */
  async settled(keys: readonly OutboxKey[]): Promise<SettledLookup> {
    const { settled, unread } = await this.lookUp(keys);
    return { settled, unread };
  }

  private bucketOf(key: OutboxKey): string {
    return bucketOfPartition(key[this.options.layout.partitionKey] ?? '');
  }

  private sortOf(key: OutboxKey): string {
    return key[this.options.layout.sortKey] ?? '';
  }

  private async lookUp(
    keys: readonly OutboxKey[],
  ): Promise<{ settled: OutboxKey[]; unread: number; receipts: Map<string, BucketReceipts> }> {
    const receipts = new Map<string, BucketReceipts>();
    for (const bucket of new Set(keys.map((key) => this.bucketOf(key)))) {
      try {
        receipts.set(bucket, await this.rememberedReceiptsOf(bucket));
      } catch {
        // Unread: its keys count as unsettled (a duplicate at worst, never a loss).
      }
    }
    const settled = keys.filter((key) => {
      const bucket = receipts.get(this.bucketOf(key));
      return (
        bucket !== undefined &&
        (bucket.published.has(this.sortOf(key)) || bucket.parked.has(this.sortOf(key)))
      );
    });
    const unread = keys.filter((key) => !receipts.has(this.bucketOf(key))).length;
    return { settled, unread, receipts };
  }

  /** Every receipt of `bucket`, merged. Eventually consistent: a receipt missed costs a duplicate, never a loss. */
  async receiptsOf(bucket: string): Promise<BucketReceipts> {
    return this.readReceipts(bucket);
  }

  /**
   * The receipts of `bucket` as this tracker last read them, plus those written since: a relay
   * draining a backlog asks about the same minute batch after batch, and reading all of its
   * receipts each time would cost reads that grow with the minute's events. Receipts written up
   * to RECEIPT_CLOCK_MARGIN_MS before the newest one read are read again, since writers' clocks
   * differ a little; one older still is missed, which costs a duplicate, never a loss.
   */
  private async rememberedReceiptsOf(bucket: string): Promise<BucketReceipts> {
    const known = this.remembered.get(bucket);
    const since =
      known?.newest === undefined
        ? undefined
        : new Date(Date.parse(known.newest) - RECEIPT_CLOCK_MARGIN_MS).toISOString();
    const read = await this.readReceipts(bucket, since);
    const merged: RememberedReceipts = known ?? { published: new Set(), parked: new Set() };
    for (const key of read.published) merged.published.add(key);
    for (const key of read.parked) merged.parked.add(key);
    if (read.newest !== undefined && (merged.newest === undefined || read.newest > merged.newest))
      merged.newest = read.newest;
    this.remembered.delete(bucket);
    this.remembered.set(bucket, merged);
    for (const oldest of this.remembered.keys()) {
      if (this.remembered.size <= REMEMBERED_BUCKETS) break;
      this.remembered.delete(oldest);
    }
    return merged;
  }

  /** The receipts of `bucket` written after `since` (ISO-8601), or all of them. */
  private async readReceipts(bucket: string, since?: string): Promise<RememberedReceipts> {
    const { tableName, layout } = this.options;
    const published = new Set<string>();
    const parked = new Set<string>();
    let newest: string | undefined;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: since === undefined ? '#pk = :pk' : '#pk = :pk AND #sk > :since',
          ExpressionAttributeNames: {
            '#pk': layout.partitionKey,
            ...(since === undefined ? {} : { '#sk': layout.sortKey }),
          },
          ExpressionAttributeValues: {
            ':pk': receiptPartition(bucket),
            ...(since === undefined ? {} : { ':since': `${RECEIPT_SORT_PREFIX}${since}` }),
          },
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const receipt of page.Items ?? []) {
        for (const key of (receipt.published as Set<string> | undefined) ?? []) published.add(key);
        for (const key of (receipt.parked as Set<string> | undefined) ?? []) parked.add(key);
        const writtenAt = String(receipt[layout.sortKey] ?? '').split('#')[1];
        if (writtenAt !== undefined && (newest === undefined || writtenAt > newest)) newest = writtenAt;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return { published, parked, ...(newest === undefined ? {} : { newest }) };
  }

  /** One PutItem per minute of the events (and per KEYS_PER_RECEIPT keys); a failed Put fails its keys. */
  private async writeReceipts(
    keys: readonly OutboxKey[],
    now: Date,
    outcome: 'published' | 'parked',
  ): Promise<MarkResult> {
    const { tableName, layout, retentionDays } = this.options;
    const byBucket = new Map<string, OutboxKey[]>();
    for (const key of keys) {
      const bucket = bucketOfPartition(key[layout.partitionKey] ?? '');
      byBucket.set(bucket, [...(byBucket.get(bucket) ?? []), key]);
    }
    const receipts: Array<{ bucket: string; keys: OutboxKey[] }> = [];
    for (const [bucket, inBucket] of byBucket)
      for (let i = 0; i < inBucket.length; i += KEYS_PER_RECEIPT)
        receipts.push({ bucket, keys: inBucket.slice(i, i + KEYS_PER_RECEIPT) });
    const outcomes = await mapWithConcurrency(receipts, this.options.concurrency ?? 16, async (receipt) => {
      try {
        await this.doc.send(
          new PutCommand({
            TableName: tableName,
            Item: {
              [layout.partitionKey]: receiptPartition(receipt.bucket),
              [layout.sortKey]: `${RECEIPT_SORT_PREFIX}${now.toISOString()}#${randomUUID()}`,
              [outcome]: new Set(receipt.keys.map((key) => key[layout.sortKey] ?? '')),
              [layout.timeToLiveAttribute]: expiresAtFor(now, retentionDays),
            },
          }),
        );
        return { ok: true as const, keys: receipt.keys };
      } catch (error) {
        return {
          ok: false as const,
          failed: receipt.keys.map((key) => ({
            key,
            errorCode: error instanceof Error ? error.name : 'UnknownError',
            errorMessage: error instanceof Error ? error.message : String(error),
          })),
        };
      }
    });
    return {
      marked: outcomes.reduce((sum, o) => sum + (o.ok ? o.keys.length : 0), 0),
      missing: 0,
      failed: outcomes.flatMap((o) => (o.ok ? [] : o.failed)),
    };
  }
}

/** Receipts per invocation on a time-ordered table; a mark per item on a pending index otherwise. */
export const deliveryTrackerFor = (
  doc: DynamoDBDocumentClient,
  options: DeliveryTrackerOptions,
): DynamoDbDeliveryTracker | ReceiptDeliveryTracker => {
  const { layout } = options;
  return tracksWithReceipts(layout)
    ? new ReceiptDeliveryTracker(doc, { ...options, layout })
    : new DynamoDbDeliveryTracker(doc, { ...options, layout });
};
