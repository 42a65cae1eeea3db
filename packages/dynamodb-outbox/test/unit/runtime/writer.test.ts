import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../../src/runtime/envelope';
import { type OutboxLayout, TIME_ORDERED_TABLE_LAYOUT, timeIndexEntryOf } from '../../../src/runtime/layout';
import { parseOutboxItem } from '../../../src/runtime/outbox-item';
import type { WriterSettings } from '../../../src/runtime/settings';
import {
  checkTransactionLimits,
  itemSizeBytes,
  OutboxWriteError,
  OutboxWriter,
  TRANSACTION_LIMITS,
  type TransactItem,
} from '../../../src/runtime/writer';
import { ORDERS_LAYOUT, OTHER_LAYOUT } from '../../support/unit';

const TRACE = 'Root=1-6740a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1';
const OCCURRED_AT = '2026-11-22T10:00:00.000Z';

const event = (sequence = 1, overrides: Partial<EventEnvelope> = {}): EventEnvelope => ({
  eventId: `01JEVENT${String(sequence).padStart(18, '0')}`,
  eventType: 'OrderPlaced',
  aggregateType: 'Order',
  aggregateId: '01JORDER000000000000000001',
  sequence,
  occurredAt: OCCURRED_AT,
  schemaVersion: 1,
  payload: { orderId: '01JORDER000000000000000001', total: 500 },
  ...overrides,
});

const settings = (overrides: Partial<WriterSettings> = {}): WriterSettings => ({
  tableName: 'orders',
  layout: ORDERS_LAYOUT,
  deliveryTracking: true,
  retentionDays: 7,
  ...overrides,
});

/** Written a minute after the events occurred. */
const WRITTEN_AT = '2026-11-22T10:01:00.000Z';

const writer = (overrides: Partial<WriterSettings> = {}, traceHeader?: string) =>
  new OutboxWriter(settings(overrides), { traceHeader: () => traceHeader, now: () => new Date(WRITTEN_AT) });

/** A Put of an item that is exactly `bytes` large as DynamoDB counts it. */
const putOfSize = (bytes: number, id = 'a'): TransactItem => {
  const Item = { PK: id, data: '' };
  Item.data = 'x'.repeat(bytes - itemSizeBytes(Item));
  expect(itemSizeBytes(Item)).toBe(bytes);
  return { Put: { TableName: 'orders', Item } };
};

describe('OutboxWriter', () => {
  describe('item', () => {
    it('stores a same-table event beside its aggregate, with its trace header, TTL and time index entry', () => {
      // Act
      const item = writer({}, TRACE).item(
        event(3, { correlationId: 'corr-1' }),
        'ORDER#01JORDER000000000000000001',
      );
      // Assess
      expect(item).toEqual({
        PK: 'ORDER#01JORDER000000000000000001',
        SK: 'OUTBOX#0000000003',
        ...event(3, { correlationId: 'corr-1' }),
        traceHeader: TRACE,
        expiresAt: Date.parse(WRITTEN_AT) / 1000 + 7 * 86_400,
        // Written at WRITTEN_AT: listed by the reconciler under that minute, whenever the event occurred.
        outboxMinute: expect.stringMatching(/^2026-11-22T10:01#[0-7]$/),
        outboxWrittenAt: WRITTEN_AT,
      });
      expect(item.outboxMinute).toBe(
        timeIndexEntryOf(ORDERS_LAYOUT, event(3), new Date(WRITTEN_AT)).outboxMinute,
      );
    });

    it("uses the layout's own key, time index and TTL attribute names", () => {
      // Act
      const tracked = writer({ layout: OTHER_LAYOUT }).item(event(), 'ORDER#1');
      const untracked = writer({ layout: OTHER_LAYOUT, deliveryTracking: false }).item(event(), 'ORDER#1');
      // Assess
      expect(tracked).toMatchObject({
        pk: 'ORDER#1',
        sk: 'EVT#0000000001',
        gsi1pk: expect.stringMatching(/^2026-11-22T10:01#[0-3]$/),
        gsi1sk: WRITTEN_AT,
        ttl: Date.parse(WRITTEN_AT) / 1000 + 7 * 86_400,
      });
      expect(untracked).toMatchObject({
        pk: 'ORDER#1',
        sk: 'EVT#0000000001',
        ttl: Date.parse(WRITTEN_AT) / 1000 + 7 * 86_400,
      });
      expect(tracked).not.toHaveProperty('PK');
      expect(untracked).not.toHaveProperty('gsi1pk');
    });

    it('arms the TTL at write time, retentionDays after it is written, without delivery tracking', () => {
      // Act
      const item = writer({ deliveryTracking: false, retentionDays: 30 }).item(event(), 'ORDER#1');
      // Assess
      expect(item.expiresAt).toBe(Date.parse(WRITTEN_AT) / 1000 + 30 * 86_400);
      // No reconciler lists it: no index entry to pay for.
      expect(item).not.toHaveProperty('outboxMinute');
      expect(item).not.toHaveProperty('traceHeader');
    });

    it('keys a dedicated table by the write time, with no aggregate key needed, and its TTL armed at write', () => {
      const item = writer({ layout: TIME_ORDERED_TABLE_LAYOUT }).item(event(2));
      expect(item).toMatchObject({
        pk: expect.stringMatching(/^2026-11-22T10:01#[0-7]$/),
        sk: `OUTBOX#${WRITTEN_AT}#Order#01JORDER000000000000000001#0000000002`,
        expiresAt: Date.parse(WRITTEN_AT) / 1000 + 7 * 86_400,
      });
      // Its key is its time: no index entry.
      expect(item).not.toHaveProperty('outboxMinute');
    });

    it('needs the aggregate key for a same-table outbox', () => {
      expect(() => writer().item(event())).toThrow(
        'A same-table outbox needs the aggregate key (the partition key value of the aggregate)',
      );
    });

    it('refuses an invalid event, naming the field and not its value', () => {
      // Act
      const attempt = () => writer().item(event(0, { occurredAt: 'yesterday' }), 'ORDER#1');
      // Assess
      expect(attempt).toThrow(OutboxWriteError);
      expect(attempt).toThrow(/^Invalid outbox event: sequence: .*; occurredAt: /);
      expect(attempt).not.toThrow(/yesterday/);
    });

    it('stores the envelope fields only: nothing else in the event reaches the item', () => {
      // Prepare
      const stray = { ...event(), PK: 'ORDER#someone-else', publishedAt: 'never' } as EventEnvelope;
      // Act
      const item = writer().item(stray, 'ORDER#01JORDER000000000000000001');
      // Assess
      expect(item.PK).toBe('ORDER#01JORDER000000000000000001');
      expect(item).not.toHaveProperty('publishedAt');
    });

    it('writes an item that reads back as the same event', () => {
      // Act
      const item = writer({ layout: OTHER_LAYOUT }, TRACE).item(event(), 'ORDER#1');
      const parsed = parseOutboxItem(OTHER_LAYOUT, item);
      // Assess
      expect(parsed).toMatchObject({ ok: true, record: { envelope: event(), traceHeader: TRACE } });
    });
  });

  describe('puts', () => {
    it.each([
      ['same table, PK/SK', ORDERS_LAYOUT, 'PK'],
      ['same table, pk/sk', OTHER_LAYOUT, 'pk'],
      ['dedicated table', TIME_ORDERED_TABLE_LAYOUT, 'pk'],
    ] as [string, OutboxLayout, string][])(
      'makes one Put per event that fails if the key exists (%s)',
      (_name, layout, partitionKey) => {
        // Prepare
        const outbox = writer({ layout, tableName: 'outbox' });
        // Act
        const puts = outbox.puts([event(1), event(2)], { aggregateKey: 'ORDER#01JORDER000000000000000001' });
        // Assess
        expect(puts).toEqual(
          [1, 2].map((sequence) => ({
            Put: {
              TableName: 'outbox',
              Item: outbox.item(event(sequence), 'ORDER#01JORDER000000000000000001'),
              ConditionExpression: 'attribute_not_exists(#pk)',
              ExpressionAttributeNames: { '#pk': partitionKey },
            },
          })),
        );
      },
    );

    it('needs the aggregate key for a same-table outbox', () => {
      expect(() => writer().puts([event()])).toThrow(/needs the aggregate key/);
    });
  });

  describe('transaction', () => {
    it("puts the service's own actions first and the events' Puts after them", () => {
      // Prepare
      const order: TransactItem = { Put: { TableName: 'orders', Item: { PK: 'ORDER#1', SK: 'ORDER' } } };
      // Act
      const items = writer().transaction([order], [event(1), event(2)], { aggregateKey: 'ORDER#1' });
      // Assess
      expect(items).toEqual([order, ...writer().puts([event(1), event(2)], { aggregateKey: 'ORDER#1' })]);
    });

    it('refuses more than 100 actions, counting the events', () => {
      // Prepare
      const actions = Array.from(
        { length: 99 },
        (_, i): TransactItem => ({
          ConditionCheck: {
            TableName: 'orders',
            Key: { PK: `A#${i}`, SK: 'A' },
            ConditionExpression: 'attribute_exists(PK)',
          },
        }),
      );
      // Act + Assess
      expect(writer().transaction(actions, [event(1)], { aggregateKey: 'ORDER#1' })).toHaveLength(100);
      expect(() => writer().transaction(actions, [event(1), event(2)], { aggregateKey: 'ORDER#1' })).toThrow(
        new OutboxWriteError('The transaction has 101 actions; TransactWriteItems allows 100'),
      );
    });

    it('refuses an event whose item is over 400 KB', () => {
      // Prepare
      const big = event(1, { payload: { pad: 'x'.repeat(400 * 1024) } });
      // Act + Assess
      expect(() => writer().transaction([], [big], { aggregateKey: 'ORDER#1' })).toThrow(
        /^Item 0 of the transaction is \d+ bytes; DynamoDB allows 409600$/,
      );
    });
  });
});

describe('checkTransactionLimits', () => {
  it('names the limits TransactWriteItems documents', () => {
    expect(TRANSACTION_LIMITS).toEqual({ maxItems: 100, maxBytes: 4_194_304, maxItemBytes: 409_600 });
  });

  it('accepts an item of exactly 400 KB and refuses one byte more, naming the item', () => {
    expect(() => checkTransactionLimits([putOfSize(409_600)])).not.toThrow();
    expect(() => checkTransactionLimits([putOfSize(10), putOfSize(409_601)])).toThrow(
      new OutboxWriteError('Item 1 of the transaction is 409601 bytes; DynamoDB allows 409600'),
    );
  });

  it('accepts exactly 4 MB in all and refuses one byte more', () => {
    // Prepare: ten items of 400 KB and one of the rest.
    const full = [...Array.from({ length: 10 }, (_, i) => putOfSize(409_600, `a${i}`)), putOfSize(98_304)];
    const over = [...full.slice(0, 10), putOfSize(98_305)];
    // Act + Assess
    expect(() => checkTransactionLimits(full)).not.toThrow();
    expect(() => checkTransactionLimits(over)).toThrow(
      new OutboxWriteError('The transaction is 4194305 bytes; TransactWriteItems allows 4194304 in all'),
    );
  });

  it('counts an Update by its key and values', () => {
    // Prepare
    const puts = Array.from({ length: 10 }, (_, i) => putOfSize(409_600, `a${i}`));
    const update = (valueBytes: number): TransactItem => ({
      Update: {
        TableName: 'orders',
        Key: { PK: 'a' },
        UpdateExpression: 'SET #v = :v',
        ExpressionAttributeNames: { '#v': 'v' },
        ExpressionAttributeValues: { ':v': 'x'.repeat(valueBytes) },
      },
    });
    // Act + Assess: key 3 bytes, ':v' 2 bytes.
    expect(() => checkTransactionLimits([...puts, update(98_304 - 5)])).not.toThrow();
    expect(() => checkTransactionLimits([...puts, update(98_304 - 4)])).toThrow(/4194305 bytes/);
  });
});

describe('itemSizeBytes', () => {
  it.each([
    [{ name: 'xyz' }, 4 + 3],
    [{ héllo: 'wörld' }, 6 + 6],
    [{ n: 12345 }, 1 + 4],
    // "Leading and trailing zeroes are trimmed": 100 and 0.001 have one significant digit.
    [{ n: 100 }, 1 + 2],
    [{ n: 0.001 }, 1 + 2],
    [{ n: -12.5 }, 1 + 3],
    [{ flag: true }, 4 + 1],
    [{ nothing: null }, 7 + 1],
    [{ m: { k: 'v' } }, 1 + 3 + (1 + 1 + 1)],
    [{ l: ['a', 'bc'] }, 1 + 3 + (1 + 1) + (1 + 2)],
  ])('counts %j as %i bytes', (item, bytes) => {
    expect(itemSizeBytes(item)).toBe(bytes);
  });
});
