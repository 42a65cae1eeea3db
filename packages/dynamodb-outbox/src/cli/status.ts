import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { type BucketReceipts, DeliveryReceipts } from '../engine/delivery-tracking.js';
import { listingFor } from '../engine/outbox-listing/listing-for.js';
import { TimeOrderedOutbox } from '../engine/pending-outbox.js';
import { bucketOfPartition, timeBucketOf } from '../runtime/layout.js';
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

/** What the listing covered: it reads minutes oldest first, within a budget. */
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
   * How outbox items are listed by time: by the table's key (a time-ordered table) or by the time
   * index of a same table. Either way an item is pending until a receipt names it.
   */
  readonly listedBy: 'table-key' | { readonly timeIndex: string };
  /** What the listing covered. */
  readonly listing: ReceiptsListing;
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
   * Outbox items to read at most, an empty page counting as one, so that a status of a large
   * table (or of one whose reconciler never ran) stays bounded.
   * @default 10000
   */
  readonly maxItems?: number;
}

export const DEFAULT_STATUS_MAX_ITEMS = 10_000;

interface Backlog {
  readonly pending: number;
  readonly oldest?: string;
  readonly listing: ReceiptsListing;
}

/** Items a Query page of the listing asks for at most (DynamoDB stops at 1 MB anyway). */
const LISTING_PAGE_ITEMS = 1000;
/** Partitions read at once: the pages of a wave. */
const LISTING_CONCURRENCY = 16;

/**
 * The reconciler's own listing (`TimeOrderedOutbox`), wired as the reconciler wires it, with
 * receipts read once per minute however many of its partitions ask, and counted, so that a table
 * whose relay writes none can be told apart.
 */
const timeOrderedListing = (target: OutboxTarget, now: Date) => {
  const { doc, tableName, layout, retentionDays } = target;
  const tracker = new DeliveryReceipts(doc, { tableName, layout, retentionDays });
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
    items: listingFor(doc, tableName, layout),
    receipts: { receiptsOf },
    // Nothing older than the retention is left to be pending.
    lookbackSeconds: retentionDays * 86_400,
    now: () => now,
  });
  return { listing, receiptKeys: () => receiptKeys };
};

interface WavesRead extends Omit<Backlog, 'listing'> {
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
 * The events no receipt lists: the minutes from the reconciler's watermark (or from the start of
 * the retention) to now, read within `maxItems`. Read-only: the watermark is not moved.
 */
const receiptsBacklog = async (target: OutboxTarget, now: Date, maxItems: number): Promise<Backlog> => {
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
    receiptsBacklog(target, now, options.maxItems ?? DEFAULT_STATUS_MAX_ITEMS),
    Promise.all(target.queues.map((q) => queueDepth(target, q.name, q.url))),
  ]);
  const { listing } = backlog;
  return {
    target: target.description,
    table: target.tableName,
    listedBy: layout.kind === 'same-table' ? { timeIndex: layout.timeIndex.indexName } : 'table-key',
    listing,
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
    notes: [...listingNotes(listing, backlog.pending), ...target.notes],
  };
};

/** What the operator must know to read a partial or surprising count. */
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
  const { from, since } = status.listing;
  const listed =
    status.listedBy === 'table-key'
      ? 'time-ordered table'
      : `same table, time index ${status.listedBy.timeIndex}`;
  return `receipts (${listed}), read from ${from} (${since === 'watermark' ? 'reconciler watermark' : 'start of the retention'})`;
};

export const formatStatus = (status: OutboxStatus): string => {
  // Each name is indented by 2 and kept 2 apart from its count.
  const width = Math.max(24, ...status.queues.map((q) => q.name.length + 4));
  const lines = [
    `Outbox status: ${status.target}`,
    `  table                 ${status.table}`,
    `  tracking              ${tracking(status)}`,
    `  pending events        ${status.listing.stoppedAt === undefined ? '' : 'at least '}${status.pending}`,
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
