import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { listingFor } from '../../../src/engine/outbox-listing/listing-for';
import { TimeOrderedOutbox } from '../../../src/engine/pending-outbox';
import { TIME_ORDERED_TABLE_LAYOUT } from '../../../src/runtime/layout';
import { keyOf, ORDERS_LAYOUT, OTHER_LAYOUT, outboxItem, recordOf } from '../../support/unit';

const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const BEFORE = '2026-11-22T11:45:00.000Z';

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
    const listing = new TimeOrderedOutbox(doc, {
      tableName: 'outbox',
      layout,
      items: listingFor(doc, 'outbox', layout),
      receipts: { receiptsOf },
    });
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
      items: listingFor(doc, 'outbox', layout),
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

describe('TimeOrderedOutbox on a same table, listed by its time index', () => {
  beforeEach(() => {
    ddb.reset();
  });

  it('queries one time index partition for items written before the cut-off, and leaves out what a receipt names', async () => {
    // Prepare: two orders' first events share the sort key; a receipt names only the first.
    const items = [1, 2].map((n) => outboxItem(n, { occurredAt: `2026-11-22T11:30:0${n}.000Z` }));
    ddb.on(QueryCommand).resolves({ Items: items });
    const receiptsOf = async () => ({
      published: new Set([JSON.stringify([items[0]?.PK, items[0]?.SK])]),
      parked: new Set<string>(),
    });
    const listing = new TimeOrderedOutbox(doc, {
      tableName: 'orders',
      layout: ORDERS_LAYOUT,
      items: listingFor(doc, 'orders', ORDERS_LAYOUT),
      receipts: { receiptsOf },
    });

    // Act
    const page = await listing.page(String(items[0]?.outboxMinute), BEFORE, 50);

    // Assess
    expect(page.records).toEqual([recordOf(items[1] ?? {})]);
    expect(page).toMatchObject({ read: 2, malformed: [] });
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toEqual({
      TableName: 'orders',
      IndexName: 'outbox-by-time',
      KeyConditionExpression: '#minute = :minute AND #writtenAt < :before',
      ExpressionAttributeNames: { '#minute': 'outboxMinute', '#writtenAt': 'outboxWrittenAt' },
      ExpressionAttributeValues: { ':minute': items[0]?.outboxMinute, ':before': BEFORE },
      Limit: 50,
    });
  });

  it("lists a table with other key names through the layout's own index and attributes, and keeps a malformed entry apart", async () => {
    // Prepare
    const good = outboxItem(1, {}, OTHER_LAYOUT);
    const broken = { pk: 'ORDER#9', sk: 'EVT#0000000001', gsi1pk: good.gsi1pk, gsi1sk: good.gsi1sk };
    ddb.on(QueryCommand).resolves({ Items: [good, broken], LastEvaluatedKey: keyOf(broken, OTHER_LAYOUT) });
    const listing = new TimeOrderedOutbox(doc, {
      tableName: 'service',
      layout: OTHER_LAYOUT,
      items: listingFor(doc, 'service', OTHER_LAYOUT),
      receipts: { receiptsOf: async () => ({ published: new Set(), parked: new Set() }) },
    });

    // Act
    const page = await listing.page(String(good.gsi1pk), BEFORE, 10);

    // Assess
    expect(page.records).toEqual([recordOf(good, OTHER_LAYOUT)]);
    expect(page.malformed).toEqual([
      {
        key: keyOf(broken, OTHER_LAYOUT),
        reason: expect.stringMatching(/^Not a valid outbox item: /),
        item: broken,
      },
    ]);
    expect(page.nextKey).toEqual(keyOf(broken, OTHER_LAYOUT));
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      IndexName: 'by-written',
      ExpressionAttributeNames: { '#minute': 'gsi1pk', '#writtenAt': 'gsi1sk' },
    });
  });
});
