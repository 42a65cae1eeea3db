import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { type BucketReceipts, ReceiptDeliveryTracker } from '../engine/delivery-tracking.js';
import { TimeOrderedOutbox } from '../engine/pending-outbox.js';
import {
  bucketOfPartition,
  PENDING_INDEX_SORT_KEY,
  pendingShards,
  type SameTableLayout,
  type TimeOrderedLayout,
  timeBucketOf,
  tracksWithReceipts,
} from '../runtime/layout.js';
import type { OutboxTarget } from './target.js';

export interface QueueDepth {
  readonly name: string;
  readonly url: string;
  /** Messages waiting (ApproximateNumberOfMessages). */
  readonly messages?: number;
  /** Received and not yet deleted (ApproximateNumberOfMessagesNotVisible). */
  readonly inFlight?: number;
  readonly error?: string;
}

/** What a time-ordered table's listing covered: it reads minutes oldest first, within a budget. */
export interface ReceiptsListing {
  /** The first minute read (`2026-11-22T11:45`). */
  readonly from: string;
  /**
   * Where `from` comes from: the reconciler's watermark (everything before it is settled), or,
   * with no watermark yet, the start of the retention (older items have expired).
   */
  readonly since: 'watermark' | 'retention';
  /** Outbox items read, published ones included (an empty page counts as one). */
  readonly itemsRead: number;
  /** Receipts' keys found in the minutes read: 0 with items read means no receipt covers any. */
  readonly receiptKeys: number;
  /**
   * Set when the budget ran out: the first minute not read in full. Pending events from there on
   * are not all counted.
   */
  readonly stoppedAt?: string;
}

export interface OutboxStatus {
  readonly target: string;
  readonly table: string;
  /**
   * How delivery is tracked: the sparse pending index (an item is pending until the relay marks
   * it), or receipts on a time-ordered table (pending until a receipt lists it).
   */
  readonly tracking: 'pending-index' | 'receipts';
  /** The pending index, as the layout names it (pending-index tracking). */
  readonly pendingIndex?: { readonly indexName: string; readonly shards: number };
  /** What the listing covered (receipts tracking). */
  readonly listing?: ReceiptsListing;
  /** Outbox items not yet published: all of them, or at least this many when `listing.stoppedAt` is set. */
  readonly pending: number;
  readonly oldestPendingOccurredAt?: string;
  readonly oldestPendingAgeSeconds?: number;
  readonly queues: readonly QueueDepth[];
  readonly notes: readonly string[];
}

export interface StatusOptions {
  /** @default the current time */
  readonly now?: Date;
  /**
   * Receipts tracking: outbox items to read at most, an empty page counting as one, so that a
   * status of a large table (or of one whose reconciler never ran) stays bounded. The pending index
   * needs no bound: it holds only pending items, and is counted with `Select: COUNT`.
   * @default 10000
   */
  readonly maxItems?: number;
}

export const DEFAULT_STATUS_MAX_ITEMS = 10_000;

interface Backlog {
  readonly pending: number;
  readonly oldest?: string;
  readonly listing?: ReceiptsListing;
}

const sortKey = PENDING_INDEX_SORT_KEY;

/** A target whose delivery tracking is the sparse pending index (a same-table layout). */
type IndexTarget = OutboxTarget & { readonly layout: SameTableLayout };
/** A target whose delivery tracking is receipts (a time-ordered table). */
type ReceiptsTarget = OutboxTarget & { readonly layout: TimeOrderedLayout };

const shardQuery = (target: IndexTarget, shard: string) => ({
  TableName: target.tableName,
  IndexName: target.layout.pendingIndex.indexName,
  KeyConditionExpression: '#shard = :shard',
  ExpressionAttributeNames: { '#shard': target.layout.pendingIndex.shardAttribute },
  ExpressionAttributeValues: { ':shard': shard },
});

/** Count one shard of the pending index, page by page (a COUNT query still pages at 1 MB). */
const countShard = async (target: IndexTarget, shard: string): Promise<number> => {
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
const oldestInShard = async (target: IndexTarget, shard: string): Promise<string | undefined> => {
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

/** The sparse pending index, every shard: it holds pending items only. */
const indexBacklog = async (target: IndexTarget): Promise<Backlog> => {
  const shards = pendingShards(target.layout);
  const [counts, oldest] = await Promise.all([
    Promise.all(shards.map((shard) => countShard(target, shard))),
    Promise.all(shards.map((shard) => oldestInShard(target, shard))),
  ]);
  const oldestOccurredAt = oldest.filter((o): o is string => o !== undefined).sort()[0];
  return {
    pending: counts.reduce((a, b) => a + b, 0),
    ...(oldestOccurredAt === undefined ? {} : { oldest: oldestOccurredAt }),
  };
};

/** Items a Query page of the time-ordered listing asks for at most (DynamoDB stops at 1 MB anyway). */
const LISTING_PAGE_ITEMS = 1000;
/** Partitions read at once: the pages of a wave. */
const LISTING_CONCURRENCY = 16;

/**
 * The reconciler's own listing of a time-ordered table (`TimeOrderedOutbox`), wired as the
 * reconciler wires it, with receipts read once per minute however many of its partitions ask, and
 * counted, so that a table whose relay writes none can be told apart.
 */
const timeOrderedListing = (target: ReceiptsTarget, now: Date) => {
  const { doc, tableName, layout, retentionDays } = target;
  const tracker = new ReceiptDeliveryTracker(doc, { tableName, layout, retentionDays });
  const read = new Map<string, Promise<BucketReceipts>>();
  let receiptKeys = 0;
  const receiptsOf = (bucket: string): Promise<BucketReceipts> => {
    const known = read.get(bucket);
    if (known) return known;
    const reading = tracker.receiptsOf(bucket).then((receipts) => {
      receiptKeys += receipts.published.size + receipts.parked.size;
      return receipts;
    });
    read.set(bucket, reading);
    return reading;
  };
  const listing = new TimeOrderedOutbox(doc, {
    tableName,
    layout,
    receipts: { receiptsOf },
    // Nothing older than the retention is left to be pending.
    lookbackSeconds: retentionDays * 86_400,
    now: () => now,
  });
  return { listing, receiptKeys: () => receiptKeys };
};

interface WavesRead extends Backlog {
  readonly itemsRead: number;
  /** Index of the first partition not read in full, when `maxItems` ran out. */
  readonly firstUnread?: number;
}

/**
 * The unpublished items of `partitions`, oldest first, in waves of pages that share what is left
 * of `maxItems`: together they cannot read more. An empty page counts as one, so that the number
 * of partitions read is bounded too.
 */
const readInWaves = async (
  listing: TimeOrderedOutbox,
  partitions: readonly string[],
  before: string,
  maxItems: number,
): Promise<WavesRead> => {
  let itemsRead = 0;
  let pending = 0;
  let oldest: string | undefined;
  /** Partitions with pages left (and where), then the next ones, oldest first. */
  let work: Array<{ readonly index: number; readonly startKey?: Record<string, unknown> }> = [];
  let next = 0;
  for (;;) {
    while (work.length < LISTING_CONCURRENCY && next < partitions.length) work.push({ index: next++ });
    if (work.length === 0) break;
    const free = maxItems - itemsRead;
    if (free <= 0) return { pending, ...(oldest ? { oldest } : {}), itemsRead, firstUnread: work[0]?.index };
    const wave = work.slice(0, free);
    const limit = Math.min(LISTING_PAGE_ITEMS, Math.floor(free / wave.length));
    const pages = await Promise.all(
      wave.map((w) => listing.page(partitions[w.index] ?? '', before, limit, w.startKey)),
    );
    const carried: typeof work = [];
    for (const [i, page] of pages.entries()) {
      itemsRead += Math.max(1, page.read ?? page.records.length + page.malformed.length);
      pending += page.records.length + page.malformed.length;
      const occurred = [
        ...page.records.map((r) => r.envelope.occurredAt),
        ...page.malformed.map((m) => m.item.occurredAt),
      ];
      for (const at of occurred)
        if (typeof at === 'string' && (oldest === undefined || at < oldest)) oldest = at;
      if (page.nextKey !== undefined) carried.push({ index: wave[i]?.index ?? 0, startKey: page.nextKey });
    }
    work = [...carried, ...work.slice(wave.length)];
  }
  return { pending, ...(oldest ? { oldest } : {}), itemsRead };
};

/**
 * The events of a time-ordered table that no receipt lists: the minutes from the reconciler's
 * watermark (or from the start of the retention) to now, read within `maxItems`. Read-only: the
 * watermark is not moved.
 */
const receiptsBacklog = async (target: ReceiptsTarget, now: Date, maxItems: number): Promise<Backlog> => {
  const { listing, receiptKeys } = timeOrderedListing(target, now);
  const before = now.toISOString();
  const watermark = await listing.watermark();
  const partitions = [...(await listing.shards(before))];
  const read = await readInWaves(listing, partitions, before, maxItems);
  const first = partitions[0];
  const stopped = read.firstUnread === undefined ? undefined : partitions[read.firstUnread];
  return {
    pending: read.pending,
    ...(read.oldest === undefined ? {} : { oldest: read.oldest }),
    listing: {
      from: first === undefined ? timeBucketOf(watermark ?? before) : bucketOfPartition(first),
      since: watermark === undefined ? 'retention' : 'watermark',
      itemsRead: read.itemsRead,
      receiptKeys: receiptKeys(),
      ...(stopped === undefined ? {} : { stoppedAt: bucketOfPartition(stopped) }),
    },
  };
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

export const outboxStatus = async (
  target: OutboxTarget,
  options: StatusOptions = {},
): Promise<OutboxStatus> => {
  const now = options.now ?? new Date();
  const { layout } = target;
  const [backlog, queues] = await Promise.all([
    tracksWithReceipts(layout)
      ? receiptsBacklog({ ...target, layout }, now, options.maxItems ?? DEFAULT_STATUS_MAX_ITEMS)
      : indexBacklog({ ...target, layout }),
    Promise.all(target.queues.map((q) => queueDepth(target, q.name, q.url))),
  ]);
  const { listing } = backlog;
  return {
    target: target.description,
    table: target.tableName,
    tracking: tracksWithReceipts(layout) ? 'receipts' : 'pending-index',
    ...(listing ? { listing } : {}),
    ...(layout.kind === 'same-table'
      ? { pendingIndex: { indexName: layout.pendingIndex.indexName, shards: layout.pendingIndex.shardCount } }
      : {}),
    pending: backlog.pending,
    ...(backlog.oldest === undefined
      ? {}
      : {
          oldestPendingOccurredAt: backlog.oldest,
          oldestPendingAgeSeconds: Math.max(
            0,
            Math.round((now.getTime() - Date.parse(backlog.oldest)) / 1000),
          ),
        }),
    queues,
    notes: [...(listing ? listingNotes(listing, backlog.pending) : []), ...target.notes],
  };
};

/** What the operator must know to read a partial or surprising count of a time-ordered table. */
const listingNotes = (listing: ReceiptsListing, pending: number): string[] => {
  const notes: string[] = [];
  if (listing.stoppedAt !== undefined)
    notes.push(
      `Stopped after reading ${listing.itemsRead} outbox items (--max) from ${listing.from}: ` +
        `events from ${listing.stoppedAt} on are not all counted. Pass a larger --max to read further.`,
    );
  if (pending > 0 && listing.receiptKeys === 0)
    notes.push(
      'No receipt lists any event read: the relay has published none of them yet, or runs with ' +
        'delivery tracking off (no receipts), in which case every event counts as pending here.',
    );
  return notes;
};

const age = (seconds: number): string => {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
};

const tracking = (status: OutboxStatus): string => {
  if (status.listing === undefined)
    return status.pendingIndex === undefined
      ? 'pending index'
      : `pending index ${status.pendingIndex.indexName} (${status.pendingIndex.shards} shards)`;
  const { from, since } = status.listing;
  return `receipts (time-ordered table), read from ${from} (${since === 'watermark' ? 'reconciler watermark' : 'start of the retention'})`;
};

export const formatStatus = (status: OutboxStatus): string => {
  const width = Math.max(24, ...status.queues.map((q) => q.name.length + 2));
  const lines = [
    `Outbox status: ${status.target}`,
    `  table                 ${status.table}`,
    `  tracking              ${tracking(status)}`,
    `  pending events        ${status.listing?.stoppedAt === undefined ? '' : 'at least '}${status.pending}`,
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
