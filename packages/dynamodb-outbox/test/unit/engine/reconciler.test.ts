import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  type PutCommandInput,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { DeliveryReceipts } from '../../../src/engine/delivery-tracking';
import { listingFor } from '../../../src/engine/outbox-listing/listing-for';
import { TimeOrderedOutbox } from '../../../src/engine/pending-outbox';
import type { PoisonRecord } from '../../../src/engine/poison-queue';
import type { PublishResult } from '../../../src/engine/publisher';
import { type ReconcilerDeps, reconcile } from '../../../src/engine/reconciler';
import { StuckEvents } from '../../../src/engine/reconciler-retries';
import type { SameTableLayout } from '../../../src/runtime/layout';
import type { OutboxRecord } from '../../../src/runtime/outbox-item';
import { ORDERS_LAYOUT, OTHER_LAYOUT, recordOf } from '../../support/unit';

/*
 * The reconciler on a same-table outbox: it lists the items by their time index entry, minute by
 * minute from its watermark, and records what it republished or parked in receipts, as the relay
 * does. The watermark sits at the minute before the cut-off, so that a run reads two minutes.
 */

const NOW = new Date('2026-11-22T12:00:00.000Z');
/** NOW less the 900 s threshold: the cut-off, in minute 11:45. */
const BEFORE = '2026-11-22T11:45:00.000Z';
const MINUTE = '2026-11-22T11:44';
const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));

/** A pending outbox item of order `o<n>`, written in MINUTE, in time index partition `shard`. */
const item = (n: number, shard = 0): Record<string, unknown> => ({
  PK: `ORDER#o${n}`,
  SK: 'OUTBOX#0000000001',
  eventId: `e${n}`,
  eventType: 'OrderPlaced',
  aggregateType: 'Order',
  aggregateId: `o${n}`,
  sequence: 1,
  occurredAt: `2026-11-22T10:00:0${n % 10}.000Z`,
  schemaVersion: 1,
  payload: { orderId: `o${n}` },
  outboxMinute: `${MINUTE}#${shard}`,
  outboxWrittenAt: `${MINUTE}:0${n % 10}.000Z`,
  expiresAt: NOW.getTime() / 1000 + 86_400,
});

/** How a receipt on the same table names an item: its whole key. */
const nameOf = (pk: string, sk = 'OUTBOX#0000000001') => JSON.stringify([pk, sk]);

const publishAll = (records: readonly OutboxRecord[]): Promise<PublishResult> =>
  Promise.resolve({ published: records.map((_, i) => i), retryable: [], poison: [] });

/** Every record fails alike, as `kind`. */
const publishFailing =
  (kind: 'retryable' | 'poison', errorCode: string, errorMessage: string) =>
  async (records: readonly unknown[]): Promise<PublishResult> => {
    const failures = records.map((_, index) => ({ index, errorCode, errorMessage }));
    return {
      published: [],
      retryable: kind === 'retryable' ? failures : [],
      poison: kind === 'poison' ? failures : [],
    };
  };

const build = (overrides: Partial<ReconcilerDeps> = {}, layout: SameTableLayout = ORDERS_LAYOUT) => {
  const metrics = { addMetric: vi.fn() };
  const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
  const publisher = { publish: vi.fn(publishAll) };
  const poisonQueue = {
    send: vi.fn((records: readonly PoisonRecord[]) => Promise.resolve({ sent: [...records], failed: [] })),
  };
  const tracker = new DeliveryReceipts(doc, { tableName: 'orders', layout, retentionDays: 7 });
  const deps: ReconcilerDeps = {
    pending: new TimeOrderedOutbox(doc, {
      tableName: 'orders',
      layout,
      items: listingFor(doc, 'orders', layout),
      receipts: tracker,
      now: () => NOW,
    }),
    stuck: new StuckEvents(doc, { tableName: 'orders', layout }),
    publisher,
    poisonQueue,
    tracker,
    settings: { thresholdSeconds: 900, maxItemsPerRun: 1000, pageSize: 100 },
    metrics,
    logger,
    now: () => NOW,
    ...overrides,
  };
  return { deps, metrics, logger, publisher, poisonQueue };
};

/** Index partitions holding items, as the time index would return them; no receipt yet. */
const indexHolding = (byPartition: Record<string, unknown[]>) => {
  ddb.on(QueryCommand).callsFake((input: QueryCommandInput) => ({
    Items:
      input.IndexName === undefined
        ? []
        : (byPartition[String(input.ExpressionAttributeValues?.[':minute'])] ?? []),
  }));
};

/** The time index's queries (the stuck events' partition, read first, and receipts left out). */
const indexQueries = () =>
  ddb
    .commandCalls(QueryCommand)
    .map((c) => c.args[0].input)
    .filter((q) => q.IndexName !== undefined);

/** The receipts written, as the item names they list by outcome. */
const receipts = () =>
  ddb
    .commandCalls(PutCommand)
    .map((c) => c.args[0].input as PutCommandInput)
    .filter((put) => String(put.Item?.SK ?? put.Item?.sk).startsWith('RECEIPT#'))
    .map((put) => ({
      partition: put.Item?.PK ?? put.Item?.pk,
      published: [...((put.Item?.published as Set<string> | undefined) ?? [])],
      parked: [...((put.Item?.parked as Set<string> | undefined) ?? [])],
    }));

describe('reconcile (a same table, listed by its time index)', () => {
  beforeEach(() => {
    ddb.reset();
    ddb.on(GetCommand).resolves({ Item: { PK: 'RECONCILER', SK: 'WATERMARK', bucket: MINUTE } });
    ddb.on(PutCommand).resolves({});
    ddb.on(UpdateCommand).resolves({});
  });

  it('queries the time index, every partition of every minute from the watermark, for items written before the cut-off', async () => {
    // Prepare
    indexHolding({});
    const { deps } = build();

    // Act
    await reconcile(deps);

    // Assess
    const queries = indexQueries();
    expect(queries.map((q) => q.ExpressionAttributeValues?.[':minute'])).toEqual([
      ...Array.from({ length: 8 }, (_, i) => `${MINUTE}#${i}`),
      ...Array.from({ length: 8 }, (_, i) => `2026-11-22T11:45#${i}`),
    ]);
    expect(queries[0]).toMatchObject({
      TableName: 'orders',
      IndexName: 'outbox-by-time',
      KeyConditionExpression: '#minute = :minute AND #writtenAt < :before',
      ExpressionAttributeNames: { '#minute': 'outboxMinute', '#writtenAt': 'outboxWrittenAt' },
      ExpressionAttributeValues: { ':before': BEFORE },
    });
  });

  it('republishes stuck items and records them in one receipt of their minute, naming their whole keys, with no per-item write', async () => {
    // Prepare
    indexHolding({ [`${MINUTE}#0`]: [item(1)], [`${MINUTE}#5`]: [item(2, 5), item(3, 5)] });
    const { deps, publisher, metrics } = build();

    // Act
    const report = await reconcile(deps);

    // Assess
    expect(publisher.publish.mock.calls.map(([records]) => records)).toEqual([
      [recordOf(item(1))],
      [recordOf(item(2, 5)), recordOf(item(3, 5))],
    ]);
    expect(report).toMatchObject({ found: 3, republished: 3, retryable: 0, parked: 0, truncated: false });
    expect(receipts()).toEqual([
      { partition: `RECEIPT#${MINUTE}`, published: [nameOf('ORDER#o1')], parked: [] },
      { partition: `RECEIPT#${MINUTE}`, published: [nameOf('ORDER#o2'), nameOf('ORDER#o3')], parked: [] },
    ]);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(metrics.addMetric).toHaveBeenCalledWith('ReconcilerRepublished', 'Count', 3);
  });

  it('leaves out an item a receipt of its minute names', async () => {
    // Prepare
    ddb.on(QueryCommand).callsFake((input: QueryCommandInput) =>
      input.IndexName === undefined
        ? {
            Items:
              input.ExpressionAttributeValues?.[':pk'] === `RECEIPT#${MINUTE}`
                ? [{ PK: `RECEIPT#${MINUTE}`, SK: 'RECEIPT#x', published: new Set([nameOf('ORDER#o1')]) }]
                : [],
          }
        : { Items: input.ExpressionAttributeValues?.[':minute'] === `${MINUTE}#0` ? [item(1), item(2)] : [] },
    );
    const { deps, publisher } = build();

    // Act
    const report = await reconcile(deps);

    // Assess
    expect(publisher.publish.mock.calls.map(([records]) => records)).toEqual([[recordOf(item(2))]]);
    expect(report).toMatchObject({ found: 1, republished: 1 });
  });

  it('keeps a retryable failure as a stuck event with its backoff, without a receipt', async () => {
    // Prepare
    indexHolding({ [`${MINUTE}#0`]: [item(1)] });
    const { deps, logger, poisonQueue } = build({
      publisher: { publish: publishFailing('retryable', 'ThrottlingException', 'slow down') },
    });

    // Act
    const report = await reconcile(deps);

    // Assess
    expect(report).toMatchObject({ found: 1, republished: 0, retryable: 1, parked: 0, stuck: 1 });
    expect(receipts()).toEqual([]);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(poisonQueue.send).not.toHaveBeenCalled();
    // Its stuck entry, with the item's TTL; then the watermark, past the minute (the entry holds it).
    expect(ddb.commandCalls(PutCommand).map((c) => c.args[0].input)).toEqual([
      {
        TableName: 'orders',
        Item: {
          PK: 'RECONCILER#RETRY',
          SK: '[["PK","ORDER#o1"],["SK","OUTBOX#0000000001"]]',
          outboxKey: { PK: 'ORDER#o1', SK: 'OUTBOX#0000000001' },
          attempts: 1,
          firstFailedAt: NOW.toISOString(),
          nextAttemptAt: '2026-11-22T12:05:00.000Z',
          lastErrorCode: 'ThrottlingException',
          lastErrorMessage: 'slow down',
          expiresAt: NOW.getTime() / 1000 + 86_400,
        },
      },
      {
        TableName: 'orders',
        Item: { PK: 'RECONCILER', SK: 'WATERMARK', bucket: '2026-11-22T11:45' },
      },
    ]);
    expect(logger.warn).toHaveBeenCalledWith('Republish failed; retried on a later run', {
      outboxKey: 'PK=ORDER#o1, SK=OUTBOX#0000000001',
      attempts: 1,
      nextAttemptAt: '2026-11-22T12:05:00.000Z',
      errorCode: 'ThrottlingException',
    });
  });

  it('leaves a stuck event the index lists again to its own schedule: deferred until due, then retried once', async () => {
    // Prepare: e1 failed before; its next attempt is 5 minutes after NOW.
    const stuck = {
      PK: 'RECONCILER#RETRY',
      SK: '[["PK","ORDER#o1"],["SK","OUTBOX#0000000001"]]',
      outboxKey: { PK: 'ORDER#o1', SK: 'OUTBOX#0000000001' },
      attempts: 1,
      firstFailedAt: '2026-11-22T11:55:00.000Z',
      nextAttemptAt: '2026-11-22T12:05:00.000Z',
      lastErrorCode: 'ThrottlingException',
      lastErrorMessage: 'slow down',
    };
    ddb.on(QueryCommand).callsFake((input: QueryCommandInput) =>
      input.ExpressionAttributeValues?.[':pk'] === 'RECONCILER#RETRY'
        ? { Items: [stuck] }
        : {
            Items: input.ExpressionAttributeValues?.[':minute'] === `${MINUTE}#0` ? [item(1), item(2)] : [],
          },
    );
    ddb.on(GetCommand, { Key: stuck.outboxKey }).resolves({ Item: item(1) });
    const early = build();

    // Act
    const before = await reconcile(early.deps);

    // Assess: only e2 goes out; e1 waits for its attempt.
    expect(before).toMatchObject({ found: 1, republished: 1, deferred: 1, stuck: 1 });
    expect(
      early.publisher.publish.mock.calls.map(([records]) => records.map((r) => r.envelope.eventId)),
    ).toEqual([['e2']]);

    // Act: at its attempt, it goes out once, from the table, and its entry is deleted.
    const due = build({ now: () => new Date('2026-11-22T12:05:00.000Z') });
    const after = await reconcile(due.deps);

    // Assess
    expect(after).toMatchObject({ deferred: 0, stuck: 0 });
    expect(
      due.publisher.publish.mock.calls.map(([records]) => records.map((r) => r.envelope.eventId)),
    ).toEqual([['e1'], ['e2']]);
    expect(ddb.commandCalls(DeleteCommand).map((c) => c.args[0].input.Key)).toEqual([
      { PK: 'RECONCILER#RETRY', SK: stuck.SK },
    ]);
  });

  it('parks a poison item: poison queue first, then its TTL removed and a parked receipt', async () => {
    // Prepare
    indexHolding({ [`${MINUTE}#0`]: [item(1)] });
    const { deps, poisonQueue } = build({
      publisher: { publish: publishFailing('poison', 'EntryTooLarge', 'too big') },
    });

    // Act
    const report = await reconcile(deps);

    // Assess
    expect(poisonQueue.send).toHaveBeenCalledWith([
      {
        errorCode: 'EntryTooLarge',
        reason: 'too big',
        key: { PK: 'ORDER#o1', SK: 'OUTBOX#0000000001' },
        envelope: recordOf(item(1)).envelope,
        item: item(1),
      },
    ]);
    expect(report.parked).toBe(1);
    expect(ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input)).toEqual([
      {
        TableName: 'orders',
        Key: { PK: 'ORDER#o1', SK: 'OUTBOX#0000000001' },
        UpdateExpression: 'REMOVE #expiresAt',
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: { '#pk': 'PK', '#expiresAt': 'expiresAt' },
      },
    ]);
    expect(receipts()).toEqual([
      { partition: `RECEIPT#${MINUTE}`, published: [], parked: [nameOf('ORDER#o1')] },
    ]);
  });

  it('reports a failed park without failing the run: the next run parks the item again', async () => {
    // Prepare
    indexHolding({ [`${MINUTE}#0`]: [item(1)] });
    ddb.on(UpdateCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    const { deps, logger, poisonQueue } = build({
      publisher: { publish: publishFailing('poison', 'EntryTooLarge', 'too big') },
    });

    // Act
    const report = await reconcile(deps);

    // Assess
    expect(poisonQueue.send).toHaveBeenCalledTimes(1);
    expect(report.parked).toBe(0);
    expect(receipts()).toEqual([]);
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringMatching(/^Could not record a parked event as parked/),
      { outboxKey: 'PK=ORDER#o1, SK=OUTBOX#0000000001', errorCode: 'ThrottlingException' },
    );
  });

  it('keeps a poison item the poison queue refuses as a stuck event, so that a later run parks it', async () => {
    // Prepare
    indexHolding({ [`${MINUTE}#0`]: [item(1)] });
    const { deps, logger } = build({
      publisher: { publish: publishFailing('poison', 'EntryTooLarge', 'too big') },
      poisonQueue: {
        send: async (records) => ({
          sent: [],
          failed: records.map((record) => ({ record, errorCode: 'AccessDenied', errorMessage: 'no' })),
        }),
      },
    });

    // Act
    const report = await reconcile(deps);

    // Assess
    expect(report).toMatchObject({ parked: 0, stuck: 1 });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand).map((c) => c.args[0].input.Item)).toEqual([
      expect.objectContaining({
        PK: 'RECONCILER#RETRY',
        outboxKey: { PK: 'ORDER#o1', SK: 'OUTBOX#0000000001' },
        attempts: 1,
        nextAttemptAt: '2026-11-22T12:05:00.000Z',
        lastErrorCode: 'AccessDenied',
      }),
      { PK: 'RECONCILER', SK: 'WATERMARK', bucket: '2026-11-22T11:45' },
    ]);
    expect(logger.error).toHaveBeenCalledWith(
      'Poison queue rejected the message; kept as a stuck event, parked on a later run',
      { eventId: 'e1', outboxKey: 'PK=ORDER#o1, SK=OUTBOX#0000000001', errorCode: 'AccessDenied' },
    );
  });

  it('parks an index entry that is not a valid outbox item, with its raw content, in the receipt of its minute', async () => {
    // Prepare
    const broken = {
      PK: 'ORDER#o9',
      SK: 'OUTBOX#0000000001',
      outboxMinute: `${MINUTE}#0`,
      outboxWrittenAt: `${MINUTE}:00.000Z`,
      occurredAt: '2026-11-22T10:00:00.000Z',
    };
    indexHolding({ [`${MINUTE}#0`]: [broken] });
    const { deps, poisonQueue, publisher } = build();

    // Act
    const report = await reconcile(deps);

    // Assess
    expect(publisher.publish).toHaveBeenCalledWith([]);
    expect(poisonQueue.send.mock.calls[0]?.[0]).toEqual([
      {
        errorCode: 'MalformedItem',
        reason: expect.stringMatching(/^Not a valid outbox item: eventId: /),
        key: { PK: 'ORDER#o9', SK: 'OUTBOX#0000000001' },
        item: broken,
      },
    ]);
    expect(report).toMatchObject({ found: 1, parked: 1 });
    expect(receipts()).toEqual([
      { partition: `RECEIPT#${MINUTE}`, published: [], parked: [nameOf('ORDER#o9')] },
    ]);
  });

  it('stops at maxItemsPerRun and says so', async () => {
    // Prepare
    indexHolding({ [`${MINUTE}#0`]: [item(1), item(2)], [`${MINUTE}#1`]: [item(3, 1)] });
    const { deps, publisher } = build();

    // Act
    const report = await reconcile({ ...deps, settings: { ...deps.settings, maxItemsPerRun: 2 } });

    // Assess
    expect(report).toMatchObject({ found: 2, republished: 2, truncated: true });
    expect(publisher.publish).toHaveBeenCalledTimes(1);
    expect(indexQueries()[0]?.Limit).toBe(2);
  });

  it('stops starting pages when the time budget runs out', async () => {
    // Prepare
    indexHolding({ [`${MINUTE}#0`]: [item(1)] });
    const { deps } = build();

    // Act
    const report = await reconcile(deps, () => false);

    // Assess
    expect(report).toMatchObject({ found: 0, truncated: true });
    expect(indexQueries()).toHaveLength(0);
  });

  it('follows the index pages of a partition', async () => {
    // Prepare
    ddb
      .on(QueryCommand)
      .resolves({ Items: [] })
      .on(QueryCommand, {
        IndexName: 'outbox-by-time',
        ExpressionAttributeValues: { ':minute': `${MINUTE}#0` },
      })
      .resolvesOnce({ Items: [item(1)], LastEvaluatedKey: { PK: 'ORDER#o1' } })
      .resolvesOnce({ Items: [item(2)] });
    const { deps } = build();

    // Act
    const report = await reconcile(deps);

    // Assess
    expect(report.republished).toBe(2);
    const first = indexQueries().filter((q) => q.ExpressionAttributeValues?.[':minute'] === `${MINUTE}#0`);
    expect(first.map((q) => q.ExclusiveStartKey)).toEqual([undefined, { PK: 'ORDER#o1' }]);
  });

  it('emits ReconcilerRepublished 0 on a quiet run, so its alarm always has data', async () => {
    // Prepare
    indexHolding({});
    const { deps, metrics } = build();

    // Act
    const report = await reconcile(deps);

    // Assess
    expect(report).toMatchObject({ found: 0, republished: 0, truncated: false });
    expect(metrics.addMetric).toHaveBeenCalledWith('ReconcilerRepublished', 'Count', 0);
  });

  it("reads and records a table with other key names through the layout's index and attributes", async () => {
    // Prepare
    ddb.on(GetCommand).resolves({ Item: { pk: 'RECONCILER', sk: 'WATERMARK', bucket: MINUTE } });
    const otherItem = (n: number) => {
      const { PK, SK, outboxMinute: _m, outboxWrittenAt: _w, expiresAt: _e, ...envelope } = item(n);
      return {
        ...envelope,
        pk: PK,
        sk: `EVT#${String(SK).slice('OUTBOX#'.length)}`,
        gsi1pk: `${MINUTE}#3`,
        gsi1sk: `${MINUTE}:00.000Z`,
      };
    };
    indexHolding({ [`${MINUTE}#3`]: [otherItem(1), otherItem(2)] });
    const { deps, publisher } = build({}, OTHER_LAYOUT);

    // Act
    const report = await reconcile(deps);

    // Assess
    const queries = indexQueries();
    expect(queries.map((q) => q.ExpressionAttributeValues?.[':minute'])).toEqual([
      ...Array.from({ length: 4 }, (_, i) => `${MINUTE}#${i}`),
      ...Array.from({ length: 4 }, (_, i) => `2026-11-22T11:45#${i}`),
    ]);
    expect(queries[0]).toMatchObject({
      IndexName: 'by-written',
      ExpressionAttributeNames: { '#minute': 'gsi1pk', '#writtenAt': 'gsi1sk' },
    });
    expect(publisher.publish.mock.calls[0]?.[0].map((r) => r.key)).toEqual([
      { pk: 'ORDER#o1', sk: 'EVT#0000000001' },
      { pk: 'ORDER#o2', sk: 'EVT#0000000001' },
    ]);
    expect(report).toMatchObject({ found: 2, republished: 2 });
    expect(receipts()).toEqual([
      {
        partition: `RECEIPT#${MINUTE}`,
        published: [nameOf('ORDER#o1', 'EVT#0000000001'), nameOf('ORDER#o2', 'EVT#0000000001')],
        parked: [],
      },
    ]);
  });

  it('sorts a page by outcome: records the published, parks the poison, leaves the retryable, reports each', async () => {
    // Prepare
    indexHolding({ [`${MINUTE}#0`]: [item(1), item(2), item(3)] });
    ddb.on(PutCommand).callsFake((input: PutCommandInput) => {
      if (input.Item?.published !== undefined)
        throw Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
      return {};
    });
    const { deps, logger, poisonQueue } = build({
      publisher: {
        publish: async () => ({
          published: [0],
          retryable: [{ index: 2, errorCode: 'InternalFailure', errorMessage: 'oops' }],
          poison: [{ index: 1, errorCode: 'InvalidArgument', errorMessage: 'bad' }],
        }),
      },
    });

    // Act
    const report = await reconcile(deps);

    // Assess
    expect(report).toEqual({
      found: 3,
      republished: 1,
      retryable: 1,
      parked: 1,
      parkedAfterRetries: 0,
      deferred: 0,
      stuck: 1,
      markFailures: 1,
      oldestOccurredAt: '2026-11-22T10:00:01.000Z',
      truncated: false,
    });
    expect(poisonQueue.send.mock.calls[0]?.[0].map((r) => r.envelope?.eventId)).toEqual(['e2']);
    expect(logger.warn).toHaveBeenCalledWith(
      'Could not mark republished event; it will be republished again',
      {
        outboxKey: 'PK=ORDER#o1, SK=OUTBOX#0000000001',
        errorCode: 'ThrottlingException',
      },
    );
    expect(ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input.Key)).toEqual([
      { PK: 'ORDER#o2', SK: 'OUTBOX#0000000001' },
    ]);
  });
});
