import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { PendingOutbox, TimeOrderedOutbox } from '../../../src/engine/pending-outbox';
import { TIME_ORDERED_TABLE_LAYOUT } from '../../../src/runtime/layout';
import { keyOf, ORDERS_LAYOUT, OTHER_LAYOUT, outboxItem, recordOf } from '../../support/unit';

const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const BEFORE = '2026-11-22T11:45:00.000Z';

describe('PendingOutbox', () => {
  beforeEach(() => {
    ddb.reset();
  });

  it("lists one shard per the layout's shard count", () => {
    expect(new PendingOutbox(doc, 'orders', ORDERS_LAYOUT).shards()).toEqual(
      Array.from({ length: 8 }, (_, i) => `PENDING#${i}`),
    );
    expect(new PendingOutbox(doc, 'orders', OTHER_LAYOUT).shards()).toEqual([
      'PENDING#0',
      'PENDING#1',
      'PENDING#2',
      'PENDING#3',
    ]);
  });

  it('queries one shard of the pending index, oldest first, for items older than the cutoff', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({ Items: [] });
    // Act
    await new PendingOutbox(doc, 'orders', ORDERS_LAYOUT).page('PENDING#2', BEFORE, 50, { PK: 'ORDER#o1' });
    // Assess
    expect(ddb.commandCalls(QueryCommand).map((c) => c.args[0].input)).toEqual([
      {
        TableName: 'orders',
        IndexName: 'pending-outbox',
        KeyConditionExpression: '#shard = :shard AND #occurredAt < :before',
        ExpressionAttributeNames: { '#shard': 'pendingShard', '#occurredAt': 'occurredAt' },
        ExpressionAttributeValues: { ':shard': 'PENDING#2', ':before': BEFORE },
        Limit: 50,
        ExclusiveStartKey: { PK: 'ORDER#o1' },
      },
    ]);
  });

  it("queries a table with other key names through the layout's own index and shard attribute", async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({ Items: [] });
    // Act
    await new PendingOutbox(doc, 'service', OTHER_LAYOUT).page('PENDING#0', BEFORE, 10);
    // Assess
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toEqual({
      TableName: 'service',
      IndexName: 'unpublished',
      KeyConditionExpression: '#shard = :shard AND #occurredAt < :before',
      ExpressionAttributeNames: { '#shard': 'gsi1pk', '#occurredAt': 'occurredAt' },
      ExpressionAttributeValues: { ':shard': 'PENDING#0', ':before': BEFORE },
      Limit: 10,
    });
  });

  it.each([
    ['same table, PK/SK', ORDERS_LAYOUT],
    ['same table, pk/sk', OTHER_LAYOUT],
  ])(
    'reads items as outbox records under their layout (%s), and passes the next page key on',
    async (_name, layout) => {
      // Prepare
      const items = [outboxItem(1, {}, layout), outboxItem(2, { traceHeader: 'Root=1-2-3' }, layout)];
      ddb.on(QueryCommand).resolves({ Items: items, LastEvaluatedKey: keyOf(items[1] ?? {}, layout) });
      // Act
      const page = await new PendingOutbox(doc, 'outbox', layout).page('PENDING#0', BEFORE, 2);
      // Assess
      expect(page).toEqual({
        records: items.map((item) => recordOf(item, layout)),
        malformed: [],
        nextKey: keyOf(items[1] ?? {}, layout),
      });
      expect(page.records[1]?.traceHeader).toBe('Root=1-2-3');
      expect(page.records[0]?.key).toEqual(keyOf(items[0] ?? {}, layout));
    },
  );

  it('keeps an entry that is not a valid outbox item apart, with its key, reason and content', async () => {
    // Prepare
    const { occurredAt: _dropped, ...noOccurredAt } = outboxItem(1, {}, OTHER_LAYOUT);
    const keyless = { sk: 'EVT#0000000001', eventId: 'e' };
    ddb.on(QueryCommand).resolves({ Items: [noOccurredAt, keyless, outboxItem(3, {}, OTHER_LAYOUT)] });
    // Act
    const page = await new PendingOutbox(doc, 'service', OTHER_LAYOUT).page('PENDING#0', BEFORE, 10);
    // Assess
    expect(page.records.map((r) => r.envelope.eventId)).toEqual([outboxItem(3).eventId]);
    expect(page.malformed).toEqual([
      {
        key: keyOf(noOccurredAt, OTHER_LAYOUT),
        reason: expect.stringMatching(/^Not a valid outbox item: occurredAt: /),
        item: noOccurredAt,
      },
      { reason: 'Not a valid outbox item: no string key attributes pk/sk', item: keyless },
    ]);
    expect(page).not.toHaveProperty('nextKey');
  });
});

describe('TimeOrderedOutbox', () => {
  const layout = TIME_ORDERED_TABLE_LAYOUT;
  beforeEach(() => {
    ddb.reset();
  });

  it('leaves out what a receipt lists, and says how many items the page read', async () => {
    // Prepare
    const items = [1, 2, 3].map((n) => outboxItem(n, { occurredAt: `2026-11-22T11:30:0${n}.000Z` }, layout));
    ddb.on(QueryCommand).resolves({ Items: items, LastEvaluatedKey: keyOf(items[2] ?? {}, layout) });
    const receiptsOf = async () => ({
      published: new Set([String(items[0]?.sk)]),
      parked: new Set([String(items[2]?.sk)]),
    });
    const listing = new TimeOrderedOutbox(doc, { tableName: 'outbox', layout, receipts: { receiptsOf } });
    // Act
    const page = await listing.page(String(items[1]?.pk), BEFORE, 3);
    // Assess
    expect(page.records.map((r) => r.envelope.eventId)).toEqual([outboxItem(2).eventId]);
    expect(page).toMatchObject({ read: 3, malformed: [], nextKey: keyOf(items[2] ?? {}, layout) });
  });

  it('reads the watermark a reconciler run left, if any', async () => {
    // Prepare
    ddb
      .on(GetCommand)
      .resolvesOnce({ Item: { bucket: '2026-11-22T11:15' } })
      .resolvesOnce({});
    const listing = new TimeOrderedOutbox(doc, {
      tableName: 'outbox',
      layout,
      receipts: { receiptsOf: async () => ({ published: new Set(), parked: new Set() }) },
    });
    // Act
    const [saved, none] = [await listing.watermark(), await listing.watermark()];
    // Assess
    expect([saved, none]).toEqual(['2026-11-22T11:15:00.000Z', undefined]);
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toMatchObject({
      TableName: 'outbox',
      Key: { pk: 'RECONCILER', sk: 'WATERMARK' },
      ConsistentRead: true,
    });
  });
});
