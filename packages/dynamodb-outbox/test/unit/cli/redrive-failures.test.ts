import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandInput,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { directoryFailureStore, redriveFailures } from '../../../src/cli/redrive-failures';
import { directoryFailureDestination, listDirectoryObjects } from '../../../src/local/failure-destination';
import type { StreamFailureRecord } from '../../../src/local/stream-poller';
import { type OutboxLayout, TIME_ORDERED_TABLE_LAYOUT } from '../../../src/runtime/layout';
import { keyOf, ORDERS_LAYOUT, outboxItem, streamRecord } from '../../support/unit';

const eventBridgeMock = mockClient(EventBridgeClient);
const docMock = mockClient(DynamoDBDocumentClient);

const target = {
  doc: DynamoDBDocumentClient.from(new DynamoDBClient({})),
  eventBridge: new EventBridgeClient({}),
  eventBusName: 'orders',
  source: 'orders',
  tableName: 'orders',
  layout: ORDERS_LAYOUT,
  retentionDays: 7,
};

/** A failure object as the mapping writes it to S3: the invocation record plus the whole batch. */
const failureOf = (numbers: number[], layout: OutboxLayout = ORDERS_LAYOUT): StreamFailureRecord => {
  const records = numbers.map((n) => streamRecord(n, outboxItem(n, {}, layout), { layout }));
  return {
    requestContext: {
      requestId: 'r',
      functionArn: 'f',
      condition: 'RecordAgeExceeded',
      approximateInvokeCount: 9,
    },
    version: '1.0',
    timestamp: '2026-11-22T16:00:00.000Z',
    DDBStreamBatchInfo: {
      shardId: 'shardId-1',
      startSequenceNumber: records[0]?.dynamodb?.SequenceNumber ?? '',
      endSequenceNumber: records.at(-1)?.dynamodb?.SequenceNumber ?? '',
      approximateArrivalOfFirstRecord: '2026-11-22T10:00:00.000Z',
      approximateArrivalOfLastRecord: '2026-11-22T10:00:00.000Z',
      batchSize: records.length,
      streamArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/x',
    },
    payload: JSON.stringify({ Records: records }),
  };
};

const publishedEventIds = (): string[] =>
  eventBridgeMock
    .commandCalls(PutEventsCommand)
    .flatMap((c) => (c.args[0].input as PutEventsCommandInput).Entries ?? [])
    .map((e: PutEventsRequestEntry) => JSON.parse(e.Detail ?? '{}').eventId);

/** Receipts that name `published` as published (all written in the fixtures' minute). */
const trackingKnows = (published: number[]) =>
  docMock.on(QueryCommand).resolves({
    Items: [
      {
        published: new Set(
          published.map((n) => JSON.stringify([keyOf(outboxItem(n)).PK, keyOf(outboxItem(n)).SK])),
        ),
      },
    ],
  });

/** The keys the receipts written name as published (same table: by the whole key). */
const receiptedKeys = () =>
  docMock
    .commandCalls(PutCommand)
    .flatMap((c) => [...((c.args[0].input.Item?.published as Set<string> | undefined) ?? [])])
    .map((name) => JSON.parse(name));

describe('outbox redrive --from-failures', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'redrive-failures-'));
    eventBridgeMock.reset();
    docMock.reset();
    docMock.on(UpdateCommand).resolves({});
    docMock.on(PutCommand).resolves({});
    eventBridgeMock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => ({
      Entries: (input.Entries ?? []).map((_, i) => ({ EventId: `eb-${i}` })),
    }));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('republishes the records of every failure object, records them in receipts, and moves the objects under redriven/', async () => {
    // Prepare
    const destination = directoryFailureDestination(dir);
    await destination(failureOf([0, 1, 2]), []);
    await destination(failureOf([3, 4]), []);
    trackingKnows([]);
    // Act
    const report = await redriveFailures(target, directoryFailureStore(dir));
    // Assess
    expect(report).toMatchObject({ objects: 2, republished: 5, skipped: 0, left: 0 });
    expect(publishedEventIds().sort()).toEqual([0, 1, 2, 3, 4].map((n) => outboxItem(n).eventId));
    expect(receiptedKeys()).toHaveLength(5);
    expect(docMock.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(await listDirectoryObjects(dir, 'aws/lambda/')).toEqual([]);
    expect(await listDirectoryObjects(dir, 'redriven/')).toHaveLength(2);
  });

  it('publishes nothing on a second run', async () => {
    // Prepare
    await directoryFailureDestination(dir)(failureOf([0, 1]), []);
    trackingKnows([]);
    await redriveFailures(target, directoryFailureStore(dir));
    eventBridgeMock.resetHistory();
    // Act
    const again = await redriveFailures(target, directoryFailureStore(dir));
    // Assess
    expect(again).toMatchObject({ objects: 0, republished: 0 });
    expect(eventBridgeMock.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it('skips events delivery tracking shows published (an object left behind by an interrupted run)', async () => {
    // Prepare
    await directoryFailureDestination(dir)(failureOf([0, 1, 2]), []);
    trackingKnows([0, 2]);
    // Act
    const report = await redriveFailures(target, directoryFailureStore(dir));
    // Assess
    expect(report).toMatchObject({ republished: 1, skipped: 2, left: 0 });
    expect(publishedEventIds()).toEqual([outboxItem(1).eventId]);
  });

  it('leaves an object whose events still fail, and changes nothing in a dry run', async () => {
    // Prepare
    await directoryFailureDestination(dir)(failureOf([0, 1]), []);
    trackingKnows([]);
    eventBridgeMock
      .on(PutEventsCommand)
      .rejects(Object.assign(new Error('down'), { name: 'InternalException' }));
    // Act
    const preview = await redriveFailures(target, directoryFailureStore(dir), { dryRun: true });
    const report = await redriveFailures(target, directoryFailureStore(dir));
    // Assess
    expect(preview.entries.map((e) => e.outcome)).toEqual(['would-redrive']);
    expect(report).toMatchObject({ republished: 0, left: 1 });
    expect(report.entries[0]?.reason).toContain('InternalException');
    expect(await listDirectoryObjects(dir, 'aws/lambda/')).toHaveLength(1);
  });
  it('on a time-ordered table, skips what a receipt lists and records the rest in a receipt of its own', async () => {
    // Prepare: three events of one minute; a receipt of that minute lists event 1 as published.
    const layout = TIME_ORDERED_TABLE_LAYOUT;
    const items = [0, 1, 2].map((n) => outboxItem(n, {}, layout));
    await directoryFailureDestination(dir)(failureOf([0, 1, 2], layout), []);
    docMock
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'RECEIPT#2026-11-22T10:00' } })
      .resolves({ Items: [{ published: new Set([items[1]?.sk]) }] })
      .on(PutCommand)
      .resolves({});

    // Act
    const report = await redriveFailures(
      { ...target, tableName: 'outbox', layout },
      directoryFailureStore(dir),
      {
        now: () => new Date('2026-11-22T16:30:00.000Z'),
      },
    );

    // Assess
    expect(report).toMatchObject({ objects: 1, republished: 2, skipped: 1, left: 0 });
    expect(publishedEventIds()).toEqual([items[0]?.eventId, items[2]?.eventId]);
    const receipts = docMock.commandCalls(PutCommand).map((c) => c.args[0].input);
    expect(receipts).toHaveLength(1);
    expect(receipts[0]).toMatchObject({
      TableName: 'outbox',
      Item: { pk: 'RECEIPT#2026-11-22T10:00', published: new Set([items[0]?.sk, items[2]?.sk]) },
    });
    // No write per item.
    expect(docMock.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(await listDirectoryObjects(dir, 'redriven/')).toHaveLength(1);
  });
});
