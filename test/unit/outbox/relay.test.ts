import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandInput,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import { SendMessageBatchCommand, type SendMessageBatchCommandInput, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { PoisonQueue, poisonMessageSchema } from '../../../lambdas/outbox/poison-queue';
import { OutboxPublisher } from '../../../lambdas/outbox/publisher';
import { createRelayHandler, type DeliveryTracking } from '../../../lambdas/outbox/relay';
import type { OutboxItem } from '../../../lambdas/shared/outbox-event';
import mixedStreamEvent from './fixtures/mixed-stream-event.json';
import { fakeMetrics, outboxItem, sequenceNumber, streamEvent, streamRecord } from './support';

const eventBridgeMock = mockClient(EventBridgeClient);
const sqsMock = mockClient(SQSClient);
const docMock = mockClient(DynamoDBDocumentClient);
const NOW = new Date('2026-11-22T10:00:03.000Z');
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/relay-poison';

const fakeLogger = () => {
  const lines: { level: string; message: string; attributes: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (message: string, attributes: Record<string, unknown> = {}) => {
      lines.push({ level, message, attributes });
    };
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
};

interface Setup {
  tracking?: boolean;
  maxEntryBytes?: number;
}

const setup = ({ tracking = true, maxEntryBytes }: Setup = {}) => {
  const metrics = fakeMetrics();
  const logger = fakeLogger();
  const publisher = new OutboxPublisher({
    eventBridge: new EventBridgeClient({}),
    eventBusName: 'orders-bus',
    source: 'orders',
    retry: { attempts: 0 },
    metrics,
    logger,
    now: () => NOW,
    ...(maxEntryBytes ? { limits: { maxEntryBytes } } : {}),
  });
  const trackingDeps: DeliveryTracking = tracking
    ? {
        enabled: true,
        doc: DynamoDBDocumentClient.from(new DynamoDBClient({})),
        tableName: 'orders',
        retentionDays: 7,
      }
    : { enabled: false };
  const handler = createRelayHandler({
    publisher,
    poisonQueue: new PoisonQueue({ sqs: new SQSClient({}), queueUrl: QUEUE_URL, now: () => NOW }),
    tracking: trackingDeps,
    metrics,
    logger,
    now: () => NOW,
  });
  return { handler, metrics, logger };
};

const detailOf = (entry: PutEventsRequestEntry): OutboxItem => JSON.parse(entry.Detail ?? '{}');

const publishedEventIds = (): string[] =>
  eventBridgeMock
    .commandCalls(PutEventsCommand)
    .flatMap((c) => (c.args[0].input as PutEventsCommandInput).Entries ?? [])
    .map((e) => detailOf(e).eventId);

/** EventBridge accepts everything except the listed eventIds, which fail with `code`. */
const eventBridgeFails = (eventIds: (string | undefined)[] = [], code = 'ThrottlingException') =>
  eventBridgeMock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => ({
    Entries: (input.Entries ?? []).map(
      (entry, i): PutEventsResultEntry =>
        eventIds.includes(detailOf(entry).eventId)
          ? { ErrorCode: code, ErrorMessage: 'no' }
          : { EventId: `eb-${i}` },
    ),
  }));

const sqsAccepts = () =>
  sqsMock.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => ({
    Successful: (input.Entries ?? []).map((e) => ({
      Id: e.Id,
      MessageId: `msg-${e.Id}`,
      MD5OfMessageBody: 'x',
    })),
    Failed: [],
  }));

const poisonMessages = () =>
  sqsMock
    .commandCalls(SendMessageBatchCommand)
    .flatMap((c) => (c.args[0].input as SendMessageBatchCommandInput).Entries ?? [])
    .map((e) => poisonMessageSchema.parse(JSON.parse(e.MessageBody ?? '{}')));

const updates = () => docMock.commandCalls(UpdateCommand).map((c) => c.args[0].input as UpdateCommandInput);

const markedKeys = () =>
  updates()
    .filter((u) => u.UpdateExpression?.startsWith('SET #publishedAt'))
    .map((u) => u.Key);

const parkedKeys = () =>
  updates()
    .filter((u) => u.UpdateExpression?.startsWith('SET #parkedAt'))
    .map((u) => u.Key);

/** Record 0 publishes, 1 is too large, 2 is not a valid outbox item, 3 publishes. */
const batchWithPoison = () => {
  const big = outboxItem(1, { payload: { note: 'x'.repeat(3000) } });
  const { eventId: _dropped, ...broken } = outboxItem(2);
  const event = streamEvent([
    streamRecord(0, outboxItem(0)),
    streamRecord(1, big),
    streamRecord(2, broken),
    streamRecord(3, outboxItem(3)),
  ]);
  return { big, broken, event };
};

const outboxBatch = (count: number, make: (n: number) => OutboxItem = (n) => outboxItem(n)) => {
  const items = Array.from({ length: count }, (_, n) => make(n));
  return { items, event: streamEvent(items.map((item, n) => streamRecord(n, item))) };
};

describe('relay handler', () => {
  beforeEach(() => {
    eventBridgeMock.reset();
    sqsMock.reset();
    docMock.reset();
    docMock.on(UpdateCommand).resolves({});
    sqsAccepts();
  });

  it('publishes 25 records in 3 PutEvents calls, marks them published and reports no failures', async () => {
    // Prepare
    eventBridgeFails();
    const { handler } = setup();
    const { items, event } = outboxBatch(25);
    // Act
    const response = await handler(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(eventBridgeMock.commandCalls(PutEventsCommand)).toHaveLength(3);
    expect(publishedEventIds()).toEqual(items.map((i) => i.eventId));
    expect(markedKeys()).toEqual(items.map((i) => ({ PK: i.PK, SK: i.SK })));
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
  });

  it('never publishes MODIFY, REMOVE (TTL) or order records', async () => {
    // Prepare
    eventBridgeFails();
    const { handler, logger } = setup();
    // Act
    const response = await handler(mixedStreamEvent as DynamoDBStreamEvent);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(publishedEventIds()).toEqual([outboxItem(1).eventId]);
    expect(markedKeys()).toHaveLength(1);
    expect(logger.lines.find((l) => l.message === 'Outbox batch relayed')?.attributes).toMatchObject({
      records: 5,
      ignored: 4,
      outboxInserts: 1,
      published: 1,
    });
  });

  it('names the first retryable failure as the only batch item failure', async () => {
    // Prepare
    const { items, event } = outboxBatch(10);
    eventBridgeFails([items[7]?.eventId, items[4]?.eventId]);
    const { handler } = setup();
    // Act
    const response = await handler(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: sequenceNumber(4) }] });
    // What was published is marked, including what comes after the retry point.
    expect(markedKeys()).toEqual(
      items.filter((_, i) => i !== 4 && i !== 7).map((i) => ({ PK: i.PK, SK: i.SK })),
    );
  });

  it('retries from the first record of a failed PutEvents call', async () => {
    // Prepare
    const { items, event } = outboxBatch(25);
    eventBridgeMock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => {
      const entries = input.Entries ?? [];
      if (detailOf(entries[0] ?? {}).eventId === items[10]?.eventId)
        throw Object.assign(new Error('Service unavailable'), { name: 'InternalException' });
      return { Entries: entries.map((_, i) => ({ EventId: `eb-${i}` })) };
    });
    const { handler } = setup();
    // Act
    const response = await handler(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: sequenceNumber(10) }] });
    expect(markedKeys()).toHaveLength(15);
  });

  it('parks an oversize entry on the poison queue with its full content instead of retrying it', async () => {
    // Prepare
    eventBridgeFails();
    const { handler, logger } = setup({ maxEntryBytes: 2048 });
    const big = outboxItem(1, { payload: { note: 'x'.repeat(3000) } });
    const event = streamEvent([
      streamRecord(0, outboxItem(0)),
      streamRecord(1, big),
      streamRecord(2, outboxItem(2)),
    ]);
    // Act
    const response = await handler(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(publishedEventIds()).toEqual([outboxItem(0).eventId, outboxItem(2).eventId]);
    const [message] = poisonMessages();
    expect(message).toMatchObject({
      errorCode: 'EntryTooLarge',
      reason: expect.stringMatching(/^Entry is \d+ bytes; PutEvents allows 2048$/),
      eventId: big.eventId,
      key: { PK: big.PK, SK: big.SK },
      stream: { eventID: 'event-1', sequenceNumber: sequenceNumber(1) },
    });
    expect(message?.item).toEqual(JSON.parse(JSON.stringify(big)));
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.attributes)).toEqual([
      expect.objectContaining({ eventId: big.eventId, orderId: big.aggregateId, errorCode: 'EntryTooLarge' }),
    ]);
  });

  it('with the default 1 MiB limit, publishes a large item and parks one whose JSON grows past 1 MiB', async () => {
    // Prepare: both fit DynamoDB's 400 KB item limit; control characters take 6 bytes each in JSON.
    eventBridgeFails();
    const { handler } = setup();
    const large = outboxItem(0, { payload: { note: 'x'.repeat(350 * 1024) } });
    const tooLarge = outboxItem(1, { payload: { note: '\u0001'.repeat(180 * 1024) } });
    const event = streamEvent([streamRecord(0, large), streamRecord(1, tooLarge)]);
    // Act
    const response = await handler(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(publishedEventIds()).toEqual([large.eventId]);
    const [message] = poisonMessages();
    // Over the poison queue's message size too: the message keeps the key, not the content.
    expect(message).toMatchObject({
      errorCode: 'EntryTooLarge',
      reason: expect.stringMatching(/^Entry is \d+ bytes; PutEvents allows 1048576$/),
      eventId: tooLarge.eventId,
      key: { PK: tooLarge.PK, SK: tooLarge.SK },
      contentOmitted: true,
    });
  });

  it('parks an item that is not a valid outbox item, with its raw image', async () => {
    // Prepare
    eventBridgeFails();
    const { handler, metrics } = setup();
    const { eventId: _dropped, ...broken } = outboxItem(1);
    const event = streamEvent([streamRecord(0, outboxItem(0)), streamRecord(1, broken)]);
    // Act
    const response = await handler(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(publishedEventIds()).toEqual([outboxItem(0).eventId]);
    const [message] = poisonMessages();
    expect(message?.errorCode).toBe('MalformedItem');
    expect(message?.reason).toMatch(/eventId/);
    expect(message?.image).toEqual(event.Records[1]?.dynamodb?.NewImage);
    expect(metrics.recorded).toContainEqual({ name: 'PoisonEvents', unit: 'Count', value: 1 });
  });

  it('turns a record the poison queue refused into the batch item failure, so it is never lost', async () => {
    // Prepare
    eventBridgeFails();
    sqsMock
      .on(SendMessageBatchCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'KmsAccessDenied' }));
    const { handler } = setup({ maxEntryBytes: 2048 });
    const event = streamEvent([
      streamRecord(0, outboxItem(0)),
      streamRecord(1, outboxItem(1, { payload: { note: 'x'.repeat(3000) } })),
      streamRecord(2, outboxItem(2)),
    ]);
    // Act
    const response = await handler(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: sequenceNumber(1) }] });
  });

  it('does not park poison that comes after the retry point: it will be read again', async () => {
    // Prepare
    const { handler } = setup({ maxEntryBytes: 2048 });
    const event = streamEvent([
      streamRecord(0, outboxItem(0)),
      streamRecord(1, outboxItem(1)),
      streamRecord(2, outboxItem(2, { payload: { note: 'x'.repeat(3000) } })),
    ]);
    eventBridgeFails([outboxItem(1).eventId]);
    // Act
    const response = await handler(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: sequenceNumber(1) }] });
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
  });

  it('takes parked items off the pending index (delivery tracking), so the reconciler never parks them again', async () => {
    // Prepare
    eventBridgeFails();
    const { handler, logger } = setup({ maxEntryBytes: 2048 });
    const { big, broken, event } = batchWithPoison();
    // Act
    const response = await handler(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(poisonMessages().map((m) => m.key)).toEqual([
      { PK: big.PK, SK: big.SK },
      { PK: broken.PK, SK: broken.SK },
    ]);
    expect(parkedKeys()).toEqual([
      { PK: big.PK, SK: big.SK },
      { PK: broken.PK, SK: broken.SK },
    ]);
    expect(updates().find((u) => u.UpdateExpression?.startsWith('SET #parkedAt'))).toMatchObject({
      TableName: 'orders',
      UpdateExpression: 'SET #parkedAt = :parkedAt REMOVE #pendingShard',
      ExpressionAttributeValues: { ':parkedAt': NOW.toISOString() },
    });
    expect(markedKeys()).toEqual([0, 3].map((n) => ({ PK: outboxItem(n).PK, SK: outboxItem(n).SK })));
    expect(logger.lines.find((l) => l.message === 'Outbox batch relayed')?.attributes).toMatchObject({
      parked: 2,
      markedParked: 2,
      markParkedFailures: 0,
    });
  });

  it('parks only what the poison queue accepted: a refused record stays pending and is retried', async () => {
    // Prepare
    eventBridgeFails();
    sqsMock
      .on(SendMessageBatchCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'KmsAccessDenied' }));
    const { handler } = setup({ maxEntryBytes: 2048 });
    const { event } = batchWithPoison();
    // Act
    const response = await handler(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: sequenceNumber(1) }] });
    expect(parkedKeys()).toEqual([]);
  });

  it('does not fail the batch when taking a parked item off the pending index fails', async () => {
    // Prepare
    eventBridgeFails();
    docMock
      .on(UpdateCommand, { UpdateExpression: 'SET #parkedAt = :parkedAt REMOVE #pendingShard' })
      .rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    const { handler, logger } = setup({ maxEntryBytes: 2048 });
    const { big, event } = batchWithPoison();
    // Act
    const response = await handler(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(
      logger.lines
        .filter((l) => l.message.startsWith('Could not take a parked event'))
        .map((l) => l.attributes),
    ).toContainEqual({ orderId: big.aggregateId, sortKey: big.SK, errorCode: 'ThrottlingException' });
  });

  it('sends poison to the queue but writes no park with delivery tracking off', async () => {
    // Prepare
    eventBridgeFails();
    const { handler } = setup({ tracking: false, maxEntryBytes: 2048 });
    const { event } = batchWithPoison();
    // Act
    const response = await handler(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(poisonMessages()).toHaveLength(2);
    expect(docMock.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('writes nothing back with delivery tracking off', async () => {
    // Prepare
    eventBridgeFails();
    const { handler } = setup({ tracking: false });
    // Act
    const response = await handler(outboxBatch(3).event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(docMock.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('does not retry a published event because marking it failed', async () => {
    // Prepare
    eventBridgeFails();
    docMock.on(UpdateCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    const { handler, logger } = setup();
    // Act
    const response = await handler(outboxBatch(2).event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(logger.lines.filter((l) => l.message.startsWith('Could not mark'))).toHaveLength(2);
  });

  it('carries the trace header from the outbox item into the PutEvents entry', async () => {
    // Prepare
    eventBridgeFails();
    const traceHeader = 'Root=1-6740a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1';
    const { handler } = setup();
    // Act
    await handler(streamEvent([streamRecord(0, outboxItem(0, { traceHeader }))]));
    // Assess
    const [call] = eventBridgeMock.commandCalls(PutEventsCommand);
    const input = call?.args[0].input as PutEventsCommandInput | undefined;
    expect(input?.Entries?.[0]?.TraceHeader).toBe(traceHeader);
  });

  it('logs one line per batch with counts and lag, and one per failure with eventId, orderId and code', async () => {
    // Prepare
    const { items, event } = outboxBatch(3);
    eventBridgeFails([items[2]?.eventId]);
    const { handler, logger } = setup();
    // Act
    await handler(event);
    // Assess
    expect(logger.lines.map((l) => [l.level, l.message])).toEqual([
      ['warn', 'Publish failed, will retry'],
      ['info', 'Outbox batch relayed'],
    ]);
    expect(logger.lines[0]?.attributes).toEqual({
      eventId: items[2]?.eventId,
      orderId: items[2]?.aggregateId,
      errorCode: 'ThrottlingException',
      errorMessage: 'no',
    });
    expect(logger.lines[1]?.attributes).toMatchObject({
      records: 3,
      published: 2,
      retryable: 1,
      poison: 0,
      maxLagMs: 3000,
      retryFromSequenceNumber: sequenceNumber(2),
    });
    // Never the payload: no customer data in the logs.
    expect(JSON.stringify(logger.lines)).not.toContain('customerId');
  });

  it('answers an empty batch with no failures and no calls', async () => {
    const { handler } = setup();
    expect(await handler({ Records: [] })).toEqual({ batchItemFailures: [] });
    expect(eventBridgeMock.commandCalls(PutEventsCommand)).toHaveLength(0);
  });
});
