import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { listingFor } from '../../src/engine/outbox-listing/listing-for';
import { TimeOrderedOutbox } from '../../src/engine/pending-outbox';
import { localClientConfig } from '../../src/local/clients';
import { createOutboxTable, createTableAndWait, type DynamoDbLocal } from '../../src/local/dynamodb';
import { InMemoryCheckpointStore, latestStreamArn, StreamPoller } from '../../src/local/stream-poller';
import type { OutboxDelivery } from '../../src/runtime/consumer';
import type { EventEnvelope } from '../../src/runtime/envelope';
import {
  bucketPartitions,
  relayFilterPattern,
  TIME_ORDERED_TABLE_LAYOUT,
  timeBucketsBetween,
} from '../../src/runtime/layout';
import type { TransactionalConsumerSettings } from '../../src/runtime/settings';
import { createTransactionalConsumer } from '../../src/runtime/transactional-consumer';
import { startTestDynamoDb } from '../support/dynamodb-local';

/*
 * A stock-reserving consumer on DynamoDB Local: its state table, and its own time-ordered outbox
 * table holding both the events it emits and its inbox records. Every delivery is one
 * TransactWriteItems, so a state change never exists without its event and its inbox record.
 */

const layout = TIME_ORDERED_TABLE_LAYOUT;
/** Every item these tests write is written after this: the reconciler's listing starts here. */
const startedAt = new Date(Date.now() - 1000).toISOString();
const quiet = {
  info: () => undefined,
  error: () => undefined,
  appendKeys: () => undefined,
  removeKeys: () => undefined,
};

const orderPlaced = (quantity: number): EventEnvelope => ({
  eventId: randomUUID(),
  eventType: 'OrderPlaced',
  aggregateType: 'Order',
  aggregateId: `order-${randomUUID().slice(0, 8)}`,
  sequence: 1,
  occurredAt: new Date().toISOString(),
  schemaVersion: 1,
  payload: { sku: 'sku-1', quantity },
});

const delivery = (detail: EventEnvelope) => ({
  version: '0',
  id: randomUUID(),
  'detail-type': detail.eventType,
  source: 'orders',
  account: '123456789012',
  time: new Date().toISOString(),
  region: 'us-east-1',
  resources: [],
  detail,
});

/** The consumer's answer to `event`: one event of its own, its id derived from the one it answers. */
const answer = (eventType: string, event: EventEnvelope): EventEnvelope => ({
  eventId: `${eventType}-${event.eventId}`,
  eventType,
  aggregateType: 'Reservation',
  aggregateId: event.aggregateId,
  sequence: 1,
  occurredAt: new Date().toISOString(),
  schemaVersion: 1,
  payload: { orderId: event.aggregateId },
});

type Reservation =
  | { readonly outcome: 'reserved'; readonly quantity: number }
  | { readonly outcome: 'rejected'; readonly failedWrites: readonly number[] };

describe('transactional consumer on DynamoDB Local', () => {
  let db: DynamoDbLocal;
  let doc: DynamoDBDocumentClient;
  let streams: DynamoDBStreamsClient;
  const pollers: StreamPoller[] = [];
  const stockTable = `stock-${randomUUID().slice(0, 8)}`;
  const outboxTable = `inventory-outbox-${randomUUID().slice(0, 8)}`;
  const settings: TransactionalConsumerSettings = {
    inboxTtlSeconds: 3600,
    outbox: { tableName: outboxTable, layout, deliveryTracking: true, retentionDays: 7 },
  };

  beforeAll(async () => {
    db = await startTestDynamoDb();
    doc = DynamoDBDocumentClient.from(db.client);
    streams = new DynamoDBStreamsClient(localClientConfig(db.endpoint));
    await createOutboxTable(db.client, outboxTable, layout);
    await createTableAndWait(db.client, {
      TableName: stockTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    });
    await doc.send(new PutCommand({ TableName: stockTable, Item: { pk: 'SKU#sku-1', available: 100 } }));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(pollers.map((poller) => poller.stop()));
    streams?.destroy();
    await db?.stop();
  });

  /** Reserve the ordered quantity if enough is available; otherwise answer with a rejection. */
  const consumerWith = (client: DynamoDBClient) =>
    createTransactionalConsumer<Reservation>({
      name: 'inventory',
      settings,
      dynamoDb: client,
      logger: quiet,
      handle: async ({ event }: OutboxDelivery) => {
        const quantity = (event.payload as { quantity: number }).quantity;
        return {
          writes: [
            {
              Update: {
                TableName: stockTable,
                Key: { pk: 'SKU#sku-1' },
                UpdateExpression: 'SET available = available - :qty',
                ConditionExpression: 'available >= :qty',
                ExpressionAttributeValues: { ':qty': quantity },
              },
            },
            { Put: { TableName: stockTable, Item: { pk: `RESERVATION#${event.aggregateId}`, quantity } } },
          ],
          emit: [answer('StockReserved', event)],
          result: { outcome: 'reserved' as const, quantity },
        };
      },
      onRejected: async ({ event }, { failed }) => ({
        writes: [],
        emit: [answer('StockRejected', event)],
        result: { outcome: 'rejected' as const, failedWrites: failed.map((f) => f.index) },
      }),
    });

  const available = async () =>
    (
      await doc.send(
        new GetCommand({ TableName: stockTable, Key: { pk: 'SKU#sku-1' }, ConsistentRead: true }),
      )
    ).Item?.available as number;
  const scan = async (tableName: string) =>
    (await doc.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }))).Items ?? [];
  const itemsAbout = async (event: EventEnvelope) => ({
    inbox: (await scan(outboxTable)).filter((item) => item.eventId === event.eventId),
    emitted: (await scan(outboxTable)).filter((item) => item.aggregateId === event.aggregateId),
    reservation: (await scan(stockTable)).filter((item) => item.pk === `RESERVATION#${event.aggregateId}`),
  });

  it('commits the state change, the inbox record and the emitted event together; a redelivery writes nothing', async () => {
    // Prepare
    const consume = consumerWith(db.client);
    const event = orderPlaced(2);
    const before = await available();
    // Act
    const first = await consume(delivery(event));
    const snapshot = { stock: await scan(stockTable), outbox: await scan(outboxTable) };
    const again = await consume(delivery(event));
    // Assess
    expect(first).toEqual({ outcome: 'reserved', quantity: 2, duplicate: false });
    expect(again).toEqual({ outcome: 'reserved', quantity: 2, duplicate: true });
    expect(await available()).toBe(before - 2);
    const { inbox, emitted, reservation } = await itemsAbout(event);
    expect(inbox).toEqual([
      expect.objectContaining({
        pk: `INBOX#inventory#${event.eventId}`,
        sk: 'INBOX',
        result: { outcome: 'reserved', quantity: 2 },
        expiresAt: expect.any(Number),
      }),
    ]);
    expect(emitted.map((item) => item.eventType)).toEqual(['StockReserved']);
    expect(reservation).toHaveLength(1);
    expect({ stock: await scan(stockTable), outbox: await scan(outboxTable) }).toEqual(snapshot);
  });

  it("answers a failed business condition with onRejected's event, leaving the stock as it was", async () => {
    // Prepare
    const consume = consumerWith(db.client);
    const event = orderPlaced(1_000);
    const before = await available();
    // Act
    const result = await consume(delivery(event));
    // Assess
    expect(result).toEqual({ outcome: 'rejected', failedWrites: [0], duplicate: false });
    expect(await available()).toBe(before);
    const { inbox, emitted, reservation } = await itemsAbout(event);
    expect(inbox).toHaveLength(1);
    expect(emitted.map((item) => item.eventType)).toEqual(['StockRejected']);
    expect(reservation).toHaveLength(0);
  });

  it('leaves nothing half-written when a call fails, before or after DynamoDB committed it', async () => {
    // Prepare: a client whose next TransactWriteItems fails, either before it is sent or after it
    // committed (the answer lost), as a crash or a network fault would.
    const client = new DynamoDBClient(localClientConfig(db.endpoint));
    let fault: 'before' | 'after' | undefined;
    client.middlewareStack.add(
      (next) => async (args) => {
        const planned = fault;
        fault = undefined;
        if (planned === 'before') throw new Error('connection reset before the request');
        const response = await next(args);
        if (planned === 'after') throw new Error('connection reset after the commit');
        return response;
      },
      { step: 'finalizeRequest' },
    );
    const consume = consumerWith(client);
    const lostRequest = orderPlaced(1);
    const lostAnswer = orderPlaced(3);
    const before = await available();
    // Act: each invocation fails once and Lambda retries it.
    fault = 'before';
    await expect(consume(delivery(lostRequest))).rejects.toThrow(/before the request/);
    const nothingYet = await itemsAbout(lostRequest);
    const retried = await consume(delivery(lostRequest));
    fault = 'after';
    await expect(consume(delivery(lostAnswer))).rejects.toThrow(/after the commit/);
    const retriedAfterCommit = await consume(delivery(lostAnswer));
    // Assess
    expect(nothingYet).toEqual({ inbox: [], emitted: [], reservation: [] });
    expect(retried).toEqual({ outcome: 'reserved', quantity: 1, duplicate: false });
    expect(retriedAfterCommit).toEqual({ outcome: 'reserved', quantity: 3, duplicate: true });
    expect(await available()).toBe(before - 4);
    for (const event of [lostRequest, lostAnswer]) {
      const { inbox, emitted, reservation } = await itemsAbout(event);
      expect([inbox.length, emitted.length, reservation.length]).toEqual([1, 1, 1]);
    }
    client.destroy();
  });

  it('never hands an inbox record to the relay, nor lists one for the reconciler', async () => {
    // Prepare: the relay's stream filter, as the offline poller applies it to the outbox's stream.
    const streamArn = await latestStreamArn(db.client, outboxTable);
    const relayed: string[] = [];
    const poller = new StreamPoller({
      client: streams,
      streamArn,
      filterPatterns: [relayFilterPattern(layout)],
      checkpoints: new InMemoryCheckpointStore(),
      pollIntervalMs: 20,
      retryDelayMs: 5,
      shardDiscoveryIntervalMs: 100,
      logger: { warn: () => undefined, error: () => undefined },
      handler: async (batch: DynamoDBStreamEvent) => {
        for (const record of batch.Records) relayed.push(record.dynamodb?.Keys?.sk?.S ?? '?');
      },
    });
    pollers.push(poller);
    poller.start();
    const consume = consumerWith(db.client);
    await consume(delivery(orderPlaced(1)));
    // A last outbox-like item after everything: once it is relayed, every earlier record was filtered.
    const sentinel = `${layout.sortKeyPrefix}sentinel`;
    await doc.send(new PutCommand({ TableName: outboxTable, Item: { pk: 'sentinel#0', sk: sentinel } }));
    // Act
    await vi.waitFor(() => expect(relayed).toContain(sentinel), { timeout: 15_000, interval: 50 });
    const outbox = new TimeOrderedOutbox(doc, {
      tableName: outboxTable,
      layout,
      items: listingFor(doc, outboxTable, layout),
      receipts: { receiptsOf: async () => ({ published: new Set(), parked: new Set() }) },
      lookbackSeconds: 120,
    });
    const before = new Date(Date.now() + 60_000).toISOString();
    const shards = [...(await outbox.shards(before))];
    const listed = await Promise.all(
      timeBucketsBetween(startedAt, before)
        .flatMap((bucket) => bucketPartitions(layout, bucket))
        .map((shard) => outbox.page(shard, before, 100)),
    );
    // Assess
    const inbox = (await scan(outboxTable)).filter((item) => item.sk === 'INBOX');
    expect(inbox.length).toBeGreaterThan(0);
    expect(relayed.filter((sk) => !sk.startsWith(layout.sortKeyPrefix))).toEqual([]);
    expect(relayed.some((sk) => sk.includes('#Reservation#'))).toBe(true);
    expect(shards.filter((shard) => shard.startsWith('INBOX#'))).toEqual([]);
    expect(listed.flatMap((page) => page.malformed)).toEqual([]);
    const listedTypes = new Set(listed.flatMap((page) => page.records.map((r) => r.envelope.eventType)));
    expect([...listedTypes].sort()).toEqual(['StockRejected', 'StockReserved']);
  });
});
