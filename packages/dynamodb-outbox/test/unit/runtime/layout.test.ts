import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  bucketPartitions,
  describeKey,
  keyOfItem,
  outboxKeyOf,
  outboxKeyOfStreamKeys,
  outboxLayoutSchema,
  receiptNameOf,
  relayFilterPattern,
  sameTableLayout,
  TIME_ORDERED_TABLE_LAYOUT,
  timeIndexEntryOf,
  writtenMinuteOf,
} from '../../../src/runtime/layout';
import { ORDERS_LAYOUT, OTHER_LAYOUT } from '../../support/unit';

const event = { aggregateType: 'Order', aggregateId: '01JORDER1', sequence: 7 };

describe('sameTableLayout', () => {
  it('fills in the outbox prefix, TTL attribute, time index and its partitions by default', () => {
    expect(sameTableLayout({ partitionKey: 'PK', sortKey: 'SK' })).toEqual({
      kind: 'same-table',
      partitionKey: 'PK',
      sortKey: 'SK',
      sortKeyPrefix: 'OUTBOX#',
      timeToLiveAttribute: 'expiresAt',
      shardCount: 8,
      timeIndex: { indexName: 'outbox-by-time', partitionKey: 'outboxMinute', sortKey: 'outboxWrittenAt' },
    });
  });

  it('takes the table’s own names, and overrides only the parts of the time index given', () => {
    // Act
    const layout = sameTableLayout({
      partitionKey: 'pk',
      sortKey: 'sk',
      sortKeyPrefix: 'EVT#',
      timeToLiveAttribute: 'ttl',
      timeIndex: { indexName: 'by-time' },
      shardCount: 2,
    });
    // Assess
    expect(layout).toMatchObject({
      partitionKey: 'pk',
      sortKey: 'sk',
      sortKeyPrefix: 'EVT#',
      timeToLiveAttribute: 'ttl',
      shardCount: 2,
    });
    expect(layout.timeIndex).toEqual({
      indexName: 'by-time',
      partitionKey: 'outboxMinute',
      sortKey: 'outboxWrittenAt',
    });
  });

  it.each([
    [{ partitionKey: '', sortKey: 'SK' }, 'attribute names must not be empty'],
    [{ partitionKey: 'PK', sortKey: 'S'.repeat(256) }, 'attribute names are at most 255 characters'],
    [{ partitionKey: 'PK', sortKey: 'SK', sortKeyPrefix: '' }, 'sortKeyPrefix must not be empty'],
    [{ partitionKey: 'PK', sortKey: 'SK', shardCount: 0 }, 'shardCount must be from 1 to 100'],
    [{ partitionKey: 'PK', sortKey: 'SK', shardCount: 101 }, 'shardCount must be from 1 to 100'],
    [
      { partitionKey: 'PK', sortKey: 'SK', timeIndex: { indexName: 'ix' } },
      'timeIndex.indexName must be a DynamoDB index name',
    ],
    [
      { partitionKey: 'PK', sortKey: 'SK', sortKeyPrefix: 'RECEIPT' },
      'sortKeyPrefix must not begin RECEIPT# or WATERMARK',
    ],
    [
      { partitionKey: 'PK', sortKey: 'SK', sortKeyPrefix: 'W' },
      'sortKeyPrefix must not begin RECEIPT# or WATERMARK',
    ],
  ])('refuses %j, saying why', (options, message) => {
    expect(() => sameTableLayout(options)).toThrow(message);
  });
});

describe('TIME_ORDERED_TABLE_LAYOUT', () => {
  it('is a valid layout of the table the construct creates: pk / sk, OUTBOX#, expiresAt, 8 partitions a minute', () => {
    expect(outboxLayoutSchema.parse(TIME_ORDERED_TABLE_LAYOUT)).toEqual(TIME_ORDERED_TABLE_LAYOUT);
    expect(TIME_ORDERED_TABLE_LAYOUT).toEqual({
      kind: 'time-ordered-table',
      partitionKey: 'pk',
      sortKey: 'sk',
      sortKeyPrefix: 'OUTBOX#',
      timeToLiveAttribute: 'expiresAt',
      shardCount: 8,
    });
  });

  it('refuses a shard count out of 1 to 100, naming the field', () => {
    for (const shardCount of [0, 101])
      expect(() => outboxLayoutSchema.parse({ ...TIME_ORDERED_TABLE_LAYOUT, shardCount })).toThrow(
        'shardCount must be from 1 to 100',
      );
    expect(() => outboxLayoutSchema.parse({ ...TIME_ORDERED_TABLE_LAYOUT, previousShardCount: 101 })).toThrow(
      'previousShardCount must be from 1 to 100',
    );
  });
});

describe('bucketPartitions', () => {
  it("lists a minute's shardCount partitions", () => {
    expect(bucketPartitions({ ...TIME_ORDERED_TABLE_LAYOUT, shardCount: 3 }, '2026-11-30T12:05')).toEqual([
      '2026-11-30T12:05#0',
      '2026-11-30T12:05#1',
      '2026-11-30T12:05#2',
    ]);
  });

  it('after shardCount was lowered, also the partitions up to the previous count, where older items sit', () => {
    const lowered = { ...TIME_ORDERED_TABLE_LAYOUT, shardCount: 2, previousShardCount: 4 };
    expect(outboxLayoutSchema.parse(lowered)).toEqual(lowered);
    expect(bucketPartitions(lowered, '2026-11-30T12:05')).toEqual(
      [0, 1, 2, 3].map((shard) => `2026-11-30T12:05#${shard}`),
    );
  });
});

describe('outboxKeyOf', () => {
  it('puts a same-table item under the aggregate’s partition, sorted by its zero-padded sequence', () => {
    expect(outboxKeyOf(ORDERS_LAYOUT, event, { aggregateKey: 'ORDER#01JORDER1' })).toEqual({
      PK: 'ORDER#01JORDER1',
      SK: 'OUTBOX#0000000007',
    });
    expect(outboxKeyOf(OTHER_LAYOUT, event, { aggregateKey: 'ORDER#01JORDER1' })).toEqual({
      pk: 'ORDER#01JORDER1',
      sk: 'EVT#0000000007',
    });
  });

  it('keeps an aggregate’s items in sequence order as strings sort', () => {
    const sortKeys = [10, 9, 100, 1].map(
      (sequence) => outboxKeyOf(ORDERS_LAYOUT, { ...event, sequence }, { aggregateKey: 'A' }).SK,
    );
    expect([...sortKeys].sort()).toEqual([
      'OUTBOX#0000000001',
      'OUTBOX#0000000009',
      'OUTBOX#0000000010',
      'OUTBOX#0000000100',
    ]);
  });

  it('needs the aggregate key for a same-table outbox', () => {
    const message = 'A same-table outbox needs the aggregate key (the partition key value of the aggregate)';
    expect(() => outboxKeyOf(ORDERS_LAYOUT, event)).toThrow(message);
    expect(() => outboxKeyOf(ORDERS_LAYOUT, event, { aggregateKey: '' })).toThrow(message);
  });

  it('keys a time-ordered table by the write time, not occurredAt, whatever aggregate key is given', () => {
    const writtenAt = new Date('2026-11-30T12:05:07.123Z');
    // An event that occurred long before it is written: keyed where the reconciler reads next.
    const occurred = { ...event, occurredAt: '2026-01-01T00:00:00.000Z' };
    const key = outboxKeyOf(TIME_ORDERED_TABLE_LAYOUT, occurred, { writtenAt });
    expect(key).toEqual({
      pk: expect.stringMatching(/^2026-11-30T12:05#[0-7]$/),
      sk: 'OUTBOX#2026-11-30T12:05:07.123Z#Order#01JORDER1#0000000007',
    });
    expect(
      outboxKeyOf(TIME_ORDERED_TABLE_LAYOUT, occurred, { writtenAt, aggregateKey: 'ORDER#01JORDER1' }),
    ).toEqual(key);
    expect(() => outboxKeyOf(TIME_ORDERED_TABLE_LAYOUT, event)).toThrow(
      'A time-ordered outbox keys items by their write time',
    );
  });
});

describe('keyOfItem', () => {
  it('reads the layout’s key attributes when both are strings', () => {
    const item = { pk: 'A', sk: 'EVT#1', PK: 'B', SK: 'OUTBOX#1', eventId: 'e' };
    expect(keyOfItem(OTHER_LAYOUT, item)).toEqual({ pk: 'A', sk: 'EVT#1' });
    expect(keyOfItem(ORDERS_LAYOUT, item)).toEqual({ PK: 'B', SK: 'OUTBOX#1' });
  });

  it('has no key for an item without them, or with other types', () => {
    expect(keyOfItem(ORDERS_LAYOUT, { PK: 'A' })).toBeUndefined();
    expect(keyOfItem(ORDERS_LAYOUT, { PK: 'A', SK: 1 })).toBeUndefined();
    expect(keyOfItem(OTHER_LAYOUT, { PK: 'A', SK: 'EVT#1' })).toBeUndefined();
  });
});

describe('outboxKeyOfStreamKeys', () => {
  it('is the key of an outbox item: string key attributes, sort key with the outbox prefix', () => {
    expect(outboxKeyOfStreamKeys(OTHER_LAYOUT, { pk: { S: 'A' }, sk: { S: 'EVT#0000000001' } })).toEqual({
      pk: 'A',
      sk: 'EVT#0000000001',
    });
  });

  it.each([
    ['an aggregate item', { pk: { S: 'A' }, sk: { S: 'PROFILE' } }],
    ['another layout’s outbox item', { PK: { S: 'A' }, SK: { S: 'EVT#0000000001' } }],
    ['another prefix', { pk: { S: 'A' }, sk: { S: 'OUTBOX#0000000001' } }],
    ['a number key', { pk: { S: 'A' }, sk: { N: '1' } }],
    ['no sort key', { pk: { S: 'A' } }],
    ['no keys at all', undefined],
  ])('is undefined for %s', (_name, keys) => {
    expect(outboxKeyOfStreamKeys(OTHER_LAYOUT, keys)).toBeUndefined();
  });
});

describe('relayFilterPattern', () => {
  it('passes only INSERTs whose sort key has the layout’s outbox prefix', () => {
    expect(relayFilterPattern(ORDERS_LAYOUT)).toEqual({
      eventName: ['INSERT'],
      dynamodb: { Keys: { SK: { S: [{ prefix: 'OUTBOX#' }] } } },
    });
    expect(relayFilterPattern(OTHER_LAYOUT)).toEqual({
      eventName: ['INSERT'],
      dynamodb: { Keys: { sk: { S: [{ prefix: 'EVT#' }] } } },
    });
  });
});

describe('the time index entry', () => {
  const envelope = { aggregateType: 'Order', aggregateId: '01JORDER1' };
  const writtenAt = new Date('2026-11-22T10:00:30.250Z');

  it('places a same-table item in its write minute, spread over the layout’s partitions by aggregate, sorted by write time', () => {
    // Act
    const entry = timeIndexEntryOf(ORDERS_LAYOUT, envelope, writtenAt);
    // Assess
    expect(entry).toEqual({
      outboxMinute: expect.stringMatching(/^2026-11-22T10:00#[0-7]$/),
      outboxWrittenAt: '2026-11-22T10:00:30.250Z',
    });
    expect(timeIndexEntryOf(ORDERS_LAYOUT, envelope, writtenAt)).toEqual(entry);
    expect(writtenMinuteOf(ORDERS_LAYOUT, { PK: 'x', SK: 'y' }, entry)).toBe('2026-11-22T10:00');
  });

  it('spreads aggregates evenly over the partitions', () => {
    // Act
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const aggregateId = createHash('sha256').update(String(i)).digest('base64url');
      const { outboxMinute } = timeIndexEntryOf(
        ORDERS_LAYOUT,
        { aggregateType: 'Order', aggregateId },
        writtenAt,
      );
      counts.set(String(outboxMinute), (counts.get(String(outboxMinute)) ?? 0) + 1);
    }
    // Assess: 500 a partition on average; within 20% of it.
    expect([...counts.keys()].sort()).toEqual(Array.from({ length: 8 }, (_, i) => `2026-11-22T10:00#${i}`));
    for (const count of counts.values()) expect(count).toBeGreaterThan(400);
    for (const count of counts.values()) expect(count).toBeLessThan(600);
  });

  it('is nothing on a time-ordered table, whose key says the minute', () => {
    const key = outboxKeyOf(TIME_ORDERED_TABLE_LAYOUT, { ...envelope, sequence: 1 }, { writtenAt });
    expect(timeIndexEntryOf(TIME_ORDERED_TABLE_LAYOUT, envelope, writtenAt)).toEqual({});
    expect(writtenMinuteOf(TIME_ORDERED_TABLE_LAYOUT, key, undefined)).toBe('2026-11-22T10:00');
  });

  it('leaves the minute of a same-table item without an entry unknown', () => {
    expect(
      writtenMinuteOf(ORDERS_LAYOUT, { PK: 'x', SK: 'y' }, { otherAttribute: '2026-11-22T10:00#3' }),
    ).toBeUndefined();
  });
});

describe('receiptNameOf', () => {
  it('names a time-ordered item by its sort key, a same-table item by its whole key', () => {
    expect(
      receiptNameOf(TIME_ORDERED_TABLE_LAYOUT, {
        pk: '2026-11-22T10:00#3',
        sk: 'OUTBOX#2026-11-22T10:00:30.250Z#Order#1#0000000001',
      }),
    ).toBe('OUTBOX#2026-11-22T10:00:30.250Z#Order#1#0000000001');
    expect(receiptNameOf(OTHER_LAYOUT, { pk: 'ORDER#1', sk: 'EVT#0000000001' })).toBe(
      '["ORDER#1","EVT#0000000001"]',
    );
    expect(receiptNameOf(ORDERS_LAYOUT, { PK: 'A#B', SK: 'OUTBOX#1' })).not.toBe(
      receiptNameOf(ORDERS_LAYOUT, { PK: 'A', SK: 'B#OUTBOX#1' }),
    );
  });
});

describe('describeKey', () => {
  it('names each key attribute with its value, for logs', () => {
    expect(describeKey({ pk: 'ORDER#1', sk: 'EVT#0000000001' })).toBe('pk=ORDER#1, sk=EVT#0000000001');
    expect(describeKey(undefined)).toBeUndefined();
  });
});
