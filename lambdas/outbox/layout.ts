import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import * as z from 'zod';
import type { EventEnvelope } from './envelope';

/**
 * Where the outbox items live and how they are keyed: data the construct hands to every function
 * (through its settings), never code. Two kinds:
 * - `same-table`: outbox items share the aggregate's partition (`<aggregate key>` /
 *   `<sortKeyPrefix><sequence>`) in the service's own table; its stream carries everything and the
 *   mapping's filter passes only outbox INSERTs.
 * - `dedicated-table`: a table of outbox items only, created by the construct; the service adds
 *   one Put to it inside its own transaction (TransactWriteItems spans tables). The partition key
 *   is `<aggregateType>#<aggregateId>`.
 */
const attributeName = z
  .string()
  .min(1, 'attribute names must not be empty')
  .max(255, 'attribute names are at most 255 characters');

export const outboxLayoutSchema = z.object({
  kind: z.enum(['same-table', 'dedicated-table']),
  partitionKey: attributeName,
  sortKey: attributeName,
  /** Sort-key prefix that marks an outbox item; the stream filter recognises outbox items by it. */
  sortKeyPrefix: z
    .string()
    .min(1, 'sortKeyPrefix must not be empty')
    .max(64, 'sortKeyPrefix is at most 64 characters'),
  /** DynamoDB TTL attribute (epoch seconds) of outbox items. */
  timeToLiveAttribute: attributeName,
  /**
   * Sparse index of unpublished outbox items (delivery tracking): partition key `shardAttribute`,
   * sort key `occurredAt` (an envelope field). Only pending items carry `shardAttribute`.
   */
  pendingIndex: z.object({
    indexName: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{3,255}$/, 'pendingIndex.indexName must be a DynamoDB index name'),
    shardAttribute: attributeName,
    /** Spreads a burst of pending items over this many index partitions. */
    shardCount: z
      .number()
      .int()
      .min(1, 'pendingIndex.shardCount must be from 1 to 100')
      .max(100, 'pendingIndex.shardCount must be from 1 to 100'),
  }),
});

export type OutboxLayout = z.infer<typeof outboxLayoutSchema>;

/** Index sort key: the envelope's own `occurredAt`, so the reconciler reads oldest first. */
export const PENDING_INDEX_SORT_KEY = 'occurredAt';

const DEFAULT_PENDING_INDEX = { indexName: 'pending-outbox', shardAttribute: 'pendingShard', shardCount: 8 };

/** The layout of a dedicated outbox table: fixed, since the construct creates the table. */
export const DEDICATED_TABLE_LAYOUT: OutboxLayout = {
  kind: 'dedicated-table',
  partitionKey: 'pk',
  sortKey: 'sk',
  sortKeyPrefix: 'OUTBOX#',
  timeToLiveAttribute: 'expiresAt',
  pendingIndex: DEFAULT_PENDING_INDEX,
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
  /** @default { indexName: 'pending-outbox', shardAttribute: 'pendingShard', shardCount: 8 } */
  readonly pendingIndex?: Partial<OutboxLayout['pendingIndex']>;
}

/** Outbox items beside the aggregates in the service's own table. */
export const sameTableLayout = (options: SameTableLayoutOptions): OutboxLayout =>
  outboxLayoutSchema.parse({
    kind: 'same-table',
    partitionKey: options.partitionKey,
    sortKey: options.sortKey,
    sortKeyPrefix: options.sortKeyPrefix ?? 'OUTBOX#',
    timeToLiveAttribute: options.timeToLiveAttribute ?? 'expiresAt',
    pendingIndex: { ...DEFAULT_PENDING_INDEX, ...options.pendingIndex },
  });

/** An outbox item's primary key: attribute name → string value. */
export type OutboxKey = Readonly<Record<string, string>>;

/** Zero-padded so that an aggregate's outbox items sort by sequence. */
const SEQUENCE_DIGITS = 10;

/**
 * The key of `event`'s outbox item. Same table: under `aggregateKey`, the partition key value of
 * the aggregate the event belongs to. Dedicated table: under `<aggregateType>#<aggregateId>`.
 */
export const outboxKeyOf = (
  layout: OutboxLayout,
  event: Pick<EventEnvelope, 'aggregateType' | 'aggregateId' | 'sequence'>,
  aggregateKey?: string,
): OutboxKey => {
  const partition =
    layout.kind === 'dedicated-table' ? `${event.aggregateType}#${event.aggregateId}` : aggregateKey;
  if (partition === undefined || partition === '')
    throw new Error('A same-table outbox needs the aggregate key (the partition key value of the aggregate)');
  return {
    [layout.partitionKey]: partition,
    [layout.sortKey]: `${layout.sortKeyPrefix}${String(event.sequence).padStart(SEQUENCE_DIGITS, '0')}`,
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
 * own items, the relay's MODIFYs (delivery tracking) and TTL deletions are dropped by Lambda
 * before invocation, at no cost. Deployed by the construct and applied by the offline poller.
 */
export const relayFilterPattern = (layout: OutboxLayout) => ({
  eventName: ['INSERT'],
  dynamodb: { Keys: { [layout.sortKey]: { S: [{ prefix: layout.sortKeyPrefix }] } } },
});

/** Pending-index shard of an event: stable per event, spread evenly over the layout's shards. */
export const pendingShardFor = (layout: OutboxLayout, eventId: string): string => {
  let hash = 0;
  for (let i = 0; i < eventId.length; i++) hash = (hash * 31 + eventId.charCodeAt(i)) >>> 0;
  return `PENDING#${hash % layout.pendingIndex.shardCount}`;
};

export const pendingShards = (layout: OutboxLayout): string[] =>
  Array.from({ length: layout.pendingIndex.shardCount }, (_, i) => `PENDING#${i}`);

/** A readable name of an outbox key for logs: `pk=…, sk=…`. */
export const describeKey = (key: OutboxKey | undefined): string | undefined =>
  key === undefined
    ? undefined
    : Object.entries(key)
        .map(([name, value]) => `${name}=${value}`)
        .join(', ');
