import { DeleteItemCommand, TransactWriteItemsCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { localClientConfig } from '../../src/local/clients';
import type { DynamoDbLocal } from '../../src/local/dynamodb';
import {
  InMemoryCheckpointStore,
  latestStreamArn,
  StreamPoller,
  type StreamPollerOptions,
} from '../../src/local/stream-poller';
import { relayFilterPattern } from '../../src/runtime/layout';
import { createTestOrdersTable, startTestDynamoDb } from '../support/dynamodb-local';
import { ordersOutboxLayout } from '../support/sample-table';

const silent = { warn: () => undefined, error: () => undefined };

describe('stream poller against DynamoDB Local streams', () => {
  let db: DynamoDbLocal;
  let streams: DynamoDBStreamsClient;
  const pollers: StreamPoller[] = [];

  beforeAll(async () => {
    db = await startTestDynamoDb();
    streams = new DynamoDBStreamsClient(localClientConfig(db.endpoint));
  });
  afterEach(async () => {
    await Promise.all(pollers.splice(0).map((p) => p.stop()));
  });
  afterAll(async () => {
    streams?.destroy();
    await db?.stop();
  });

  const start = (
    streamArn: string,
    options: Partial<StreamPollerOptions> & Pick<StreamPollerOptions, 'handler'>,
  ) => {
    const poller = new StreamPoller({
      client: streams,
      streamArn,
      filterPatterns: [relayFilterPattern(ordersOutboxLayout)],
      pollIntervalMs: 20,
      retryDelayMs: 5,
      shardDiscoveryIntervalMs: 100,
      logger: silent,
      ...options,
    });
    pollers.push(poller);
    poller.start();
    return poller;
  };

  /** One order and its outbox event in one transaction, as the write path does. */
  const placeOrder = (tableName: string, orderId: string, sequence = 1) =>
    db.client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Put: {
              TableName: tableName,
              Item: { PK: { S: `ORDER#${orderId}` }, SK: { S: 'ORDER' }, status: { S: 'PLACED' } },
            },
          },
          {
            Put: {
              TableName: tableName,
              Item: {
                PK: { S: `ORDER#${orderId}` },
                SK: { S: `OUTBOX#${String(sequence).padStart(10, '0')}` },
                eventId: { S: `evt-${orderId}-${sequence}` },
                blob: { B: new Uint8Array([104, 105]) },
              },
            },
          },
        ],
      }),
    );

  const eventIds = (event: DynamoDBStreamEvent): string[] =>
    event.Records.map((r) => r.dynamodb?.NewImage?.eventId?.S ?? '?');

  it('delivers only outbox INSERTs, in write order, in the shape Lambda delivers, and checkpoints past the rest', async () => {
    // Prepare
    const tableName = await createTestOrdersTable(db);
    const streamArn = await latestStreamArn(db.client, tableName);
    for (const id of ['a', 'b', 'c']) await placeOrder(tableName, id);
    await db.client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { PK: { S: 'ORDER#a' }, SK: { S: 'ORDER' } },
        UpdateExpression: 'SET #s = :s',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':s': { S: 'CANCELLED' } },
      }),
    );
    await db.client.send(
      new DeleteItemCommand({
        TableName: tableName,
        Key: { PK: { S: 'ORDER#b' }, SK: { S: 'OUTBOX#0000000001' } },
      }),
    );
    const checkpoints = new InMemoryCheckpointStore();
    const batches: DynamoDBStreamEvent[] = [];
    // Act
    const poller = start(streamArn, {
      checkpoints,
      handler: async (event) => {
        batches.push(event);
      },
    });
    // Assess: 3 transactions (6 inserts), 1 MODIFY, 1 REMOVE; only the 3 outbox inserts pass.
    await vi.waitFor(() => expect(batches.flatMap(eventIds)).toEqual(['evt-a-1', 'evt-b-1', 'evt-c-1']), {
      timeout: 10_000,
    });
    const record = batches[0]?.Records[0];
    expect(record).toMatchObject({
      eventName: 'INSERT',
      eventSource: 'aws:dynamodb',
      eventSourceARN: streamArn,
      dynamodb: {
        Keys: { PK: { S: 'ORDER#a' }, SK: { S: 'OUTBOX#0000000001' } },
        NewImage: { eventId: { S: 'evt-a-1' }, blob: { B: 'aGk=' } },
        StreamViewType: 'NEW_IMAGE',
      },
    });
    expect(typeof record?.dynamodb?.ApproximateCreationDateTime).toBe('number');
    // The REMOVE is the last record: the checkpoint moves past what was filtered out.
    const lastDelivered = batches.at(-1)?.Records.at(-1)?.dynamodb?.SequenceNumber;
    await vi.waitFor(async () => {
      const shards = Object.values(await checkpoints.load(streamArn));
      expect(shards).toHaveLength(1);
      expect(BigInt(shards[0]?.sequenceNumber ?? '0')).toBeGreaterThan(BigInt(lastDelivered ?? '0'));
    });
    expect(poller.stats.recordsFilteredOut).toBe(5);
  });

  it('resumes from its checkpoint after a restart, with real AFTER_SEQUENCE_NUMBER iterators', async () => {
    // Prepare
    const tableName = await createTestOrdersTable(db);
    const streamArn = await latestStreamArn(db.client, tableName);
    const checkpoints = new InMemoryCheckpointStore();
    const first: string[] = [];
    await placeOrder(tableName, 'r1');
    const poller = start(streamArn, {
      checkpoints,
      handler: async (event) => {
        first.push(...eventIds(event));
      },
    });
    await vi.waitFor(() => expect(first).toEqual(['evt-r1-1']), { timeout: 10_000 });
    await poller.stop();
    // Act
    await placeOrder(tableName, 'r2');
    const second: string[] = [];
    start(streamArn, {
      checkpoints,
      handler: async (event) => {
        second.push(...eventIds(event));
      },
    });
    // Assess
    await vi.waitFor(() => expect(second).toEqual(['evt-r2-1']), { timeout: 10_000 });
  });

  it('LATEST skips records written before the poller started', async () => {
    const tableName = await createTestOrdersTable(db);
    const streamArn = await latestStreamArn(db.client, tableName);
    await placeOrder(tableName, 'old');
    const seen: string[] = [];
    const poller = start(streamArn, {
      startingPosition: 'LATEST',
      handler: async (event) => {
        seen.push(...eventIds(event));
      },
    });
    // The poller has its LATEST position once it has polled the shard.
    await vi.waitFor(() => expect(poller.stats.polls).toBeGreaterThan(0), { timeout: 10_000 });
    await placeOrder(tableName, 'new');
    await vi.waitFor(() => expect(seen).toEqual(['evt-new-1']), { timeout: 10_000 });
  });

  it('retries from the failed record of a partial batch response', async () => {
    // Prepare
    const tableName = await createTestOrdersTable(db);
    const streamArn = await latestStreamArn(db.client, tableName);
    for (const id of ['p1', 'p2', 'p3']) await placeOrder(tableName, id);
    const calls: string[][] = [];
    // Act
    start(streamArn, {
      reportBatchItemFailures: true,
      maximumBatchingWindowMs: 200,
      handler: async (event) => {
        calls.push(eventIds(event));
        const second = event.Records[1]?.dynamodb?.SequenceNumber;
        return calls.length === 1 && second ? { batchItemFailures: [{ itemIdentifier: second }] } : undefined;
      },
    });
    // Assess
    await vi.waitFor(() => expect(calls).toHaveLength(2), { timeout: 10_000 });
    expect(calls).toEqual([
      ['evt-p1-1', 'evt-p2-1', 'evt-p3-1'],
      ['evt-p2-1', 'evt-p3-1'],
    ]);
  });

  it('looks up the stream of a table and refuses a table without one', async () => {
    const tableName = await createTestOrdersTable(db);
    expect(await latestStreamArn(db.client, tableName)).toMatch(/:table\/.+\/stream\//);
    await expect(latestStreamArn(db.client, 'no-such-table')).rejects.toThrow();
  });
});
