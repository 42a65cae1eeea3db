import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { EventEnvelope } from './envelope.js';
import * as z from './zod.js';

/**
 * Where the outbox items live and how they are keyed: data the construct hands to every function
 * (through its settings), never code. Two kinds:
 * - `time-ordered-table` (the default): a table of outbox items only, created by the construct;
 *   the service adds one Put to it inside its own transaction (TransactWriteItems spans tables).
 *   It is keyed by time, so that the reconciler lists a window of it without a secondary index:
 *   partition key `<minute>#<shard>` (the minute the item was written, spread over `shardCount`
 *   partitions by aggregate), sort key
 *   `<sortKeyPrefix><writtenAt>#<aggregateType>#<aggregateId>#<sequence>`. Keyed by the write, not
 *   by the event's `occurredAt`: an event that occurred long ago but is written now still lands
 *   where the reconciler reads next. An aggregate's order is carried by `sequence`. Delivery is
 *   tracked with one receipt per relay invocation (`DeliveryReceipts`), not a mark per event.
 * - `same-table`: outbox items share the aggregate's partition (`<aggregate key>` /
 *   `<sortKeyPrefix><sequence>`) in the service's own table; its stream carries everything and the
 *   mapping's filter passes only outbox INSERTs. Each item also carries a sparse time index entry
 *   (`timeIndex`: `<minute>#<shard>` / its write time), so that the reconciler lists it by time as
 *   it lists a time-ordered table by key; delivery is tracked with the same receipts.
 */
const attributeName = z
  .string()
  .check(
    z.minLength(1, 'attribute names must not be empty'),
    z.maxLength(255, 'attribute names are at most 255 characters'),
  );

/** Partitions each minute is spread over: the table's key (time-ordered) or the time index's (same table). */
const shardCount = (field: string) =>
  z
    .number()
    .check(
      z.int(),
      z.minimum(1, `${field} must be from 1 to 100`),
      z.maximum(100, `${field} must be from 1 to 100`),
    );

/** Sort keys of what delivery tracking keeps beside the outbox items: receipts, and the reconciler's watermark. */
const RESERVED_SORT_KEYS = ['RECEIPT#', 'WATERMARK'];

const keying = {
  partitionKey: attributeName,
  sortKey: attributeName,
  /** Sort-key prefix that marks an outbox item; the stream filter recognises outbox items by it. */
  sortKeyPrefix: z.string().check(
    z.minLength(1, 'sortKeyPrefix must not be empty'),
    z.maxLength(64, 'sortKeyPrefix is at most 64 characters'),
    // Receipts (`RECEIPT#…`) and the reconciler's watermark (`WATERMARK`) share the table: the
    // stream filter must never take them for outbox items.
    z.refine(
      (prefix) => !RESERVED_SORT_KEYS.some((reserved) => reserved.startsWith(prefix)),
      `sortKeyPrefix must not begin ${RESERVED_SORT_KEYS.join(' or ')}: receipts and the reconciler's watermark use those sort keys`,
    ),
  ),
  /** DynamoDB TTL attribute (epoch seconds) of outbox items. */
  timeToLiveAttribute: attributeName,
  /**
   * Partitions each minute is spread over, by aggregate. Each takes at most 1,000 write units a
   * second (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html),
   * and the reconciler queries each of them once per minute it reads.
   */
  shardCount: shardCount('shardCount'),
  /**
   * The `shardCount` before it was lowered: items written then sit in partitions up to it, so the
   * reconciler keeps listing that many until they are past the retention. Raising `shardCount`
   * needs nothing (the old partitions are among the new ones).
   */
  previousShardCount: z.optional(shardCount('previousShardCount')),
};

const timeOrderedLayoutSchema = z.object({
  kind: z.literal('time-ordered-table'),
  ...keying,
});

const sameTableLayoutSchema = z.object({
  kind: z.literal('same-table'),
  ...keying,
  /**
   * Sparse global secondary index of outbox items by write time, what the reconciler lists them
   * by: partition key `partitionKey` (`<minute>#<shard>` of the write, like a time-ordered table's
   * key), sort key `sortKey` (the write time, ISO-8601). Only outbox items carry these attributes,
   * and an entry goes when TTL deletes its item.
   */
  timeIndex: z.object({
    indexName: z
      .string()
      .check(z.regex(/^[A-Za-z0-9_.-]{3,255}$/, 'timeIndex.indexName must be a DynamoDB index name')),
    partitionKey: attributeName,
    sortKey: attributeName,
  }),
});

export const outboxLayoutSchema = z.discriminatedUnion('kind', [
  timeOrderedLayoutSchema,
  sameTableLayoutSchema,
]);

export type OutboxLayout = z.infer<typeof outboxLayoutSchema>;
export type TimeOrderedLayout = z.infer<typeof timeOrderedLayoutSchema>;
export type SameTableLayout = z.infer<typeof sameTableLayoutSchema>;

const DEFAULT_TIME_INDEX = {
  indexName: 'outbox-by-time',
  partitionKey: 'outboxMinute',
  sortKey: 'outboxWrittenAt',
};

/**
 * A minute's items spread over 8 partitions, each of which takes 1,000 writes a second
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html);
 * a global secondary index's partitions take the same
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations).
 */
const DEFAULT_SHARD_COUNT = 8;

/** The layout of the dedicated outbox table the construct creates: fixed, since the construct creates the table. */
export const TIME_ORDERED_TABLE_LAYOUT: TimeOrderedLayout = {
  kind: 'time-ordered-table',
  partitionKey: 'pk',
  sortKey: 'sk',
  sortKeyPrefix: 'OUTBOX#',
  timeToLiveAttribute: 'expiresAt',
  shardCount: DEFAULT_SHARD_COUNT,
};

/** TTL (epoch seconds) of an item kept `retentionDays` from `from` (its write, or its publication). */
export const expiresAtFor = (from: Date, retentionDays: number): number =>
  Math.floor(from.getTime() / 1000) + retentionDays * 24 * 60 * 60;

/** Minute of an ISO-8601 instant (`2026-11-30T12:05`): a time-ordered table's bucket. */
export const timeBucketOf = (instant: string): string => new Date(instant).toISOString().slice(0, 16);

/** Minutes from the bucket of `from` to the bucket of `to`, both included, oldest first. */
export const timeBucketsBetween = (from: string, to: string): string[] => {
  const buckets: string[] = [];
  const end = Date.parse(`${timeBucketOf(to)}:00.000Z`);
  for (let at = Date.parse(`${timeBucketOf(from)}:00.000Z`); at <= end; at += 60_000)
    buckets.push(new Date(at).toISOString().slice(0, 16));
  return buckets;
};

/**
 * The partitions of `bucket` (of a time-ordered table's key, or of a same table's time index):
 * those the writer spreads items over now, and, after `shardCount` was lowered, those it spread
 * them over before (`previousShardCount`).
 */
export const bucketPartitions = (layout: OutboxLayout, bucket: string): string[] =>
  Array.from(
    { length: Math.max(layout.shardCount, layout.previousShardCount ?? 0) },
    (_, i) => `${bucket}#${i}`,
  );

/** The bucket of a partition key value `<minute>#<shard>` (a time-ordered table's, or a time index's). */
export const bucketOfPartition = (partition: string): string =>
  partition.slice(0, partition.lastIndexOf('#'));

const hashOf = (text: string): number => {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (hash * 31 + text.charCodeAt(i)) >>> 0;
  return hash;
};

export interface SameTableLayoutOptions {
  /** The table's partition key attribute. */
  readonly partitionKey: string;
  /** The table's sort key attribute: outbox items need one, to sit beside the aggregate. */
  readonly sortKey: string;
  /** @default 'OUTBOX#' */
  readonly sortKeyPrefix?: string;
  /** The table's TTL attribute. @default 'expiresAt' */
  readonly timeToLiveAttribute?: string;
  /** @default { indexName: 'outbox-by-time', partitionKey: 'outboxMinute', sortKey: 'outboxWrittenAt' } */
  readonly timeIndex?: Partial<SameTableLayout['timeIndex']>;
  /** Partitions of the time index each minute is spread over. @default 8 */
  readonly shardCount?: number;
  /**
   * After lowering `shardCount`: the count it had before. Index entries written then sit in
   * partitions up to it, and the reconciler keeps listing them; remove it `retentionDays` after
   * the change. @default none
   */
  readonly previousShardCount?: number;
}

/** Outbox items beside the aggregates in the service's own table. */
export const sameTableLayout = (options: SameTableLayoutOptions): SameTableLayout =>
  sameTableLayoutSchema.parse({
    kind: 'same-table',
    partitionKey: options.partitionKey,
    sortKey: options.sortKey,
    sortKeyPrefix: options.sortKeyPrefix ?? 'OUTBOX#',
    timeToLiveAttribute: options.timeToLiveAttribute ?? 'expiresAt',
    shardCount: options.shardCount ?? DEFAULT_SHARD_COUNT,
    ...(options.previousShardCount === undefined ? {} : { previousShardCount: options.previousShardCount }),
    timeIndex: { ...DEFAULT_TIME_INDEX, ...options.timeIndex },
  });

/** An outbox item's primary key: attribute name → string value. */
export type OutboxKey = Readonly<Record<string, string>>;

/** `<minute>#<shard>` of an item written at `at`: a minute spread over the layout's shards by aggregate. */
const minutePartitionOf = (
  layout: OutboxLayout,
  event: Pick<EventEnvelope, 'aggregateType' | 'aggregateId'>,
  at: string,
): string =>
  `${timeBucketOf(at)}#${hashOf(`${event.aggregateType}#${event.aggregateId}`) % layout.shardCount}`;

/**
 * What an outbox item carries so that the reconciler lists it by write time: nothing on a
 * time-ordered table (its key is its time), the time index entry on a same table. The entry
 * lives and expires with the item: nobody has to remove it.
 */
export const timeIndexEntryOf = (
  layout: OutboxLayout,
  event: Pick<EventEnvelope, 'aggregateType' | 'aggregateId'>,
  writtenAt: Date,
): Record<string, string> => {
  if (layout.kind === 'time-ordered-table') return {};
  const at = writtenAt.toISOString();
  return {
    [layout.timeIndex.partitionKey]: minutePartitionOf(layout, event, at),
    [layout.timeIndex.sortKey]: at,
  };
};

/**
 * The minute an outbox item was written in, the partition of its receipts: from its key on a
 * time-ordered table, from its time index entry on a same table. Undefined for a same-table item
 * without one (written with tracking off, or by a version before the time index).
 */
export const writtenMinuteOf = (
  layout: OutboxLayout,
  key: OutboxKey,
  item: Readonly<Record<string, unknown>> | undefined,
): string | undefined => {
  const partition =
    layout.kind === 'time-ordered-table' ? key[layout.partitionKey] : item?.[layout.timeIndex.partitionKey];
  return typeof partition === 'string' && partition.includes('#') ? bucketOfPartition(partition) : undefined;
};

/**
 * How a receipt names an item, unique within its minute: the sort key on a time-ordered table
 * (it holds the write time and the aggregate), the whole key on a same table (`OUTBOX#<sequence>`
 * repeats across aggregates).
 */
export const receiptNameOf = (layout: OutboxLayout, key: OutboxKey): string =>
  layout.kind === 'time-ordered-table'
    ? (key[layout.sortKey] ?? '')
    : JSON.stringify([key[layout.partitionKey] ?? '', key[layout.sortKey] ?? '']);

/** Zero-padded so that an aggregate's outbox items sort by sequence. */
const SEQUENCE_DIGITS = 10;

/**
 * The key of `event`'s outbox item. Time-ordered table: by `writtenAt`, the moment it is written.
 * Same table: under `aggregateKey`, the partition key value of the aggregate the event belongs to.
 */
export const outboxKeyOf = (
  layout: OutboxLayout,
  event: Pick<EventEnvelope, 'aggregateType' | 'aggregateId' | 'sequence'>,
  where: { readonly aggregateKey?: string | undefined; readonly writtenAt?: Date } = {},
): OutboxKey => {
  const { aggregateKey, writtenAt } = where;
  const sequence = String(event.sequence).padStart(SEQUENCE_DIGITS, '0');
  if (layout.kind === 'time-ordered-table') {
    if (writtenAt === undefined) throw new Error('A time-ordered outbox keys items by their write time');
    const at = writtenAt.toISOString();
    return {
      [layout.partitionKey]: minutePartitionOf(layout, event, at),
      [layout.sortKey]: `${layout.sortKeyPrefix}${at}#${event.aggregateType}#${event.aggregateId}#${sequence}`,
    };
  }
  if (aggregateKey === undefined || aggregateKey === '')
    throw new Error('A same-table outbox needs the aggregate key (the partition key value of the aggregate)');
  return {
    [layout.partitionKey]: aggregateKey,
    [layout.sortKey]: `${layout.sortKeyPrefix}${sequence}`,
  };
};

/** The key of an item, if it has string values under the layout's key attributes. */
export const keyOfItem = (
  layout: OutboxLayout,
  item: Readonly<Record<string, unknown>>,
): OutboxKey | undefined => {
  const pk = item[layout.partitionKey];
  const sk = item[layout.sortKey];
  return typeof pk === 'string' && typeof sk === 'string'
    ? { [layout.partitionKey]: pk, [layout.sortKey]: sk }
    : undefined;
};

/** The key of a stream record's `Keys`, when they are an outbox item's. */
export const outboxKeyOfStreamKeys = (
  layout: OutboxLayout,
  keys: Readonly<Record<string, AttributeValue | { S?: string }>> | undefined,
): OutboxKey | undefined => {
  const pk = (keys?.[layout.partitionKey] as { S?: string } | undefined)?.S;
  const sk = (keys?.[layout.sortKey] as { S?: string } | undefined)?.S;
  if (pk === undefined || sk === undefined || !sk.startsWith(layout.sortKeyPrefix)) return undefined;
  return { [layout.partitionKey]: pk, [layout.sortKey]: sk };
};

/**
 * Event source mapping filter: only INSERTs of outbox items invoke the relay. The aggregates'
 * own items, receipts (`RECEIPT#…` sort keys), the MODIFY of a parked item and TTL deletions are
 * dropped by Lambda before invocation, at no cost. Deployed by the construct and applied by the offline poller.
 */
export const relayFilterPattern = (layout: OutboxLayout) => ({
  eventName: ['INSERT'],
  dynamodb: { Keys: { [layout.sortKey]: { S: [{ prefix: layout.sortKeyPrefix }] } } },
});

/** A readable name of an outbox key for logs: `pk=…, sk=…`. */
export const describeKey = (key: OutboxKey | undefined): string | undefined =>
  key === undefined
    ? undefined
    : Object.entries(key)
        .map(([name, value]) => `${name}=${value}`)
        .join(', ');
