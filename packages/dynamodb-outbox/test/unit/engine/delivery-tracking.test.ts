import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandInput,
  DynamoDBDocumentClient,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbDeliveryTracker } from '../../../src/engine/delivery-tracking';
import { expiresAtFor, type SameTableLayout } from '../../../src/runtime/layout';
import { keyOf, named, ORDERS_LAYOUT, OTHER_LAYOUT, outboxItem } from '../../support/unit';

const docMock = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const NOW = new Date('2026-11-22T10:00:05.000Z');

const tracker = (options: { layout?: SameTableLayout; retentionDays?: number; concurrency?: number } = {}) =>
  new DynamoDbDeliveryTracker(doc, {
    tableName: 'orders',
    layout: options.layout ?? ORDERS_LAYOUT,
    retentionDays: options.retentionDays ?? 7,
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
  });

const keyOfItem = (n: number, layout: SameTableLayout = ORDERS_LAYOUT) =>
  keyOf(outboxItem(n, {}, layout), layout);

/** Resolves every update after a turn of the event loop, recording the peak number in flight. */
const slowUpdates = () => {
  const state = { inFlight: 0, peak: 0 };
  docMock.on(UpdateCommand).callsFake(async () => {
    state.inFlight++;
    state.peak = Math.max(state.peak, state.inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    state.inFlight--;
    return {};
  });
  return state;
};

describe('DynamoDbDeliveryTracker', () => {
  beforeEach(() => {
    docMock.reset();
  });

  it('refuses a retention that would expire items at once', () => {
    expect(() => tracker({ retentionDays: 0 })).toThrow('retentionDays must be a positive integer, got 0');
    expect(() => tracker({ retentionDays: 1.5 })).toThrow(/retentionDays/);
  });

  describe('markPublished', () => {
    it('sets publishedAt and arms the TTL, leaves the pending index, only if the item still exists', async () => {
      // Prepare
      docMock.on(UpdateCommand).resolves({});
      const key = keyOfItem(1);
      // Act
      const result = await tracker().markPublished([key], NOW);
      // Assess
      expect(result).toEqual({ marked: 1, missing: 0, failed: [] });
      expect(docMock.commandCalls(UpdateCommand).map((c) => c.args[0].input)).toEqual([
        {
          TableName: 'orders',
          Key: { PK: 'ORDER#01JORDER000000000000000001', SK: 'OUTBOX#0000000001' },
          UpdateExpression: 'SET #publishedAt = :at, #expiresAt = :expiresAt REMOVE #pendingShard',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: {
            '#pk': 'PK',
            '#publishedAt': 'publishedAt',
            '#expiresAt': 'expiresAt',
            '#pendingShard': 'pendingShard',
          },
          ExpressionAttributeValues: {
            ':at': '2026-11-22T10:00:05.000Z',
            ':expiresAt': Math.floor(NOW.getTime() / 1000) + 7 * 86_400,
          },
        },
      ]);
      expect(expiresAtFor(NOW, 1)).toBe(Date.UTC(2026, 10, 23, 10, 0, 5) / 1000);
    });

    it("names the layout's own key, TTL and shard attributes", async () => {
      // Prepare
      docMock.on(UpdateCommand).resolves({});
      const key = keyOfItem(1, OTHER_LAYOUT);
      // Act
      const result = await tracker({ layout: OTHER_LAYOUT, retentionDays: 3 }).markPublished([key], NOW);
      // Assess
      expect(result).toEqual({ marked: 1, missing: 0, failed: [] });
      expect(docMock.commandCalls(UpdateCommand)[0]?.args[0].input).toEqual({
        TableName: 'orders',
        Key: { pk: 'ORDER#01JORDER000000000000000001', sk: 'EVT#0000000001' },
        UpdateExpression: 'SET #publishedAt = :at, #expiresAt = :expiresAt REMOVE #pendingShard',
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: {
          '#pk': 'pk',
          '#publishedAt': 'publishedAt',
          '#expiresAt': 'ttl',
          '#pendingShard': 'gsi1pk',
        },
        ExpressionAttributeValues: {
          ':at': '2026-11-22T10:00:05.000Z',
          ':expiresAt': Math.floor(NOW.getTime() / 1000) + 3 * 86_400,
        },
      });
    });

    it('counts an item that is already gone as missing, not as an error', async () => {
      // Prepare
      docMock.on(UpdateCommand).rejects(named('ConditionalCheckFailedException'));
      // Act
      const result = await tracker().markPublished([keyOfItem(1)], NOW);
      // Assess
      expect(result).toEqual({ marked: 0, missing: 1, failed: [] });
    });

    it('reports other failures per key instead of throwing', async () => {
      // Prepare
      const keys = [keyOfItem(1), keyOfItem(2)];
      docMock
        .on(UpdateCommand, { Key: keys[1] })
        .rejects(named('ProvisionedThroughputExceededException', 'slow down'))
        .on(UpdateCommand, { Key: keys[0] })
        .resolves({});
      // Act
      const result = await tracker().markPublished(keys, NOW);
      // Assess
      expect(result).toEqual({
        marked: 1,
        missing: 0,
        failed: [
          { key: keys[1], errorCode: 'ProvisionedThroughputExceededException', errorMessage: 'slow down' },
        ],
      });
    });

    it('keeps at most `concurrency` updates in flight', async () => {
      // Prepare
      const state = slowUpdates();
      const keys = Array.from({ length: 20 }, (_, i) => keyOfItem(i));
      // Act
      const result = await tracker({ concurrency: 3 }).markPublished(keys, NOW);
      // Assess
      expect(result.marked).toBe(20);
      expect(state.peak).toBe(3);
    });

    it('sends nothing for no keys', async () => {
      expect(await tracker().markPublished([], NOW)).toEqual({ marked: 0, missing: 0, failed: [] });
      expect(docMock.commandCalls(UpdateCommand)).toHaveLength(0);
    });
  });

  describe('markParked', () => {
    it('sets parkedAt and leaves the pending index, TTL unarmed, only if the item still exists', async () => {
      // Prepare
      docMock.on(UpdateCommand).resolves({});
      const key = keyOfItem(1);
      // Act
      const result = await tracker().markParked([key], NOW);
      // Assess
      expect(result).toEqual({ marked: 1, missing: 0, failed: [] });
      expect(docMock.commandCalls(UpdateCommand).map((c) => c.args[0].input)).toEqual([
        {
          TableName: 'orders',
          Key: { PK: 'ORDER#01JORDER000000000000000001', SK: 'OUTBOX#0000000001' },
          UpdateExpression: 'SET #parkedAt = :at REMOVE #pendingShard',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#pk': 'PK', '#parkedAt': 'parkedAt', '#pendingShard': 'pendingShard' },
          ExpressionAttributeValues: { ':at': '2026-11-22T10:00:05.000Z' },
        },
      ]);
    });

    it("names the layout's own key and shard attributes", async () => {
      // Prepare
      docMock.on(UpdateCommand).resolves({});
      const key = keyOfItem(1, OTHER_LAYOUT);
      // Act
      await tracker({ layout: OTHER_LAYOUT }).markParked([key], NOW);
      // Assess
      expect(docMock.commandCalls(UpdateCommand)[0]?.args[0].input).toEqual({
        TableName: 'orders',
        Key: { pk: 'ORDER#01JORDER000000000000000001', sk: 'EVT#0000000001' },
        UpdateExpression: 'SET #parkedAt = :at REMOVE #pendingShard',
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: { '#pk': 'pk', '#parkedAt': 'parkedAt', '#pendingShard': 'gsi1pk' },
        ExpressionAttributeValues: { ':at': '2026-11-22T10:00:05.000Z' },
      });
    });

    it('counts a gone item as missing and reports other failures by key, without throwing', async () => {
      // Prepare
      const [gone, throttled, parked] = [keyOfItem(1), keyOfItem(2), keyOfItem(3)];
      docMock
        .on(UpdateCommand, { Key: gone })
        .rejects(named('ConditionalCheckFailedException'))
        .on(UpdateCommand, { Key: throttled })
        .rejects(named('ProvisionedThroughputExceededException', 'slow down'))
        .on(UpdateCommand, { Key: parked })
        .resolves({});
      // Act
      const result = await tracker().markParked([gone, throttled, parked], NOW);
      // Assess
      expect(result).toEqual({
        marked: 1,
        missing: 1,
        failed: [
          { key: throttled, errorCode: 'ProvisionedThroughputExceededException', errorMessage: 'slow down' },
        ],
      });
    });

    it('keeps at most `concurrency` updates in flight', async () => {
      // Prepare
      const state = slowUpdates();
      const keys = Array.from({ length: 12 }, (_, i) => keyOfItem(i));
      // Act
      const result = await tracker({ concurrency: 2 }).markParked(keys, NOW);
      // Assess
      expect(result.marked).toBe(12);
      expect(state.peak).toBe(2);
    });
  });

  describe('settled', () => {
    it('reads marks with BatchGetItem, 100 keys a request, projecting only keys and marks', async () => {
      // Prepare: items 0–149; 3 is published, 120 is parked, the rest pending.
      docMock.on(BatchGetCommand).callsFake((input: BatchGetCommandInput) => ({
        Responses: {
          orders: (input.RequestItems?.orders?.Keys ?? []).map((key) => ({
            ...key,
            ...(key.SK === keyOfItem(3).SK && key.PK === keyOfItem(3).PK ? { publishedAt: 'x' } : {}),
            ...(key.PK === keyOfItem(120).PK ? { parkedAt: 'x' } : {}),
          })),
        },
      }));
      const keys = Array.from({ length: 150 }, (_, n) => keyOfItem(n));
      // Act
      const result = await tracker().settled(keys);
      // Assess
      expect(result).toEqual({ settled: [keyOfItem(3), keyOfItem(120)], unread: 0 });
      const calls = docMock.commandCalls(BatchGetCommand).map((c) => c.args[0].input as BatchGetCommandInput);
      expect(calls.map((c) => c.RequestItems?.orders?.Keys?.length)).toEqual([100, 50]);
      expect(calls[0]?.RequestItems?.orders).toMatchObject({
        ProjectionExpression: '#pk, #sk, #publishedAt, #parkedAt',
        ExpressionAttributeNames: {
          '#pk': 'PK',
          '#sk': 'SK',
          '#publishedAt': 'publishedAt',
          '#parkedAt': 'parkedAt',
        },
      });
      expect(calls[0]?.RequestItems?.orders?.ConsistentRead).toBeUndefined();
    });

    it('asks again for unprocessed keys, and counts what stays unread or fails as unread', async () => {
      // Prepare
      const keys = [0, 1, 2].map((n) => keyOfItem(n));
      docMock
        .on(BatchGetCommand)
        .resolvesOnce({ Responses: { orders: [] }, UnprocessedKeys: { orders: { Keys: [keys[2] ?? {}] } } })
        .rejects(new Error('ProvisionedThroughputExceededException'));
      // Act
      const result = await tracker().settled(keys);
      // Assess
      expect(result).toEqual({ settled: [], unread: 1 });
      expect(docMock.commandCalls(BatchGetCommand)).toHaveLength(2);
    });
  });
});
