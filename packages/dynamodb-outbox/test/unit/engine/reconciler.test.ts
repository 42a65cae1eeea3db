import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { DynamoDbDeliveryTracker } from '../../../src/engine/delivery-tracking';
import { PendingOutbox } from '../../../src/engine/pending-outbox';
import type { PoisonRecord } from '../../../src/engine/poison-queue';
import type { PublishResult } from '../../../src/engine/publisher';
import { type ReconcilerDeps, reconcile } from '../../../src/engine/reconciler';
import { StuckEvents } from '../../../src/engine/reconciler-retries';
import type { SameTableLayout } from '../../../src/runtime/layout';
import type { OutboxRecord } from '../../../src/runtime/outbox-item';
import { ORDERS_LAYOUT, OTHER_LAYOUT, recordOf } from '../../support/unit';

const NOW = new Date('2026-11-22T12:00:00.000Z');
const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));

/** A pending outbox item of order `o<n>`, as the index returns it. */
const item = (n: number, shard = 'PENDING#0'): Record<string, unknown> => ({
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
  pendingShard: shard,
});

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
  const deps: ReconcilerDeps = {
    pending: new PendingOutbox(doc, 'orders', layout),
    stuck: new StuckEvents(doc, { tableName: 'orders', layout }),
    publisher,
    poisonQueue,
    tracker: new DynamoDbDeliveryTracker(doc, { tableName: 'orders', layout, retentionDays: 7 }),
    settings: { thresholdSeconds: 900, maxItemsPerRun: 1000, pageSize: 100 },
    metrics,
    logger,
    now: () => NOW,
    ...overrides,
  };
  return { deps, metrics, logger, publisher, poisonQueue };
};

/** Items by shard, as the pending index would return them. */
const indexHolding = (byShard: Record<string, unknown[]>) => {
  ddb.on(QueryCommand).callsFake((input: { ExpressionAttributeValues: { ':shard': string } }) => ({
    Items: byShard[input.ExpressionAttributeValues[':shard']] ?? [],
  }));
};

/** The pending index's queries (the stuck events' partition, read first, left out). */
const indexQueries = () =>
  ddb
    .commandCalls(QueryCommand)
    .map((c) => c.args[0].input)
    .filter((q) => q.IndexName !== undefined);

describe('reconcile', () => {
  beforeEach(() => {
    ddb.reset();
    ddb.on(UpdateCommand).resolves({});
  });

  it('queries every shard of the pending index for items older than the threshold', async () => {
    // Prepare
    indexHolding({});
    const { deps } = build();

    // Act
    await reconcile(deps);

    // Assess
    const queries = indexQueries();
    expect(queries.map((q) => q.ExpressionAttributeValues?.[':shard'])).toEqual(
      Array.from({ length: 8 }, (_, i) => `PENDING#${i}`),
    );
    expect(queries[0]).toMatchObject({
      TableName: 'orders',
      IndexName: 'pending-outbox',
      KeyConditionExpression: '#shard = :shard AND #occurredAt < :before',
      ExpressionAttributeNames: { '#shard': 'pendingShard', '#occurredAt': 'occurredAt' },
      ExpressionAttributeValues: { ':before': '2026-11-22T11:45:00.000Z' },
    });
  });

  it('republishes stuck items through the publisher and marks them published with their TTL', async () => {
    // Prepare
    indexHolding({ 'PENDING#0': [item(1)], 'PENDING#5': [item(2, 'PENDING#5'), item(3, 'PENDING#5')] });
    const { deps, publisher, metrics } = build();

    // Act
    const report = await reconcile(deps);

    // Assess
    expect(publisher.publish.mock.calls.map(([records]) => records)).toEqual([
      [recordOf(item(1))],
      [recordOf(item(2, 'PENDING#5')), recordOf(item(3, 'PENDING#5'))],
    ]);
    expect(report).toMatchObject({ found: 3, republished: 3, retryable: 0, parked: 0, truncated: false });
    const updates = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(updates.map((u) => u.Key)).toEqual([
      { PK: 'ORDER#o1', SK: 'OUTBOX#0000000001' },
      { PK: 'ORDER#o2', SK: 'OUTBOX#0000000001' },
      { PK: 'ORDER#o3', SK: 'OUTBOX#0000000001' },
    ]);
    expect(updates[0]).toMatchObject({
      TableName: 'orders',
      UpdateExpression: 'SET #publishedAt = :at, #expiresAt = :expiresAt REMOVE #pendingShard',
      ConditionExpression: 'attribute_exists(#pk)',
      ExpressionAttributeValues: {
        ':at': NOW.toISOString(),
        ':expiresAt': NOW.getTime() / 1000 + 7 * 86_400,
      },
    });
    expect(metrics.addMetric).toHaveBeenCalledWith('ReconcilerRepublished', 'Count', 3);
  });

  it('keeps a retryable failure as a stuck event with its backoff, without marking it', async () => {
    // Prepare
    indexHolding({ 'PENDING#0': [item(1)] });
    const { deps, logger, poisonQueue } = build({
      publisher: { publish: publishFailing('retryable', 'ThrottlingException', 'slow down') },
    });

    // Act
    const report = await reconcile(deps);

    // Assess
    expect(report).toMatchObject({ found: 1, republished: 0, retryable: 1, parked: 0, stuck: 1 });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(poisonQueue.send).not.toHaveBeenCalled();
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
        },
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
    ddb
      .on(QueryCommand)
      .callsFake((input: QueryCommandInput) =>
        input.ExpressionAttributeValues?.[':pk'] === 'RECONCILER#RETRY'
          ? { Items: [stuck] }
          : { Items: input.ExpressionAttributeValues?.[':shard'] === 'PENDING#0' ? [item(1), item(2)] : [] },
      );
    ddb.on(GetCommand, { Key: stuck.outboxKey }).resolves({ Item: item(1) });
    ddb.on(BatchGetCommand).resolves({ Responses: { orders: [] } });
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

  it('parks a poison item: poison queue first, then off the pending index, TTL left unarmed', async () => {
    // Prepare
    indexHolding({ 'PENDING#0': [item(1)] });
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
    const updates = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(updates).toHaveLength(1);
    expect(updates[0]).toEqual({
      TableName: 'orders',
      Key: { PK: 'ORDER#o1', SK: 'OUTBOX#0000000001' },
      UpdateExpression: 'SET #parkedAt = :at REMOVE #pendingShard',
      ConditionExpression: 'attribute_exists(#pk)',
      ExpressionAttributeNames: { '#pk': 'PK', '#pendingShard': 'pendingShard', '#parkedAt': 'parkedAt' },
      ExpressionAttributeValues: { ':at': NOW.toISOString() },
    });
  });

  it('reports a failed park without failing the run: the next run parks the item again', async () => {
    // Prepare
    indexHolding({ 'PENDING#0': [item(1)] });
    ddb.on(UpdateCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    const { deps, logger, poisonQueue } = build({
      publisher: { publish: publishFailing('poison', 'EntryTooLarge', 'too big') },
    });

    // Act
    const report = await reconcile(deps);

    // Assess
    expect(poisonQueue.send).toHaveBeenCalledTimes(1);
    expect(report.parked).toBe(0);
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringMatching(/^Could not record a parked event as parked/),
      { outboxKey: 'PK=ORDER#o1, SK=OUTBOX#0000000001', errorCode: 'ThrottlingException' },
    );
  });

  it('keeps a poison item the poison queue refuses as a stuck event, so that a later run parks it', async () => {
    // Prepare
    indexHolding({ 'PENDING#0': [item(1)] });
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
    ]);
    expect(logger.error).toHaveBeenCalledWith(
      'Poison queue rejected the message; kept as a stuck event, parked on a later run',
      { eventId: 'e1', outboxKey: 'PK=ORDER#o1, SK=OUTBOX#0000000001', errorCode: 'AccessDenied' },
    );
  });

  it('parks an index entry that is not a valid outbox item, with its raw content', async () => {
    // Prepare
    const broken = {
      PK: 'ORDER#o9',
      SK: 'OUTBOX#0000000001',
      pendingShard: 'PENDING#0',
      occurredAt: '2026-11-22T10:00:00.000Z',
    };
    indexHolding({ 'PENDING#0': [broken] });
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
    expect(ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input.Key)).toEqual([
      { PK: 'ORDER#o9', SK: 'OUTBOX#0000000001' },
    ]);
  });

  it('stops at maxItemsPerRun and says so', async () => {
    // Prepare
    indexHolding({ 'PENDING#0': [item(1), item(2)], 'PENDING#1': [item(3, 'PENDING#1')] });
    const { deps, publisher } = build();

    // Act
    const report = await reconcile({ ...deps, settings: { ...deps.settings, maxItemsPerRun: 2 } });

    // Assess
    expect(report).toMatchObject({ found: 2, republished: 2, truncated: true });
    expect(publisher.publish).toHaveBeenCalledTimes(1);
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input.Limit).toBe(2);
  });

  it('stops starting pages when the time budget runs out', async () => {
    // Prepare
    indexHolding({ 'PENDING#0': [item(1)] });
    const { deps } = build();

    // Act
    const report = await reconcile(deps, () => false);

    // Assess
    expect(report).toMatchObject({ found: 0, truncated: true });
    expect(indexQueries()).toHaveLength(0);
  });

  it('follows the index pages of a shard', async () => {
    // Prepare
    ddb
      .on(QueryCommand)
      .resolves({ Items: [] })
      .on(QueryCommand, { ExpressionAttributeValues: { ':shard': 'PENDING#0' } })
      .resolvesOnce({ Items: [item(1)], LastEvaluatedKey: { PK: 'ORDER#o1' } })
      .resolvesOnce({ Items: [item(2)] });
    const { deps } = build();

    // Act
    const report = await reconcile(deps);

    // Assess
    expect(report.republished).toBe(2);
    const shard0 = ddb
      .commandCalls(QueryCommand)
      .map((c) => c.args[0].input)
      .filter((q) => q.ExpressionAttributeValues?.[':shard'] === 'PENDING#0');
    expect(shard0.map((q) => q.ExclusiveStartKey)).toEqual([undefined, { PK: 'ORDER#o1' }]);
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

  it("reads and marks a table with other key names through the layout's index and attributes", async () => {
    // Prepare
    const otherItem = (n: number) => {
      const { PK, SK, pendingShard: _shard, ...envelope } = item(n);
      return { ...envelope, pk: PK, sk: `EVT#${String(SK).slice('OUTBOX#'.length)}`, gsi1pk: 'PENDING#3' };
    };
    indexHolding({ 'PENDING#3': [otherItem(1), otherItem(2)] });
    const { deps, publisher } = build({}, OTHER_LAYOUT);

    // Act
    const report = await reconcile(deps);

    // Assess
    const queries = indexQueries();
    expect(queries.map((q) => q.ExpressionAttributeValues?.[':shard'])).toEqual([
      'PENDING#0',
      'PENDING#1',
      'PENDING#2',
      'PENDING#3',
    ]);
    expect(queries[0]).toMatchObject({
      IndexName: 'unpublished',
      ExpressionAttributeNames: { '#shard': 'gsi1pk', '#occurredAt': 'occurredAt' },
    });
    expect(publisher.publish.mock.calls[0]?.[0].map((r) => r.key)).toEqual([
      { pk: 'ORDER#o1', sk: 'EVT#0000000001' },
      { pk: 'ORDER#o2', sk: 'EVT#0000000001' },
    ]);
    expect(report).toMatchObject({ found: 2, republished: 2 });
    const updates = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(updates.map((u) => u.Key)).toEqual([
      { pk: 'ORDER#o1', sk: 'EVT#0000000001' },
      { pk: 'ORDER#o2', sk: 'EVT#0000000001' },
    ]);
    expect(updates[0]?.ExpressionAttributeNames).toEqual({
      '#pk': 'pk',
      '#publishedAt': 'publishedAt',
      '#expiresAt': 'ttl',
      '#pendingShard': 'gsi1pk',
    });
  });

  it('sorts a page by outcome: marks the published, parks the poison, leaves the retryable, reports each', async () => {
    // Prepare
    indexHolding({ 'PENDING#0': [item(1), item(2), item(3)] });
    ddb
      .on(UpdateCommand, { Key: { PK: 'ORDER#o1', SK: 'OUTBOX#0000000001' } })
      .rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
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
    const keys = ddb
      .commandCalls(UpdateCommand)
      .map((c) => [c.args[0].input.UpdateExpression, c.args[0].input.Key]);
    expect(keys).toHaveLength(2);
    expect(keys).toEqual(
      expect.arrayContaining([
        [expect.stringMatching(/^SET #publishedAt/), { PK: 'ORDER#o1', SK: 'OUTBOX#0000000001' }],
        [expect.stringMatching(/^SET #parkedAt/), { PK: 'ORDER#o2', SK: 'OUTBOX#0000000001' }],
      ]),
    );
  });
});
