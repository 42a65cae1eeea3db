import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { runOutbox } from '../../../src/cli/main';
import { formatStatus, outboxStatus } from '../../../src/cli/status';
import type { OutboxTarget } from '../../../src/cli/target';
import type { EventEnvelope } from '../../../src/runtime/envelope';
import { sameTableLayout, TIME_ORDERED_TABLE_LAYOUT } from '../../../src/runtime/layout';
import { OutboxWriter } from '../../../src/runtime/writer';
import { ordersOutboxLayout } from '../../support/sample-table';

const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);

const target: OutboxTarget = {
  description: 'test',
  doc: DynamoDBDocumentClient.from(new DynamoDBClient({})),
  eventBridge: new EventBridgeClient({}),
  sqs: new SQSClient({}),
  tableName: 'orders',
  layout: ordersOutboxLayout,
  eventBusName: 'orders',
  source: 'orders',
  retentionDays: 7,
  queues: [
    { name: 'PoisonQueue', url: 'https://sqs/poison' },
    { name: 'InventoryDeadLetterQueue', url: 'https://sqs/inventory-dlq' },
  ],
  notes: [],
  destroy: () => undefined,
};

describe('outbox status on a same table (time index, receipts)', () => {
  const NOW = new Date('2026-11-22T12:00:00.000Z');
  /** The outbox item of order `n`'s event, as the writer stores it beside the order. */
  const itemAt = (writtenAt: string, n: number, layout = ordersOutboxLayout): Record<string, unknown> => {
    const event: EventEnvelope = {
      eventId: `e${n}`,
      eventType: 'OrderPlaced',
      aggregateType: 'Order',
      aggregateId: `o${n}`,
      sequence: 1,
      occurredAt: writtenAt,
      schemaVersion: 1,
      payload: { orderId: `o${n}` },
    };
    return new OutboxWriter(
      { tableName: 'orders', layout, deliveryTracking: true, retentionDays: 7 },
      { now: () => new Date(writtenAt) },
    ).item(event, `ORDER#o${n}`);
  };
  const indexQueries = () =>
    ddb
      .commandCalls(QueryCommand)
      .map((c) => c.args[0].input)
      .filter((input) => input.IndexName !== undefined);

  beforeEach(() => {
    ddb.reset();
    sqs.reset();
    // The reconciler's watermark: two minutes to read.
    ddb.on(GetCommand).resolves({ Item: { PK: 'RECONCILER', SK: 'WATERMARK', bucket: '2026-11-22T11:59' } });
  });

  it('counts the events no receipt names, listed by the time index, and finds the oldest', async () => {
    // Prepare: three events in 11:59; a receipt names the first.
    const items = [
      itemAt('2026-11-22T11:59:10.000Z', 1),
      itemAt('2026-11-22T11:59:20.000Z', 2),
      itemAt('2026-11-22T11:59:30.000Z', 3),
    ];
    ddb.on(QueryCommand).callsFake((input) => ({
      Items:
        input.IndexName === undefined
          ? input.ExpressionAttributeValues?.[':pk'] === 'RECEIPT#2026-11-22T11:59'
            ? [{ published: new Set([JSON.stringify([items[0]?.PK, items[0]?.SK])]) }]
            : []
          : items.filter((i) => i.outboxMinute === input.ExpressionAttributeValues?.[':minute']),
    }));
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '4', ApproximateNumberOfMessagesNotVisible: '1' },
    });

    // Act
    const status = await outboxStatus(target, { now: NOW });

    // Assess
    expect(status).toMatchObject({
      listedBy: { timeIndex: 'outbox-by-time' },
      listing: { from: '2026-11-22T11:59', since: 'watermark', receiptKeys: 1 },
      pending: 2,
      oldestPendingOccurredAt: '2026-11-22T11:59:20.000Z',
      oldestPendingAgeSeconds: 40,
    });
    expect(status.queues).toEqual([
      { name: 'PoisonQueue', url: 'https://sqs/poison', messages: 4, inFlight: 1 },
      { name: 'InventoryDeadLetterQueue', url: 'https://sqs/inventory-dlq', messages: 4, inFlight: 1 },
    ]);
    const queries = indexQueries();
    expect(queries).toHaveLength(2 * ordersOutboxLayout.shardCount);
    expect(queries[0]).toMatchObject({
      TableName: 'orders',
      IndexName: 'outbox-by-time',
      ExpressionAttributeValues: { ':before': NOW.toISOString() },
    });
  });

  it('reports an unreadable queue without hiding the others', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({ Items: [] });
    sqs
      .on(GetQueueAttributesCommand)
      .resolves({
        Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' },
      })
      .on(GetQueueAttributesCommand, { QueueUrl: 'https://sqs/poison' })
      .rejects(Object.assign(new Error('Access to the resource is denied.'), { name: 'AccessDenied' }));

    // Act
    const status = await outboxStatus(target, { now: NOW });

    // Assess
    expect(status.pending).toBe(0);
    expect(status.oldestPendingAgeSeconds).toBeUndefined();
    expect(status.queues.map((q) => [q.name, q.messages, q.error])).toEqual([
      ['PoisonQueue', undefined, 'Access to the resource is denied.'],
      ['InventoryDeadLetterQueue', 0, undefined],
    ]);
  });

  it("reads the time index of another service's table, as its layout names it, over as many partitions as it has", async () => {
    // Prepare
    const layout = sameTableLayout({
      partitionKey: 'pk',
      sortKey: 'sk',
      timeIndex: { indexName: 'by-time', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
      shardCount: 3,
    });
    ddb.on(GetCommand).resolves({ Item: { pk: 'RECONCILER', sk: 'WATERMARK', bucket: '2026-11-22T11:59' } });
    ddb.on(QueryCommand).resolves({ Items: [] });
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: {} });

    // Act
    const status = await outboxStatus({ ...target, tableName: 'service', layout, queues: [] }, { now: NOW });

    // Assess
    expect(status).toMatchObject({ table: 'service', pending: 0, listedBy: { timeIndex: 'by-time' } });
    expect(indexQueries().map((q) => q.ExpressionAttributeValues?.[':minute'])).toEqual([
      '2026-11-22T11:59#0',
      '2026-11-22T11:59#1',
      '2026-11-22T11:59#2',
      '2026-11-22T12:00#0',
      '2026-11-22T12:00#1',
      '2026-11-22T12:00#2',
    ]);
    for (const query of indexQueries())
      expect(query).toMatchObject({
        TableName: 'service',
        IndexName: 'by-time',
        ExpressionAttributeNames: { '#minute': 'gsi1pk', '#writtenAt': 'gsi1sk' },
      });
  });

  it('prints a table an operator can read at a glance', () => {
    // Act
    const text = formatStatus({
      target: 'local runtime',
      table: 'orders',
      listedBy: { timeIndex: 'outbox-by-time' },
      listing: { from: '2026-11-22T10:30', since: 'watermark', itemsRead: 3, receiptKeys: 1 },
      pending: 2,
      oldestPendingOccurredAt: '2026-11-22T10:30:00.000Z',
      oldestPendingAgeSeconds: 5400,
      queues: [
        { name: 'outbox-poison', url: 'u1', messages: 1, inFlight: 0 },
        { name: 'inventory-dlq', url: 'u2', error: 'denied' },
      ],
      notes: ['something to know'],
    });

    // Assess
    expect(text.split('\n')).toEqual([
      'Outbox status: local runtime',
      '  table                 orders',
      '  tracking              receipts (same table, time index outbox-by-time), read from 2026-11-22T10:30 (reconciler watermark)',
      '  pending events        2',
      '  oldest pending        90 min (occurred 2026-11-22T10:30:00.000Z)',
      '',
      'Queues                  messages  in flight',
      '  outbox-poison         1         0',
      '  inventory-dlq         unreadable: denied',
      '',
      'Note: something to know',
    ]);
  });

  it('keeps a long queue name two spaces clear of its count', () => {
    // Act
    const text = formatStatus({
      target: 'local runtime',
      table: 'orders',
      listedBy: { timeIndex: 'outbox-by-time' },
      listing: { from: '2026-11-22T10:30', since: 'watermark', itemsRead: 0, receiptKeys: 0 },
      pending: 0,
      queues: [
        { name: 'OutboxPoison', url: 'u1', messages: 0, inFlight: 0 },
        { name: 'OrderAnswersDeadLetter', url: 'u2', messages: 3, inFlight: 1 },
      ],
      notes: [],
    });

    // Assess
    expect(text.split('\n').slice(-3)).toEqual([
      'Queues                    messages  in flight',
      '  OutboxPoison            0         0',
      '  OrderAnswersDeadLetter  3         1',
    ]);
  });
});

describe('outbox status on a time-ordered table (receipts)', () => {
  const NOW = new Date('2026-11-22T12:00:00.000Z');
  // Two partitions a minute keep the expected calls few.
  const layout = { ...TIME_ORDERED_TABLE_LAYOUT, shardCount: 2 };
  const oneShardLayout = { ...layout, shardCount: 1 };
  const timeOrdered: OutboxTarget = { ...target, tableName: 'outbox', layout, queues: [] };
  const oneShard: OutboxTarget = { ...timeOrdered, layout: oneShardLayout };

  /** The outbox item of order `n`'s event, as the writer stores it in a time-ordered table. */
  const itemAt = (occurredAt: string, n: number, itemLayout = layout): Record<string, unknown> => {
    const event: EventEnvelope = {
      eventId: `e${n}`,
      eventType: 'OrderPlaced',
      aggregateType: 'Order',
      aggregateId: `o${n}`,
      sequence: 1,
      occurredAt,
      schemaVersion: 1,
      payload: { orderId: `o${n}` },
    };
    // Written the moment it occurred: the time-ordered key is the write time.
    return new OutboxWriter(
      { tableName: 'outbox', layout: itemLayout, deliveryTracking: true, retentionDays: 7 },
      { now: () => new Date(occurredAt) },
    ).item(event);
  };
  /** The minute partitions' items, as DynamoDB answers a Query of one partition. */
  const serve = (items: readonly Record<string, unknown>[]) => {
    for (const pk of new Set(items.map((i) => i.pk)))
      ddb
        .on(QueryCommand, { ExpressionAttributeValues: { ':pk': pk } })
        .resolves({ Items: items.filter((i) => i.pk === pk) });
  };
  const receipt = (minute: string, published: readonly Record<string, unknown>[]) =>
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': `RECEIPT#${minute}` } })
      .resolves({ Items: [{ published: new Set(published.map((i) => i.sk)) }] });
  const partitionQueries = () =>
    ddb
      .commandCalls(QueryCommand)
      .map((c) => c.args[0].input)
      .filter((input) => !String(input.ExpressionAttributeValues?.[':pk']).startsWith('RECEIPT#'));
  const receiptQueries = () =>
    ddb
      .commandCalls(QueryCommand)
      .map((c) => c.args[0].input)
      .filter((input) => String(input.ExpressionAttributeValues?.[':pk']).startsWith('RECEIPT#'));

  beforeEach(() => {
    ddb.reset();
    sqs.reset();
  });

  it('counts the events no receipt lists, from the reconciler watermark to now, with the oldest', async () => {
    // Prepare: four minutes from the watermark; of four events, receipts list two.
    const published = [itemAt('2026-11-22T11:57:10.000Z', 1), itemAt('2026-11-22T11:59:40.000Z', 4)];
    const pending = [itemAt('2026-11-22T11:58:30.000Z', 2), itemAt('2026-11-22T11:59:05.000Z', 3)];
    ddb
      .on(GetCommand)
      .resolves({ Item: { pk: 'RECONCILER', sk: 'WATERMARK', bucket: '2026-11-22T11:57' } })
      .on(QueryCommand)
      .resolves({ Items: [] });
    serve([...published, ...pending]);
    receipt('2026-11-22T11:57', [published[0] ?? {}]);
    receipt('2026-11-22T11:59', [published[1] ?? {}]);

    // Act
    const status = await outboxStatus(timeOrdered, { now: NOW });

    // Assess
    expect(status).toEqual({
      target: 'test',
      table: 'outbox',
      listedBy: 'table-key',
      listing: { from: '2026-11-22T11:57', since: 'watermark', itemsRead: 8, receiptKeys: 2 },
      pending: 2,
      oldestPendingOccurredAt: '2026-11-22T11:58:30.000Z',
      oldestPendingAgeSeconds: 90,
      queues: [],
      notes: [],
    });
    // Every partition of the four minutes, by the table's own key (no index), up to now.
    const partitions = partitionQueries();
    expect(partitions).toHaveLength(8);
    for (const query of partitions) {
      expect(query).not.toHaveProperty('IndexName');
      expect(query).toMatchObject({
        TableName: 'outbox',
        ExpressionAttributeValues: { ':before': `OUTBOX#${NOW.toISOString()}` },
      });
    }
    expect(partitions.map((q) => q.ExpressionAttributeValues?.[':pk']).sort()).toEqual(
      ['11:57', '11:58', '11:59', '12:00'].flatMap((m) => [`2026-11-22T${m}#0`, `2026-11-22T${m}#1`]),
    );
    // One receipts Query a minute, however many of its partitions ask.
    expect(receiptQueries()).toHaveLength(4);
    expect(formatStatus(status).split('\n')).toEqual([
      'Outbox status: test',
      '  table                 outbox',
      '  tracking              receipts (time-ordered table), read from 2026-11-22T11:57 (reconciler watermark)',
      '  pending events        2',
      '  oldest pending        90 s (occurred 2026-11-22T11:58:30.000Z)',
      '',
      'Queues                  messages  in flight',
      '  (none found)',
    ]);
  });

  it('without a watermark reads from the start of the retention, at most --max items, and says where it stopped', async () => {
    // Prepare: no reconciler run yet; one event in the retention's first minute, no receipt at all.
    const oldest = itemAt('2026-11-21T12:00:20.000Z', 7, oneShardLayout);
    ddb.on(GetCommand).resolves({}).on(QueryCommand).resolves({ Items: [] });
    serve([oldest]);

    // Act: a day of minutes, one partition each; five items' worth of reads.
    const status = await outboxStatus({ ...oneShard, retentionDays: 1 }, { now: NOW, maxItems: 5 });

    // Assess: the event and four empty minutes (an empty page counts as one), then a stop.
    expect(status).toMatchObject({
      listedBy: 'table-key',
      listing: {
        from: '2026-11-21T12:00',
        since: 'retention',
        itemsRead: 5,
        receiptKeys: 0,
        stoppedAt: '2026-11-21T12:05',
      },
      pending: 1,
      oldestPendingOccurredAt: '2026-11-21T12:00:20.000Z',
      oldestPendingAgeSeconds: 86_380,
    });
    const partitions = partitionQueries();
    expect(partitions.map((q) => q.ExpressionAttributeValues?.[':pk'])).toEqual(
      ['12:00', '12:01', '12:02', '12:03', '12:04'].map((m) => `2026-11-21T${m}#0`),
    );
    expect(partitions.reduce((sum, q) => sum + (q.Limit ?? 0), 0)).toBe(5);
    expect(formatStatus(status).split('\n')).toEqual([
      'Outbox status: test',
      '  table                 outbox',
      '  tracking              receipts (time-ordered table), read from 2026-11-21T12:00 (start of the retention)',
      '  pending events        at least 1',
      '  oldest pending        24.0 h (occurred 2026-11-21T12:00:20.000Z)',
      '',
      'Queues                  messages  in flight',
      '  (none found)',
      '',
      'Note: Stopped after reading 5 outbox items (--max) from 2026-11-21T12:00: events from ' +
        '2026-11-21T12:05 on are not all counted. Pass a larger --max to read further.',
      '',
      'Note: No receipt lists any event read: the relay has published none of them yet, or runs ' +
        'with delivery tracking off (no receipts), in which case every event counts as pending here.',
    ]);
  });

  it('pages through a busy minute, and counts a parked event as settled', async () => {
    // Prepare: one partition, three pages; a receipt parks one event, another publishes one.
    const items = [1, 2, 3, 4, 5].map((n) => itemAt(`2026-11-22T11:59:0${n}.000Z`, n, oneShardLayout));
    ddb
      .on(GetCommand)
      .resolves({ Item: { bucket: '2026-11-22T11:59' } })
      .on(QueryCommand)
      .resolves({ Items: [] })
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': '2026-11-22T11:59#0' } })
      .resolvesOnce({ Items: items.slice(0, 2), LastEvaluatedKey: { pk: 'x', sk: '2' } })
      .resolvesOnce({ Items: items.slice(2, 4), LastEvaluatedKey: { pk: 'x', sk: '4' } })
      .resolvesOnce({ Items: items.slice(4) })
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'RECEIPT#2026-11-22T11:59' } })
      .resolves({
        Items: [{ published: new Set([items[0]?.sk]) }, { parked: new Set([items[2]?.sk]) }],
      });

    // Act
    const status = await outboxStatus(oneShard, { now: NOW });

    // Assess
    expect(status).toMatchObject({
      pending: 3,
      oldestPendingOccurredAt: '2026-11-22T11:59:02.000Z',
      listing: { itemsRead: 6, receiptKeys: 2 },
      notes: [],
    });
    expect(status.listing).not.toHaveProperty('stoppedAt');
    const busy = partitionQueries().filter(
      (q) => q.ExpressionAttributeValues?.[':pk'] === '2026-11-22T11:59#0',
    );
    expect(busy.map((q) => q.ExclusiveStartKey)).toEqual([
      undefined,
      { pk: 'x', sk: '2' },
      { pk: 'x', sk: '4' },
    ]);
  });
  it('is what `dynamodb-outbox status --layout time-ordered-table --max <n>` reads and prints', async () => {
    // Prepare: nothing in the table, no watermark; a one-day retention of eight-shard minutes.
    ddb.on(GetCommand).resolves({}).on(QueryCommand).resolves({ Items: [] });
    const stdout: string[] = [];
    const args = ['status', '--table', 'outbox', '--layout', 'time-ordered-table', '--retention-days', '1'];

    // Act
    const code = await runOutbox([...args, '--max', '40', '--json'], {
      log: (text) => stdout.push(text),
      error: (text) => stdout.push(text),
    });

    // Assess: forty empty partitions read, five minutes of eight; the rest of the day left.
    expect(code).toBe(0);
    const status = JSON.parse(stdout.join('\n'));
    expect(status).toMatchObject({
      table: 'outbox',
      listedBy: 'table-key',
      pending: 0,
      listing: { since: 'retention', itemsRead: 40, receiptKeys: 0 },
    });
    expect(Date.parse(`${status.listing.stoppedAt}:00Z`) - Date.parse(`${status.listing.from}:00Z`)).toBe(
      5 * 60_000,
    );
    expect(partitionQueries()).toHaveLength(40);
    expect(ddb.commandCalls(QueryCommand).some((c) => c.args[0].input.IndexName !== undefined)).toBe(false);
  });
});
