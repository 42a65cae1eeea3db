import type { MetricUnit } from '@aws-lambda-powertools/metrics/types';
import type { AttributeValue, Context, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { EventEnvelope } from '../../src/runtime/envelope';
import {
  type OutboxKey,
  type OutboxLayout,
  outboxKeyOf,
  sameTableLayout,
  timeIndexEntryOf,
} from '../../src/runtime/layout';
import type { MetricName } from '../../src/runtime/metric-names';
import { type OutboxRecord, parseOutboxItem } from '../../src/runtime/outbox-item';
import { ordersOutboxLayout } from './sample-table';

/** The orders table's layout: `PK` / `SK`, outbox items beside each order. */
export const ORDERS_LAYOUT = ordersOutboxLayout;

/** Another service's table: lower-case keys, its own prefix, TTL attribute and index. */
export const OTHER_LAYOUT = sameTableLayout({
  partitionKey: 'pk',
  sortKey: 'sk',
  sortKeyPrefix: 'EVT#',
  timeToLiveAttribute: 'ttl',
  timeIndex: { indexName: 'by-written', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  shardCount: 4,
});

/** An outbox item as stored: key attributes, envelope, trace header and tracking attributes. */
export type StoredItem = EventEnvelope & { readonly traceHeader?: string } & Record<string, unknown>;

export type ItemOverrides = Partial<EventEnvelope> & Record<string, unknown>;

/** An OrderPlaced outbox item for order `n`, as the write path stores it under `layout` (pending). */
export const outboxItem = (
  n: number,
  overrides: ItemOverrides = {},
  layout: OutboxLayout = ORDERS_LAYOUT,
): StoredItem => {
  const orderId = `01JORDER${String(n).padStart(18, '0')}`;
  const envelope: EventEnvelope = {
    eventId: `01JEVENT${String(n).padStart(18, '0')}`,
    eventType: 'OrderPlaced',
    aggregateType: 'Order',
    aggregateId: orderId,
    sequence: 1,
    occurredAt: '2026-11-22T10:00:00.000Z',
    schemaVersion: 1,
    payload: {
      orderId,
      customerId: 'c-1',
      currency: 'EUR',
      lines: [{ sku: 'SKU-1', quantity: 1, unitPrice: 500 }],
      total: 500,
    },
  };
  return {
    ...outboxKeyOf(layout, envelope, {
      aggregateKey: `ORDER#${orderId}`,
      writtenAt: new Date(envelope.occurredAt),
    }),
    ...envelope,
    ...timeIndexEntryOf(layout, envelope, new Date(envelope.occurredAt)),
    ...overrides,
  } as StoredItem;
};

/** The key of `item` under `layout`. */
export const keyOf = (
  item: Readonly<Record<string, unknown>>,
  layout: OutboxLayout = ORDERS_LAYOUT,
): OutboxKey => ({
  [layout.partitionKey]: String(item[layout.partitionKey]),
  [layout.sortKey]: String(item[layout.sortKey]),
});

/** `item` read back as an outbox record; throws if it is not a valid outbox item. */
export const recordOf = (
  item: Readonly<Record<string, unknown>>,
  layout: OutboxLayout = ORDERS_LAYOUT,
): OutboxRecord => {
  const parsed = parseOutboxItem(layout, item);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.record;
};

/** The outbox record of `outboxItem(n, overrides, layout)`. */
export const outboxRecord = (
  n: number,
  overrides: ItemOverrides = {},
  layout: OutboxLayout = ORDERS_LAYOUT,
) => recordOf(outboxItem(n, overrides, layout), layout);

/** DynamoDB JSON for a plain value: what a stream record carries. */
export const marshallValue = (value: unknown): AttributeValue => {
  if (value === null) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') return { N: String(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  if (Array.isArray(value)) return { L: value.map(marshallValue) };
  if (typeof value === 'object') return { M: marshallItem(value as Record<string, unknown>) };
  throw new Error(`Cannot marshall ${typeof value}`);
};

export const marshallItem = (item: Record<string, unknown>): Record<string, AttributeValue> =>
  Object.fromEntries(
    Object.entries(item)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, marshallValue(v)]),
  );

export const sequenceNumber = (n: number): string => `4${String(n).padStart(20, '0')}`;

export interface StreamRecordOptions {
  readonly eventName?: 'INSERT' | 'MODIFY' | 'REMOVE';
  /** The record's Keys; by default the layout's key attributes of `image`. */
  readonly keys?: Record<string, string>;
  readonly layout?: OutboxLayout;
}

/** A stream record for `image`, numbered `n` within its shard. */
export const streamRecord = (
  n: number,
  image: Record<string, unknown> | undefined,
  { eventName = 'INSERT', keys, layout = ORDERS_LAYOUT }: StreamRecordOptions = {},
): DynamoDBRecord => ({
  eventID: `event-${n}`,
  eventName,
  eventVersion: '1.1',
  eventSource: 'aws:dynamodb',
  awsRegion: 'us-east-1',
  eventSourceARN: 'arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-11-22T00:00:00.000',
  dynamodb: {
    ApproximateCreationDateTime: 1795860000,
    Keys: marshallItem(
      keys ?? {
        [layout.partitionKey]: image?.[layout.partitionKey],
        [layout.sortKey]: image?.[layout.sortKey],
      },
    ),
    ...(image ? { NewImage: marshallItem(image) } : {}),
    SequenceNumber: sequenceNumber(n),
    SizeBytes: 512,
    StreamViewType: 'NEW_IMAGE',
  },
});

export const streamEvent = (records: DynamoDBRecord[]): DynamoDBStreamEvent => ({ Records: records });

export interface RecordedMetric {
  readonly name: string;
  readonly unit: string;
  readonly value: number;
}

/** A metrics sink that records what was emitted, in order. */
export const fakeMetrics = () => {
  const recorded: RecordedMetric[] = [];
  return {
    recorded,
    addMetric: (name: MetricName, unit: MetricUnit, value: number) => {
      recorded.push({ name, unit, value });
    },
  };
};

/** A logger that records every line: level, message and attributes. */
export const fakeLogger = () => {
  const lines: { level: string; message: string; attributes: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (message: string, attributes: Record<string, unknown> = {}) => {
      lines.push({ level, message, attributes });
    };
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
};

export const named = (name: string, message = name): Error => Object.assign(new Error(message), { name });

/** A Lambda context, as the runtime passes it to a handler. */
export const lambdaContext: Context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: 'orders-api',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:orders-api',
  memoryLimitInMB: '512',
  awsRequestId: 'aws-request-1',
  logGroupName: '/aws/lambda/orders-api',
  logStreamName: 'stream',
  getRemainingTimeInMillis: () => 10_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};
