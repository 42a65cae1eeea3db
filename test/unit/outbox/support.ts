import type { MetricUnit } from '@aws-lambda-powertools/metrics/types';
import type { AttributeValue, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { outboxKey } from '../../../lambdas/shared/keys';
import type { MetricName } from '../../../lambdas/shared/metric-names';
import type { OutboxItem } from '../../../lambdas/shared/outbox-event';

/** An OrderPlaced outbox item for order `n`, as the write path stores it. */
export const outboxItem = (n: number, overrides: Partial<OutboxItem> = {}): OutboxItem => {
  const orderId = `01JORDER${String(n).padStart(18, '0')}`;
  return {
    ...outboxKey(orderId, 1),
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
    pendingShard: 'PENDING#3',
    ...overrides,
  };
};

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

/** A stream record for `image`, numbered `n` within its shard. */
export const streamRecord = (
  n: number,
  image: Record<string, unknown> | undefined,
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE' = 'INSERT',
  keys?: { PK: string; SK: string },
): DynamoDBRecord => ({
  eventID: `event-${n}`,
  eventName,
  eventVersion: '1.1',
  eventSource: 'aws:dynamodb',
  awsRegion: 'us-east-1',
  eventSourceARN: 'arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-11-22T00:00:00.000',
  dynamodb: {
    ApproximateCreationDateTime: 1795860000,
    Keys: marshallItem(keys ?? { PK: image?.PK, SK: image?.SK }),
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
