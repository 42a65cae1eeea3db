import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DeliveryReceipts } from '../../../src/engine/delivery-tracking';
import { outboxKeyOf, TIME_ORDERED_TABLE_LAYOUT, timeBucketsBetween } from '../../../src/runtime/layout';
import { ORDERS_LAYOUT, outboxItem } from '../../support/unit';

const layout = TIME_ORDERED_TABLE_LAYOUT;
const NOW = new Date('2026-11-30T12:00:00.000Z');
const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const tracker = new DeliveryReceipts(doc, { tableName: 'outbox', layout, retentionDays: 7 });

const keyAt = (occurredAt: string, n: number) =>
  outboxKeyOf(
    layout,
    { aggregateType: 'Order', aggregateId: `o${n}`, sequence: 1 },
    { writtenAt: new Date(occurredAt) },
  );
/** On a time-ordered table the key says the minute: tracking needs nothing else. */
const tracked = (keys: readonly (ReturnType<typeof keyAt> | undefined)[]) =>
  keys.flatMap((key) => (key === undefined ? [] : [{ key }]));

describe('time-ordered keys', () => {
  it('partition by minute and shard, sort by write time, then aggregate and sequence', () => {
    expect(keyAt('2026-11-30T11:59:30.5+00:00', 1)).toEqual({
      pk: expect.stringMatching(/^2026-11-30T11:59#[0-7]$/),
      sk: 'OUTBOX#2026-11-30T11:59:30.500Z#Order#o1#0000000001',
    });
    expect(timeBucketsBetween('2026-11-30T11:58:59Z', '2026-11-30T12:00:01Z')).toEqual([
      '2026-11-30T11:58',
      '2026-11-30T11:59',
      '2026-11-30T12:00',
    ]);
  });
});

describe('DeliveryReceipts on a time-ordered table', () => {
  beforeEach(() => ddb.reset());

  it('writes one receipt per minute of the events, listing their sort keys, with a TTL', async () => {
    // Prepare
    ddb.on(PutCommand).resolves({});
    const keys = [
      keyAt('2026-11-30T11:59:58Z', 1),
      keyAt('2026-11-30T11:59:59Z', 2),
      keyAt('2026-11-30T12:00:00Z', 3),
    ];

    // Act
    const result = await tracker.markPublished(tracked(keys), NOW);

    // Assess
    expect(result).toEqual({ marked: 3, missing: 0, failed: [] });
    const items = ddb.commandCalls(PutCommand).map((call) => call.args[0].input.Item);
    expect(items).toHaveLength(2);
    expect(items[0]).toMatchObject({
      pk: 'RECEIPT#2026-11-30T11:59',
      sk: expect.stringMatching(/^RECEIPT#2026-11-30T12:00:00.000Z#/),
      published: new Set([keys[0]?.sk, keys[1]?.sk]),
      expiresAt: NOW.getTime() / 1000 + 7 * 86_400,
    });
    expect(items[1]).toMatchObject({ pk: 'RECEIPT#2026-11-30T12:00', published: new Set([keys[2]?.sk]) });
  });

  it('reports the keys of a receipt it could not write, and parks into a receipt of its own kind', async () => {
    // Prepare
    ddb.on(PutCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    const key = keyAt('2026-11-30T11:59:58Z', 1);

    // Act
    const result = await tracker.markParked(tracked([key]), NOW);

    // Assess
    expect(result).toEqual({
      marked: 0,
      missing: 0,
      failed: [{ key, errorCode: 'ThrottlingException', errorMessage: 'slow down' }],
    });
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input.Item).toHaveProperty('parked');
  });

  it('keeps parked items past their TTL before listing them; one it cannot keep stays out of the receipt', async () => {
    // Prepare: item 2 is already gone (TTL), item 3 cannot be updated.
    ddb.on(PutCommand).resolves({});
    const keys = [1, 2, 3].map((n) => keyAt(`2026-11-30T11:59:5${n}Z`, n));
    ddb
      .on(UpdateCommand)
      .resolves({})
      .on(UpdateCommand, { Key: keys[1] })
      .rejects(Object.assign(new Error('gone'), { name: 'ConditionalCheckFailedException' }))
      .on(UpdateCommand, { Key: keys[2] })
      .rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));

    // Act
    const result = await tracker.markParked(tracked(keys), NOW);

    // Assess
    expect(ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input)).toEqual(
      keys.map((key) => ({
        TableName: 'outbox',
        Key: key,
        UpdateExpression: 'REMOVE #expiresAt',
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: { '#expiresAt': 'expiresAt', '#pk': 'pk' },
      })),
    );
    expect(ddb.commandCalls(PutCommand).map((c) => c.args[0].input.Item?.parked)).toEqual([
      new Set([keys[0]?.sk, keys[1]?.sk]),
    ]);
    expect(result).toEqual({
      marked: 1,
      missing: 1,
      failed: [{ key: keys[2], errorCode: 'ThrottlingException', errorMessage: 'slow down' }],
    });
  });

  it('records a redriven event as published and hands its item back to TTL', async () => {
    // Prepare
    ddb.on(PutCommand).resolves({}).on(UpdateCommand).resolves({});
    const key = keyAt('2026-11-30T11:59:58Z', 1);

    // Act
    const result = await tracker.markRedriven(tracked([key]), NOW);

    // Assess
    expect(result).toEqual({ marked: 1, missing: 0, failed: [] });
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input.Item?.published).toEqual(new Set([key.sk]));
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
      Key: key,
      UpdateExpression: 'SET #expiresAt = :expiresAt',
      ExpressionAttributeValues: { ':expiresAt': NOW.getTime() / 1000 + 7 * 86_400 },
    });
  });

  it('answers which keys a receipt lists as published or parked, and counts a minute it cannot read as unread', async () => {
    // Prepare
    const [a, b, c] = [1, 2, 3].map((n) => keyAt(`2026-11-30T11:59:5${n}Z`, n));
    const d = keyAt('2026-11-30T12:00:01Z', 4);
    ddb
      .on(QueryCommand)
      .resolves({ Items: [{ published: new Set([a?.sk]) }, { parked: new Set([b?.sk]) }] })
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'RECEIPT#2026-11-30T12:00' } })
      .rejects(new Error('slow down'));

    // Act
    const found = await new DeliveryReceipts(doc, { tableName: 'outbox', layout, retentionDays: 7 }).settled(
      tracked([a, b, c, d]),
    );

    // Assess
    expect(found).toEqual({ settled: [a, b], unread: 1 });
  });

  it('asks again about a minute it read by reading only the receipts written since, less a clock margin', async () => {
    // Prepare: a fresh tracker (it remembers what it read); a minute with one receipt, then a second.
    const remembering = new DeliveryReceipts(doc, { tableName: 'outbox', layout, retentionDays: 7 });
    const [a, b] = [keyAt('2026-11-30T11:59:58Z', 1), keyAt('2026-11-30T11:59:59Z', 2)];
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [{ sk: 'RECEIPT#2026-11-30T12:00:01.000Z#u1', published: new Set([a?.sk]) }] })
      .resolvesOnce({ Items: [{ sk: 'RECEIPT#2026-11-30T12:00:05.000Z#u2', published: new Set([b?.sk]) }] });

    // Act
    const first = await remembering.settled(tracked([a, b]));
    const second = await remembering.settled(tracked([a, b]));

    // Assess: the second lookup keeps what the first read and adds the new receipt.
    expect(first).toEqual({ settled: [a], unread: 0 });
    expect(second).toEqual({ settled: [a, b], unread: 0 });
    const queries = ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(queries[0]).toMatchObject({
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeValues: { ':pk': 'RECEIPT#2026-11-30T11:59' },
    });
    expect(queries[1]).toMatchObject({
      KeyConditionExpression: '#pk = :pk AND #sk > :since',
      ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
      ExpressionAttributeValues: {
        ':pk': 'RECEIPT#2026-11-30T11:59',
        ':since': 'RECEIPT#2026-11-30T11:59:51.000Z',
      },
    });
  });
});

describe('DeliveryReceipts on a same table', () => {
  const sameTable = new DeliveryReceipts(doc, {
    tableName: 'orders',
    layout: ORDERS_LAYOUT,
    retentionDays: 7,
  });
  /** Two orders' first events: the same sort key, in different partitions, written in 10:00. */
  const items = [1, 2].map((n) => outboxItem(n));
  const trackedItems = items.map((item) => ({ key: { PK: String(item.PK), SK: String(item.SK) }, item }));
  const names = items.map((item) => JSON.stringify([item.PK, item.SK]));
  beforeEach(() => ddb.reset());

  it("writes the receipt under the minute of the items' time index entry, naming each by its whole key", async () => {
    // Prepare
    ddb.on(PutCommand).resolves({});

    // Act
    const result = await sameTable.markPublished(trackedItems, NOW);

    // Assess
    expect(result).toEqual({ marked: 2, missing: 0, failed: [] });
    expect(ddb.commandCalls(PutCommand).map((c) => c.args[0].input)).toEqual([
      {
        TableName: 'orders',
        Item: {
          PK: 'RECEIPT#2026-11-22T10:00',
          SK: expect.stringMatching(/^RECEIPT#2026-11-30T12:00:00.000Z#/),
          published: new Set(names),
          expiresAt: NOW.getTime() / 1000 + 7 * 86_400,
        },
      },
    ]);
  });

  it('finds the receipts of the same minute, and tells two aggregates with the same sort key apart', async () => {
    // Prepare
    ddb
      .on(QueryCommand)
      .resolves({ Items: [{ SK: 'RECEIPT#2026-11-22T10:00:01.000Z#u', published: new Set([names[0]]) }] });

    // Act
    const found = await sameTable.settled(trackedItems);

    // Assess
    expect(found).toEqual({ settled: [trackedItems[0]?.key], unread: 0 });
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input.ExpressionAttributeValues).toEqual({
      ':pk': 'RECEIPT#2026-11-22T10:00',
    });
  });

  it('reports an item without a time index entry as failed: no receipt can name its minute', async () => {
    // Prepare: written before the time index (or with tracking off).
    ddb.on(PutCommand).resolves({});
    const { outboxMinute: _minute, outboxWrittenAt: _at, ...legacy } = outboxItem(1);

    // Act
    const result = await sameTable.markPublished(
      [{ key: { PK: 'ORDER#x', SK: 'OUTBOX#0000000001' }, item: legacy }],
      NOW,
    );

    // Assess
    expect(result).toEqual({
      marked: 0,
      missing: 0,
      failed: [
        {
          key: { PK: 'ORDER#x', SK: 'OUTBOX#0000000001' },
          errorCode: 'NoTimeIndexEntry',
          errorMessage: expect.stringMatching(/no time index entry/),
        },
      ],
    });
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });
});
