import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  bucketOfPartition,
  bucketPartitions,
  keyOfItem,
  type OutboxKey,
  type OutboxLayout,
  receiptNameOf,
  timeBucketOf,
} from '../runtime/layout.js';
import { type OutboxRecord, parseOutboxItem } from '../runtime/outbox-item.js';
import type { BucketReceipts, DeliveryReceipts } from './delivery-tracking.js';
import type { ItemsByTime } from './outbox-listing/items-by-time.js';

export interface PendingPage {
  readonly records: OutboxRecord[];
  /** Index entries that are not valid outbox items: they can never be published as they are. */
  readonly malformed: Array<{
    readonly key?: OutboxKey;
    readonly reason: string;
    readonly item: Record<string, unknown>;
  }>;
  readonly nextKey?: Record<string, unknown>;
  /** Items the Query returned, settled ones included: what the page cost. */
  readonly read?: number;
}

/**
 * Where the reconciler finds unpublished items: partitions to read, oldest first, and pages of
 * the items in one of them written before a cut-off that are still unpublished. `shards` may be
 * lazy: a run reads them one by one and stops at its budget, so a listing that spans days never
 * sits in memory.
 */
export interface PendingSource {
  shards(before: string): Iterable<string> | Promise<Iterable<string>>;
  page(
    shard: string,
    before: string,
    limit: number,
    startKey?: Record<string, unknown>,
  ): Promise<PendingPage>;
  /**
   * After a run: nothing before `before` needs reading again, or, when the run left work behind,
   * nothing before `firstUnsettled` (a shard `shards` returned).
   */
  settled?(before: string, firstUnsettled?: string): Promise<void>;
}

export const toPage = (
  layout: OutboxLayout,
  items: readonly Record<string, unknown>[],
  nextKey: Record<string, unknown> | undefined,
  read: number,
): PendingPage => {
  const records: OutboxRecord[] = [];
  const malformed: PendingPage['malformed'][number][] = [];
  for (const item of items) {
    const parsed = parseOutboxItem(layout, item);
    if (parsed.ok) records.push(parsed.record);
    else malformed.push({ ...(parsed.key ? { key: parsed.key } : {}), reason: parsed.reason, item });
  }
  return { records, malformed, ...(nextKey ? { nextKey } : {}), read };
};

/** Minutes whose receipts a listing keeps in memory. */
const RECEIPT_MINUTES_KEPT = 8;

/** Where the outbox's table keeps the reconciler's watermark: the first minute not yet settled. */
export const WATERMARK_KEY = { partition: 'RECONCILER', sort: 'WATERMARK' } as const;

export interface TimeOrderedOutboxOptions {
  readonly tableName: string;
  readonly layout: OutboxLayout;
  /** A minute partition's items, by the table's key or by the time index (`listingFor`). */
  readonly items: ItemsByTime;
  /** The relay's receipts, read per minute. */
  readonly receipts: Pick<DeliveryReceipts, 'receiptsOf'>;
  /**
   * How far back a first run (no watermark yet) reads, in seconds. Items older than the retention
   * are gone (TTL), so the retention is the most it needs. @default 1 day
   */
  readonly lookbackSeconds?: number;
  readonly now?: () => Date;
}

/**
 * Unpublished outbox items, listed by write time: a minute's partitions (`<minute>#<shard>`, sorted
 * by write time) are read through `items` (a time-ordered table's key, or a same table's time
 * index), and an item is unpublished when no receipt of its minute names it and its TTL has not
 * passed. A watermark item
 * remembers the first minute that is not settled yet, so that each run reads only from there: a
 * relay outage of any length is covered, whatever the stream still holds.
 */
export class TimeOrderedOutbox implements PendingSource {
  private receipts = new Map<string, BucketReceipts>();

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly options: TimeOrderedOutboxOptions,
  ) {}

  get layout(): OutboxLayout {
    return this.options.layout;
  }

  /**
   * The partitions of every minute from the watermark to `before`'s, oldest first, made as they
   * are read: a first run over a week's retention at 8 shards would otherwise build 80,640 of them
   * up front, and a run stops long before at its budget.
   */
  async shards(before: string): Promise<Iterable<string>> {
    this.receipts = new Map();
    const from = (await this.watermark()) ?? this.defaultStart();
    const layout = this.layout;
    return (function* partitions() {
      const end = Date.parse(`${timeBucketOf(before)}:00.000Z`);
      for (let at = Date.parse(`${timeBucketOf(from)}:00.000Z`); at <= end; at += 60_000)
        yield* bucketPartitions(layout, timeBucketOf(new Date(at).toISOString()));
    })();
  }

  async page(
    shard: string,
    before: string,
    limit: number,
    startKey?: Record<string, unknown>,
  ): Promise<PendingPage> {
    const { layout } = this.options;
    const response = await this.options.items.page(shard, before, limit, startKey);
    const receipts = await this.receiptsOf(bucketOfPartition(shard));
    const nowSeconds = Math.floor(this.now().getTime() / 1000);
    const unsettled = response.items.filter((item) => {
      // Past its TTL: gone for the outbox, though TTL deletes it only within days, and maybe after
      // its receipt. Republished now, it could take effect again once consumers forgot its eventId.
      const expiresAt = item[layout.timeToLiveAttribute];
      if (typeof expiresAt === 'number' && expiresAt <= nowSeconds) return false;
      const key = keyOfItem(layout, item);
      const name = key === undefined ? undefined : receiptNameOf(layout, key);
      return name === undefined || !(receipts.published.has(name) || receipts.parked.has(name));
    });
    return toPage(layout, unsettled, response.nextKey, response.items.length);
  }

  /**
   * Moves the watermark to `before`'s minute (read again next time: it was cut at `before`), or to
   * the minute of the first shard with work left. A first run that cannot read back to the
   * retention in one go thus carries on where it stopped.
   */
  async settled(before: string, firstUnsettled?: string): Promise<void> {
    const { layout, tableName } = this.options;
    await this.doc.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          [layout.partitionKey]: WATERMARK_KEY.partition,
          [layout.sortKey]: WATERMARK_KEY.sort,
          bucket: firstUnsettled === undefined ? timeBucketOf(before) : bucketOfPartition(firstUnsettled),
        },
      }),
    );
  }

  /** Where the last reconciler run left off (an ISO instant at a minute), if one ran. */
  async watermark(): Promise<string | undefined> {
    const { layout, tableName } = this.options;
    const { Item } = await this.doc.send(
      new GetCommand({
        TableName: tableName,
        Key: { [layout.partitionKey]: WATERMARK_KEY.partition, [layout.sortKey]: WATERMARK_KEY.sort },
        ConsistentRead: true,
      }),
    );
    return typeof Item?.bucket === 'string' ? `${Item.bucket}:00.000Z` : undefined;
  }

  private now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }

  private defaultStart(): string {
    return new Date(this.now().getTime() - (this.options.lookbackSeconds ?? 86_400) * 1000).toISOString();
  }

  /**
   * The receipts of a minute, kept for the last few minutes read: minutes are read in order (a few
   * at once by `status`), and a listing over days must not keep every minute's.
   */
  private async receiptsOf(bucket: string): Promise<BucketReceipts> {
    const cached = this.receipts.get(bucket);
    if (cached) return cached;
    const read = await this.options.receipts.receiptsOf(bucket);
    this.receipts.set(bucket, read);
    // A Map iterates in insertion order: the first key is the oldest minute kept.
    for (const oldest of this.receipts.keys()) {
      if (this.receipts.size <= RECEIPT_MINUTES_KEPT) break;
      this.receipts.delete(oldest);
    }
    return read;
  }
}
