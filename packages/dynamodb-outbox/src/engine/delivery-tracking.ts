import { randomUUID } from 'node:crypto';
import {
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { mapWithConcurrency } from '../runtime/concurrency.js';
import {
  expiresAtFor,
  type OutboxKey,
  type OutboxLayout,
  receiptNameOf,
  writtenMinuteOf,
} from '../runtime/layout.js';
import type { PoisonRecord } from './poison-queue.js';

export interface MarkFailure {
  readonly key: OutboxKey;
  readonly errorCode: string;
  readonly errorMessage: string;
}

export interface MarkResult {
  /** Items now recorded. */
  readonly marked: number;
  /** Items already gone (expired or deleted): nothing left to keep, and nothing lost. */
  readonly missing: number;
  /**
   * Items no receipt lists. Published ones: the reconciler publishes them again (a duplicate, never
   * a loss). Parked ones: the reconciler hits the same poison and parks them then (one more poison
   * message, never a loss).
   */
  readonly failed: MarkFailure[];
}

export interface SettledLookup {
  /** Keys a receipt lists as published or parked: nothing left for the relay to do. */
  readonly settled: OutboxKey[];
  /** Keys that could not be read; the caller treats them as unsettled (a duplicate at worst). */
  readonly unread: number;
}

/**
 * An outbox item as delivery tracking names it: its key, and the item as stored, which on a same
 * table holds the minute it was written in (its time index entry), where its receipt goes.
 */
export interface TrackedItem {
  readonly key: OutboxKey;
  readonly item?: Readonly<Record<string, unknown>>;
}

/** A parked record as tracking names it: its key, and its item as read or as the stream carried it. */
export const trackedOfPoison = (record: PoisonRecord): TrackedItem[] =>
  record.key === undefined ? [] : [{ key: record.key, item: record.item ?? plainStrings(record.image) }];

/** The string attributes of a stream image (DynamoDB JSON): enough to find an item's minute. */
const plainStrings = (image: Record<string, unknown> | undefined): Record<string, string> | undefined =>
  image === undefined
    ? undefined
    : Object.fromEntries(
        Object.entries(image).flatMap(([name, value]) => {
          const text = (value as { S?: unknown } | undefined)?.S;
          return typeof text === 'string' ? [[name, text]] : [];
        }),
      );

/**
 * Delivery tracking, the port the relay and the reconciler record outcomes through. Failures are
 * reported, never thrown: the events are out (or parked), and an item left unrecorded only costs a
 * republish later.
 */
export interface DeliveryTracker {
  /** EventBridge accepted these: a receipt lists them. */
  markPublished(items: readonly TrackedItem[], now: Date): Promise<MarkResult>;
  /**
   * The poison queue holds these in full: a receipt lists them as parked, so the reconciler does
   * not republish them, hit the same poison and send a second message. Their TTL is removed: the
   * item is kept until a redrive publishes it.
   */
  markParked(items: readonly TrackedItem[], now: Date): Promise<MarkResult>;
  /**
   * Which of these items a receipt lists as published or parked. The relay asks before it
   * publishes records a previous invocation may have handled (a batch retried by Lambda), so that
   * EventBridge does not get them twice. Never throws: what cannot be read counts as unsettled.
   */
  settled(items: readonly TrackedItem[]): Promise<SettledLookup>;
}

export interface DeliveryReceiptsOptions {
  readonly tableName: string;
  readonly layout: OutboxLayout;
  /** Days a receipt (and a redriven item) is kept before its TTL deletes it. */
  readonly retentionDays: number;
  /** Writes in flight at once. @default 16 */
  readonly concurrency?: number;
}

/**
 * One conditional UpdateItem per key, `concurrency` at a time: a failed condition means the item
 * is gone (`missing`), any other error is reported. The condition (`attribute_exists` on the key)
 * keeps an item that TTL already deleted from being re-created as a stub.
 */
const updateEach = async (
  doc: DynamoDBDocumentClient,
  options: DeliveryReceiptsOptions,
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

/**
 * Partition of the receipts of the events written in `bucket`, on the outbox's table. Its sort keys
 * start with `RECEIPT#`, not the outbox prefix, so the stream filter never passes a receipt.
 */
export const receiptPartition = (bucket: string): string => `RECEIPT#${bucket}`;

/**
 * Items a receipt names at most: 1,000 names of about 90 bytes stay far below DynamoDB's 400 KB
 * item limit (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html).
 */
export const KEYS_PER_RECEIPT = 1000;

/** What the receipts of one bucket say: names (`receiptNameOf`) of events published, and of events parked. */
export interface BucketReceipts {
  readonly published: ReadonlySet<string>;
  readonly parked: ReadonlySet<string>;
}

/**
 * Delivery tracking, for both layouts: one receipt item per relay invocation (per minute of the
 * events it carried, usually one) naming the items it published or parked, instead of one write
 * per event. A published item is never updated: its TTL is armed at write time (a parked one has
 * it removed until a redrive, `markParked`). The reconciler lists a minute's items by time (a
 * time-ordered table's key, a same table's time index) and compares them with the minute's
 * receipts (`receiptsOf`). Receipts share the table, under `RECEIPT#<minute>`.
 */
export class DeliveryReceipts implements DeliveryTracker {
  /** Receipts read per minute, the most recently asked last (`rememberedReceiptsOf`). */
  private readonly remembered = new Map<string, RememberedReceipts>();

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly options: DeliveryReceiptsOptions,
  ) {
    // Receipts and redriven items expire `retentionDays` ahead: a whole number of days, at least one.
    if (!Number.isInteger(options.retentionDays) || options.retentionDays < 1)
      throw new Error(`retentionDays must be a positive integer, got ${options.retentionDays}`);
  }

  markPublished(items: readonly TrackedItem[], now: Date): Promise<MarkResult> {
    return this.writeReceipts(items, now, 'published');
  }

  /**
   * Keeps each parked item past its TTL first (REMOVE the TTL attribute: the poison queue may hold
   * its message longer than the retention, and a message too large for SQS points to the item),
   * then lists the kept and the already deleted ones in a `parked` receipt. A key whose item could
   * not be kept is reported failed and left out of the receipt, so the reconciler parks it again.
   */
  async markParked(items: readonly TrackedItem[], now: Date): Promise<MarkResult> {
    const kept = await updateEach(
      this.doc,
      this.options,
      items.map((i) => i.key),
      {
        UpdateExpression: 'REMOVE #expiresAt',
        ExpressionAttributeNames: { '#expiresAt': this.options.layout.timeToLiveAttribute },
      },
    );
    const failed = new Set(kept.failed.map((f) => f.key));
    const receipts = await this.writeReceipts(
      items.filter((i) => !failed.has(i.key)),
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
  async markRedriven(items: readonly TrackedItem[], now: Date): Promise<MarkResult> {
    const receipts = await this.writeReceipts(items, now, 'published');
    const released = await updateEach(
      this.doc,
      this.options,
      items.map((i) => i.key),
      {
        UpdateExpression: 'SET #expiresAt = :expiresAt',
        ExpressionAttributeNames: { '#expiresAt': this.options.layout.timeToLiveAttribute },
        ExpressionAttributeValues: { ':expiresAt': expiresAtFor(now, this.options.retentionDays) },
      },
    );
    return { ...receipts, failed: [...receipts.failed, ...released.failed] };
  }

  /** Which of `items` a receipt lists as published or parked; a minute that cannot be read counts as unsettled. One Query per minute. */
  async settled(items: readonly TrackedItem[]): Promise<SettledLookup> {
    const { layout } = this.options;
    const receipts = new Map<string, BucketReceipts>();
    for (const bucket of new Set(items.map((i) => this.minuteOf(i)))) {
      if (bucket === undefined) continue;
      try {
        receipts.set(bucket, await this.rememberedReceiptsOf(bucket));
      } catch {
        // Unread: its keys count as unsettled (a duplicate at worst, never a loss).
      }
    }
    const settled: OutboxKey[] = [];
    let unread = 0;
    for (const item of items) {
      const bucket = receipts.get(this.minuteOf(item) ?? '');
      const name = receiptNameOf(layout, item.key);
      if (bucket === undefined) unread++;
      else if (bucket.published.has(name) || bucket.parked.has(name)) settled.push(item.key);
    }
    return { settled, unread };
  }

  /** Which of `items` a receipt names as published (parked ones left out). One Query per minute. */
  async published(items: readonly TrackedItem[]): Promise<OutboxKey[]> {
    const published: OutboxKey[] = [];
    for (const item of items) {
      const bucket = this.minuteOf(item);
      if (bucket === undefined) continue;
      const receipts = await this.rememberedReceiptsOf(bucket);
      if (receipts.published.has(receiptNameOf(this.options.layout, item.key))) published.push(item.key);
    }
    return published;
  }

  private minuteOf(item: TrackedItem): string | undefined {
    return writtenMinuteOf(this.options.layout, item.key, item.item);
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

  /**
   * One PutItem per minute of the events (and per KEYS_PER_RECEIPT keys); a failed Put fails its
   * keys, and so does an item whose minute is unknown (a same-table item written without a time
   * index entry: no receipt can be found for it, and the reconciler cannot list it either).
   */
  private async writeReceipts(
    items: readonly TrackedItem[],
    now: Date,
    outcome: 'published' | 'parked',
  ): Promise<MarkResult> {
    const { tableName, layout, retentionDays } = this.options;
    const byBucket = new Map<string, OutboxKey[]>();
    const unplaced: MarkFailure[] = [];
    for (const item of items) {
      const bucket = this.minuteOf(item);
      if (bucket === undefined)
        unplaced.push({
          key: item.key,
          errorCode: 'NoTimeIndexEntry',
          errorMessage: 'The item carries no time index entry, so no receipt can name its minute',
        });
      else byBucket.set(bucket, [...(byBucket.get(bucket) ?? []), item.key]);
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
              [outcome]: new Set(receipt.keys.map((key) => receiptNameOf(layout, key))),
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
      failed: [...unplaced, ...outcomes.flatMap((o) => (o.ok ? [] : o.failed))],
    };
  }
}
