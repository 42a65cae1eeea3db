import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand, type PutEventsCommandInput } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import {
  DeleteCommand,
  type DeleteCommandInput,
  DynamoDBDocumentClient,
  GetCommand,
  type GetCommandInput,
  PutCommand,
  type PutCommandInput,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeliveryReceipts } from '../../../src/engine/delivery-tracking';
import { listingFor } from '../../../src/engine/outbox-listing/listing-for';
import { TimeOrderedOutbox, WATERMARK_KEY } from '../../../src/engine/pending-outbox';
import type { PoisonRecord } from '../../../src/engine/poison-queue';
import type { Publishable, PublishResult } from '../../../src/engine/publisher';
import { RETRIES_EXHAUSTED, type ReconcilerDeps, reconcile } from '../../../src/engine/reconciler';
import { STUCK_PARTITION, StuckEvents } from '../../../src/engine/reconciler-retries';
import { buildReconcilerHandler } from '../../../src/engine/wiring';
import type { EventEnvelope } from '../../../src/runtime/envelope';
import {
  type OutboxLayout,
  TIME_ORDERED_TABLE_LAYOUT,
  type TimeOrderedLayout,
} from '../../../src/runtime/layout';
import type { ReconcilerSettings } from '../../../src/runtime/settings';
import { writtenWhenItOccurred } from '../../support/outbox-items';
import { fakeLogger, fakeMetrics } from '../../support/unit';

/*
 * The reconciler on a time-ordered outbox table: where a first run starts, how a run cut short by
 * its budget saves its position and the next one resumes there, and that the watermark never
 * passes a minute that still holds something to publish. The table is a small in-memory stand-in
 * behind the mocked document client (Get, Put and the Queries the code issues), so that several
 * runs see each other's watermark and receipts.
 */

const TABLE = 'outbox';
const RETENTION_DAYS = 7;
const NOW = new Date('2026-11-30T12:00:30.000Z');
/** One partition a minute, so that the partitions a run reads can be listed in full. */
const ONE_SHARD: TimeOrderedLayout = { ...TIME_ORDERED_TABLE_LAYOUT, shardCount: 1 };

const ddb = mockClient(DynamoDBDocumentClient);
const eventBridge = mockClient(EventBridgeClient);
const sqs = mockClient(SQSClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));

type Item = Record<string, unknown>;

/**
 * A time-ordered table in memory. Query answers `#pk = :pk` (receipts) and `#pk = :pk AND #sk
 * BETWEEN :first AND :before` (outbox items), in sort-key order, with Limit and ExclusiveStartKey
 * as DynamoDB applies them: a page that reaches Limit carries a LastEvaluatedKey, even when
 * nothing follows.
 */
const fakeTable = () => {
  const items = new Map<string, Item>();
  const idOf = (key: Item | undefined) => `${String(key?.pk)}|${String(key?.sk)}`;
  ddb.on(PutCommand).callsFake((input: PutCommandInput) => {
    items.set(idOf(input.Item), { ...input.Item });
    return {};
  });
  ddb.on(DeleteCommand).callsFake((input: DeleteCommandInput) => {
    items.delete(idOf(input.Key));
    return {};
  });
  ddb.on(GetCommand).callsFake((input: GetCommandInput) => {
    const item = items.get(idOf(input.Key));
    return item ? { Item: item } : {};
  });
  ddb.on(QueryCommand).callsFake((input: QueryCommandInput) => {
    const values = input.ExpressionAttributeValues ?? {};
    const after = input.ExclusiveStartKey?.sk as string | undefined;
    const matching = [...items.values()]
      .filter((item) => item.pk === values[':pk'])
      .map((item) => ({ item, sk: String(item.sk) }))
      .filter(
        ({ sk }) => values[':first'] === undefined || (sk >= values[':first'] && sk <= values[':before']),
      )
      .filter(({ sk }) => after === undefined || sk > after)
      .sort((a, b) => (a.sk < b.sk ? -1 : 1))
      .map(({ item }) => item);
    const page = input.Limit === undefined ? matching : matching.slice(0, input.Limit);
    const last = page.at(-1);
    return {
      Items: page,
      ...(last && page.length === input.Limit ? { LastEvaluatedKey: { pk: last.pk, sk: last.sk } } : {}),
    };
  });
  return {
    add: (item: Item) => items.set(idOf(item), item),
    watermark: () => items.get(idOf({ pk: WATERMARK_KEY.partition, sk: WATERMARK_KEY.sort }))?.bucket,
    stuck: () => [...items.values()].filter((item) => item.pk === STUCK_PARTITION),
  };
};

const writerFor = (layout: OutboxLayout, retentionDays = RETENTION_DAYS) =>
  writtenWhenItOccurred({ tableName: TABLE, layout, deliveryTracking: true, retentionDays });

const event = (n: number, occurredAt: string): EventEnvelope => ({
  eventId: `e${n}`,
  eventType: 'ThingHappened',
  aggregateType: 'Thing',
  aggregateId: `t${n}`,
  sequence: 1,
  occurredAt,
  schemaVersion: 1,
  payload: { n },
});

/** The queries of outbox partitions (receipts and stuck events left out), in order. */
const outboxQueryInputs = () =>
  ddb
    .commandCalls(QueryCommand)
    .map((call) => call.args[0].input)
    .filter((input) => {
      const pk = String(input.ExpressionAttributeValues?.[':pk']);
      return !pk.startsWith('RECEIPT#') && pk !== STUCK_PARTITION;
    });

/** The outbox partitions the reconciler queried, with Limit and start key. */
const outboxQueries = () =>
  outboxQueryInputs().map((input) => {
    const pk = String(input.ExpressionAttributeValues?.[':pk']);
    const after = input.ExclusiveStartKey?.sk as string | undefined;
    return after === undefined ? [pk, input.Limit] : [pk, input.Limit, after];
  });

const receiptQueries = () =>
  ddb
    .commandCalls(QueryCommand)
    .map((call) => String(call.args[0].input.ExpressionAttributeValues?.[':pk']))
    .filter((pk) => pk.startsWith('RECEIPT#'));

const watermarkWrites = () =>
  ddb
    .commandCalls(PutCommand)
    .map((call) => call.args[0].input.Item)
    .filter((item) => item?.pk === WATERMARK_KEY.partition);

/** Allows `pages` pages, then says the run's time is up. */
const timeFor = (pages: number) => {
  let left = pages;
  return () => left-- > 0;
};

const publishAll = (records: readonly Publishable[]): Promise<PublishResult> =>
  Promise.resolve({ published: records.map((_, i) => i), retryable: [], poison: [] });

interface RunOptions {
  readonly layout?: TimeOrderedLayout;
  readonly now?: Date;
  readonly lookbackSeconds?: number;
  readonly maxItemsPerRun?: number;
  readonly maxPagesPerRun?: number;
  readonly publish?: (records: readonly Publishable[]) => Promise<PublishResult>;
}

/** The reconciler's dependencies as the wiring composes them for a time-ordered table, on the fake table. */
const reconcilerOn = ({
  layout = ONE_SHARD,
  now = NOW,
  lookbackSeconds = RETENTION_DAYS * 86_400,
  maxItemsPerRun = 1000,
  maxPagesPerRun,
  publish = publishAll,
}: RunOptions = {}) => {
  const tracker = new DeliveryReceipts(doc, {
    tableName: TABLE,
    layout,
    retentionDays: RETENTION_DAYS,
  });
  const published: string[] = [];
  const deps: ReconcilerDeps = {
    pending: new TimeOrderedOutbox(doc, {
      tableName: TABLE,
      layout,
      items: listingFor(doc, TABLE, layout),
      receipts: tracker,
      lookbackSeconds,
      now: () => now,
    }),
    stuck: new StuckEvents(doc, { tableName: TABLE, layout }),
    publisher: {
      publish: async (records) => {
        const result = await publish(records);
        for (const index of result.published) published.push(records[index]?.envelope.eventId ?? '');
        return result;
      },
    },
    poisonQueue: { send: async (records) => ({ sent: [...records], failed: [] }) },
    tracker,
    settings: {
      thresholdSeconds: 60,
      maxItemsPerRun,
      pageSize: 100,
      ...(maxPagesPerRun === undefined ? {} : { maxPagesPerRun }),
    },
    metrics: fakeMetrics(),
    logger: fakeLogger(),
    now: () => now,
  };
  return { deps, tracker, published };
};

describe('reconciling a time-ordered outbox table', () => {
  beforeEach(() => {
    ddb.reset();
    eventBridge.reset();
    sqs.reset();
    eventBridge.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => ({
      Entries: (input.Entries ?? []).map((_, i) => ({ EventId: `eb-${i}` })),
    }));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('a first run and the next, as the wiring composes them', () => {
    const settings: ReconcilerSettings = {
      eventBusName: 'bus',
      source: 'service',
      poisonQueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/poison',
      putEventsMaxBytes: 256 * 1024,
      tableName: TABLE,
      layout: TIME_ORDERED_TABLE_LAYOUT,
      retentionDays: 2,
      thresholdSeconds: 60,
      maxItemsPerRun: 40,
    };
    const handler = () =>
      buildReconcilerHandler({
        settings,
        clients: {
          dynamoDb: new DynamoDBClient({}),
          eventBridge: new EventBridgeClient({}),
          sqs: new SQSClient({}),
        },
      });
    const shardsOf = (minute: string, shards: readonly number[]) =>
      shards.map((shard) => `${minute}#${shard}`);
    const partitions = () => outboxQueries().map(([pk]) => pk);

    it('with no watermark, reads from retentionDays back, oldest minute first, every shard of it', async () => {
      // Prepare
      vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
      const table = fakeTable();
      // Inside the first minute read: retentionDays (2) before NOW is 2026-11-28T12:00:30.
      const old = writerFor(TIME_ORDERED_TABLE_LAYOUT).item(event(1, '2026-11-28T12:00:45.000Z'));
      table.add(old);

      // Act: time for ten pages.
      const report = await handler()(timeFor(10));

      // Assess
      expect(ddb.commandCalls(GetCommand).map((call) => call.args[0].input)).toEqual([
        { TableName: TABLE, Key: { pk: 'RECONCILER', sk: 'WATERMARK' }, ConsistentRead: true },
      ]);
      expect(partitions()).toEqual([
        ...shardsOf('2026-11-28T12:00', [0, 1, 2, 3, 4, 5, 6, 7]),
        ...shardsOf('2026-11-28T12:01', [0, 1]),
      ]);
      expect(outboxQueryInputs()[0]).toEqual({
        TableName: TABLE,
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :first AND :before',
        ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
        ExpressionAttributeValues: {
          ':pk': '2026-11-28T12:00#0',
          ':first': 'OUTBOX#',
          ':before': 'OUTBOX#2026-11-30T11:59:30.000Z',
        },
        Limit: 40,
      });
      const entries = eventBridge
        .commandCalls(PutEventsCommand)
        .flatMap((call) => call.args[0].input.Entries);
      expect(entries.map((entry) => JSON.parse(entry?.Detail ?? '{}').eventId)).toEqual(['e1']);
      expect(report).toMatchObject({ found: 1, republished: 1, truncated: true });
      // Cut short at 2026-11-28T12:01#2: the next run starts at that minute.
      expect(watermarkWrites()).toEqual([{ pk: 'RECONCILER', sk: 'WATERMARK', bucket: '2026-11-28T12:01' }]);
    });

    it('does not republish an item past its TTL that DynamoDB has not deleted yet', async () => {
      // Prepare: written 2 days and 20 s before NOW, with the settings' retention: expired 20 s ago.
      // TTL deletes within days, in no set order, so its receipt may already be gone.
      vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
      const table = fakeTable();
      const expired = writerFor(TIME_ORDERED_TABLE_LAYOUT, 2).item(event(1, '2026-11-28T12:00:10.000Z'));
      expect(expired.expiresAt).toBe(Date.parse('2026-11-30T12:00:10.000Z') / 1000);
      table.add(expired);

      // Act
      const report = await handler()(timeFor(8));

      // Assess: the item was read (its minute is the first one), and left alone.
      expect(partitions()).toEqual(shardsOf('2026-11-28T12:00', [0, 1, 2, 3, 4, 5, 6, 7]));
      expect(report).toMatchObject({ found: 0, republished: 0 });
      expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
    });

    it('the next run resumes at the saved minute, and reads nothing before it', async () => {
      // Prepare
      vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
      const table = fakeTable();
      const reconcileRun = handler();
      await reconcileRun(timeFor(10));
      ddb.resetHistory();

      // Act: five minutes later, time for eight pages.
      vi.setSystemTime(new Date(NOW.getTime() + 300_000));
      const report = await reconcileRun(timeFor(8));

      // Assess: the saved minute again from its first shard (its first two were read, but a
      // minute is the unit of the watermark), never 2026-11-28T12:00.
      expect(partitions()).toEqual(shardsOf('2026-11-28T12:01', [0, 1, 2, 3, 4, 5, 6, 7]));
      expect(outboxQueryInputs()[0]?.ExpressionAttributeValues?.[':before']).toBe(
        'OUTBOX#2026-11-30T12:04:30.000Z',
      );
      expect(report).toMatchObject({ found: 0, truncated: true });
      expect(table.watermark()).toBe('2026-11-28T12:02');
    });
  });

  it('a run that spends maxItemsPerRun saves the minute it stopped in; the next runs carry on from there', async () => {
    // Prepare
    const table = fakeTable();
    const writer = writerFor(ONE_SHARD);
    const items = [
      event(1, '2026-11-30T11:55:40.000Z'),
      event(2, '2026-11-30T11:55:50.000Z'),
      event(3, '2026-11-30T11:56:10.000Z'),
      event(4, '2026-11-30T11:56:20.000Z'),
      event(5, '2026-11-30T11:57:30.000Z'),
      event(6, '2026-11-30T11:59:10.000Z'),
    ].map((e) => writer.item(e));
    for (const item of items) table.add(item);
    const run = () => reconcilerOn({ lookbackSeconds: 300, maxItemsPerRun: 2 });
    // The relay published e3 and e6.
    await run().tracker.markPublished(
      [items[2], items[5]].map((item) => ({ key: { pk: String(item?.pk), sk: String(item?.sk) } })),
      NOW,
    );
    ddb.resetHistory();
    const sk = (n: number) => String(items[n - 1]?.sk);

    // Act + Assess: first run, from five minutes back (11:55:30), stops after two items.
    const first = run();
    expect(await reconcile(first.deps)).toMatchObject({ found: 2, republished: 2, truncated: true });
    expect(first.published).toEqual(['e1', 'e2']);
    expect(outboxQueries()).toEqual([['2026-11-30T11:55#0', 2]]);
    // The page reached its limit: there may be more in 11:55, so the next run starts there.
    expect(table.watermark()).toBe('2026-11-30T11:55');

    // Act + Assess: second run, from 11:55: e1 and e2 have receipts now, e3 has the relay's.
    ddb.resetHistory();
    const second = run();
    expect(await reconcile(second.deps)).toMatchObject({ found: 2, republished: 2, truncated: true });
    expect(second.published).toEqual(['e4', 'e5']);
    expect(outboxQueries()).toEqual([
      ['2026-11-30T11:55#0', 2],
      ['2026-11-30T11:55#0', 2, sk(2)],
      ['2026-11-30T11:56#0', 2],
      ['2026-11-30T11:56#0', 1, sk(4)],
      ['2026-11-30T11:57#0', 1],
    ]);
    expect(table.watermark()).toBe('2026-11-30T11:57');

    // Act + Assess: third run, from 11:57 (11:55 and 11:56 are settled, never read again), to the
    // cut-off (11:59:30): nothing left, so the watermark reaches the cut-off's minute.
    ddb.resetHistory();
    const third = run();
    expect(await reconcile(third.deps)).toMatchObject({ found: 0, republished: 0, truncated: false });
    expect(third.published).toEqual([]);
    expect(outboxQueries()).toEqual([
      ['2026-11-30T11:57#0', 2],
      ['2026-11-30T11:58#0', 2],
      ['2026-11-30T11:59#0', 2],
    ]);
    expect(receiptQueries()).toEqual([
      'RECEIPT#2026-11-30T11:57',
      'RECEIPT#2026-11-30T11:58',
      'RECEIPT#2026-11-30T11:59',
    ]);
    expect(watermarkWrites()).toEqual([{ pk: 'RECONCILER', sk: 'WATERMARK', bucket: '2026-11-30T11:59' }]);
  });

  it('never moves the watermark past a minute holding an event too young to republish', async () => {
    // Prepare: watermark at 11:58; cut-off NOW - 60 s = 11:59:30.
    const table = fakeTable();
    table.add({ pk: 'RECONCILER', sk: 'WATERMARK', bucket: '2026-11-30T11:58' });
    const writer = writerFor(ONE_SHARD);
    table.add(writer.item(event(1, '2026-11-30T11:58:20.000Z')));
    table.add(writer.item(event(2, '2026-11-30T11:59:10.000Z')));
    // Unreceipted, but 20 s short of the threshold.
    table.add(writer.item(event(3, '2026-11-30T11:59:50.000Z')));

    // Act
    const first = reconcilerOn();
    const report = await reconcile(first.deps);

    // Assess
    expect(report).toMatchObject({ found: 2, republished: 2, truncated: false });
    expect(first.published).toEqual(['e1', 'e2']);
    expect(outboxQueries()).toEqual([
      ['2026-11-30T11:58#0', 100],
      ['2026-11-30T11:59#0', 100],
    ]);
    expect(table.watermark()).toBe('2026-11-30T11:59');

    // Act: a minute later e3 is old enough.
    ddb.resetHistory();
    const later = reconcilerOn({ now: new Date(NOW.getTime() + 60_000) });
    await reconcile(later.deps);

    // Assess
    expect(later.published).toEqual(['e3']);
    expect(outboxQueries()).toEqual([
      ['2026-11-30T11:59#0', 100],
      ['2026-11-30T12:00#0', 100],
    ]);
    expect(table.watermark()).toBe('2026-11-30T12:00');
  });

  it('moves the watermark past a minute whose event failed to republish; the event is retried on its own after its backoff', async () => {
    // Prepare
    const table = fakeTable();
    table.add({ pk: 'RECONCILER', sk: 'WATERMARK', bucket: '2026-11-30T11:57' });
    const writer = writerFor(ONE_SHARD);
    const e1 = writer.item(event(1, '2026-11-30T11:57:20.000Z'));
    table.add(e1);
    table.add(writer.item(event(2, '2026-11-30T11:58:20.000Z')));
    table.add(writer.item(event(3, '2026-11-30T11:59:10.000Z')));
    const throttled = reconcilerOn({
      publish: async (records) => ({
        published: records.flatMap((r, i) => (r.envelope.eventId === 'e1' ? [] : [i])),
        retryable: records.flatMap((r, index) =>
          r.envelope.eventId === 'e1'
            ? [{ index, errorCode: 'ThrottlingException', errorMessage: 'slow' }]
            : [],
        ),
        poison: [],
      }),
    });

    // Act
    const report = await reconcile(throttled.deps);

    // Assess: e1 is a stuck event of its own, the listing moved on to the cut-off's minute.
    expect(report).toMatchObject({ found: 3, republished: 2, retryable: 1, stuck: 1, truncated: false });
    expect(throttled.published).toEqual(['e2', 'e3']);
    expect(table.watermark()).toBe('2026-11-30T11:59');
    expect(table.stuck()).toEqual([
      {
        pk: STUCK_PARTITION,
        sk: JSON.stringify([
          ['pk', e1.pk],
          ['sk', e1.sk],
        ]),
        outboxKey: { pk: e1.pk, sk: e1.sk },
        attempts: 1,
        firstFailedAt: NOW.toISOString(),
        nextAttemptAt: '2026-11-30T12:05:30.000Z',
        lastErrorCode: 'ThrottlingException',
        lastErrorMessage: 'slow',
        expiresAt: e1.expiresAt,
      },
    ]);

    // Act: a run before its backoff is over leaves it alone.
    const early = reconcilerOn({ now: new Date(NOW.getTime() + 60_000) });
    expect(await reconcile(early.deps)).toMatchObject({ deferred: 1, stuck: 1, republished: 0 });

    // Act: once due, it is read again from the table and published; its entry goes.
    const due = reconcilerOn({ now: new Date(NOW.getTime() + 300_000) });
    expect(await reconcile(due.deps)).toMatchObject({ deferred: 0, stuck: 0, republished: 1 });

    // Assess
    expect(due.published).toEqual(['e1']);
    expect(table.stuck()).toEqual([]);
    expect(table.watermark()).toBe('2026-11-30T12:04');
  });

  it('a first run over a week at 8 shards makes its partitions as it reads them, stops at maxPagesPerRun and saves that minute', async () => {
    // Prepare: no watermark; a week back from NOW is 2026-11-23T12:00:30.
    const table = fakeTable();
    const { deps } = reconcilerOn({
      layout: TIME_ORDERED_TABLE_LAYOUT,
      lookbackSeconds: 7 * 86_400,
      maxPagesPerRun: 20,
    });

    // Act
    const partitions = await deps.pending.shards('2026-11-30T11:59:30.000Z');
    const report = await reconcile(deps);

    // Assess: a lazy sequence, not the week's 80,640 partitions up front.
    expect(Array.isArray(partitions)).toBe(false);
    const [first, second] = partitions;
    expect([first, second]).toEqual(['2026-11-23T12:00#0', '2026-11-23T12:00#1']);
    // Two minutes of 8 shards, then 4 of the third: it stopped at 12:02#4, so 12:02 is read again.
    expect(report).toMatchObject({ found: 0, truncated: true });
    expect(outboxQueries()).toHaveLength(20);
    expect(outboxQueries().at(-1)?.[0]).toBe('2026-11-23T12:02#3');
    expect(table.watermark()).toBe('2026-11-23T12:02');
  });

  it('parks an event that fails retryably now when its TTL would pass before its next attempt', async () => {
    // Prepare: written at 11:58:20 with a TTL 3 minutes from NOW; the next attempt would be in 5.
    const table = fakeTable();
    table.add({ pk: 'RECONCILER', sk: 'WATERMARK', bucket: '2026-11-30T11:58' });
    const item: Record<string, unknown> = {
      ...writerFor(ONE_SHARD).item(event(1, '2026-11-30T11:58:20.000Z')),
      expiresAt: NOW.getTime() / 1000 + 180,
    };
    table.add(item);
    const parked: PoisonRecord[] = [];
    const { deps } = reconcilerOn({
      publish: async (records) => ({
        published: [],
        retryable: records.map((_, index) => ({
          index,
          errorCode: 'ThrottlingException',
          errorMessage: 'slow',
        })),
        poison: [],
      }),
    });

    // Act
    const report = await reconcile({
      ...deps,
      poisonQueue: {
        send: async (records) => {
          parked.push(...records);
          return { sent: [...records], failed: [] };
        },
      },
    });

    // Assess: parked with its content, recorded parked in the minute's receipt, not kept as stuck.
    expect(report).toMatchObject({ retryable: 1, parked: 1, parkedAfterRetries: 1, stuck: 0 });
    expect(parked).toEqual([
      expect.objectContaining({
        errorCode: RETRIES_EXHAUSTED,
        reason: `Failed retryably on 1 reconciler runs since ${NOW.toISOString()}, and its TTL comes before the next attempt; last error ThrottlingException: slow`,
        item,
      }),
    ]);
    expect(table.stuck()).toEqual([]);
    expect(
      (await deps.tracker.settled([{ key: { pk: String(item.pk), sk: String(item.sk) } }])).settled,
    ).toHaveLength(1);
  });

  it('on an empty table, a first run reads every shard of the lookback and moves the watermark to the cut-off', async () => {
    // Prepare
    const table = fakeTable();
    const shards = (minute: string) => Array.from({ length: 8 }, (_, i) => [`${minute}#${i}`, 100]);

    // Act: three minutes back from NOW (11:57:30), cut-off 11:59:30.
    const report = await reconcile(
      reconcilerOn({ layout: TIME_ORDERED_TABLE_LAYOUT, lookbackSeconds: 180 }).deps,
    );

    // Assess
    expect(report).toMatchObject({ found: 0, truncated: false });
    expect(outboxQueries()).toEqual([
      ...shards('2026-11-30T11:57'),
      ...shards('2026-11-30T11:58'),
      ...shards('2026-11-30T11:59'),
    ]);
    expect(watermarkWrites()).toEqual([{ pk: 'RECONCILER', sk: 'WATERMARK', bucket: '2026-11-30T11:59' }]);

    // Act: five minutes later, from the watermark on.
    ddb.resetHistory();
    await reconcile(
      reconcilerOn({ layout: TIME_ORDERED_TABLE_LAYOUT, now: new Date(NOW.getTime() + 300_000) }).deps,
    );

    // Assess
    expect(outboxQueries().map(([pk]) => String(pk).slice(0, 16))).toEqual(
      ['11:59', '12:00', '12:01', '12:02', '12:03', '12:04'].flatMap((m) =>
        Array<string>(8).fill(`2026-11-30T${m}`),
      ),
    );
    expect(table.watermark()).toBe('2026-11-30T12:04');
  });
});
