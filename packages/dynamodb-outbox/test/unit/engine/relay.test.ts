import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandInput,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import { SendMessageBatchCommand, type SendMessageBatchCommandInput, SQSClient } from '@aws-sdk/client-sqs';
import {
  DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  DeliveryReceipts,
  type SettledLookup,
  type TrackedItem,
} from '../../../src/engine/delivery-tracking';
import { PoisonQueue, poisonMessageSchema } from '../../../src/engine/poison-queue';
import { OutboxPublisher, type PublishResult } from '../../../src/engine/publisher';
import {
  checkpoint,
  classify,
  createRelayHandler,
  MALFORMED_ITEM,
  skipAccepted,
  sortOutcome,
} from '../../../src/engine/relay';
import { HandedPositions, SettledMemory } from '../../../src/engine/settled-memory';
import type { EventEnvelope } from '../../../src/runtime/envelope';
import {
  describeKey,
  type OutboxKey,
  type OutboxLayout,
  TIME_ORDERED_TABLE_LAYOUT,
} from '../../../src/runtime/layout';
import {
  fakeLogger,
  fakeMetrics,
  keyOf,
  ORDERS_LAYOUT,
  OTHER_LAYOUT,
  outboxItem,
  recordOf,
  type StoredItem,
  sequenceNumber,
  streamEvent,
  streamRecord,
} from '../../support/unit';
import mixedStreamEvent from './fixtures/mixed-stream-event.json';

const eventBridgeMock = mockClient(EventBridgeClient);
const sqsMock = mockClient(SQSClient);
const docMock = mockClient(DynamoDBDocumentClient);
const NOW = new Date('2026-11-22T10:00:03.000Z');
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/relay-poison';

interface Setup {
  tracking?: boolean;
  maxEntryBytes?: number;
  layout?: OutboxLayout;
  now?: () => Date;
}

const setup = ({ tracking = true, maxEntryBytes, layout = ORDERS_LAYOUT, now = () => NOW }: Setup = {}) => {
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
  const handler = createRelayHandler({
    layout,
    publisher,
    poisonQueue: new PoisonQueue({ sqs: new SQSClient({}), queueUrl: QUEUE_URL, now: () => NOW }),
    tracker: tracking
      ? new DeliveryReceipts(DynamoDBDocumentClient.from(new DynamoDBClient({})), {
          tableName: 'orders',
          layout,
          retentionDays: 7,
        })
      : undefined,
    metrics,
    logger,
    now,
  });
  return { handler, metrics, logger };
};

const detailOf = (entry: PutEventsRequestEntry): EventEnvelope => JSON.parse(entry.Detail ?? '{}');

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

/** The receipts written: Puts whose sort key starts with `RECEIPT#`. */
const receiptItems = () =>
  docMock
    .commandCalls(PutCommand)
    .map((c) => c.args[0].input.Item ?? {})
    .filter((item) => String(item.SK ?? item.sk).startsWith('RECEIPT#'));

/** The keys the receipts name as `outcome`, on a same table (a receipt names an item by its whole key). */
const namedKeys = (outcome: 'published' | 'parked', layout: OutboxLayout = ORDERS_LAYOUT) =>
  receiptItems().flatMap((item) =>
    [...((item[outcome] as Set<string> | undefined) ?? [])].map((name) => {
      const [pk, sk] = JSON.parse(name) as [string, string];
      return { [layout.partitionKey]: pk, [layout.sortKey]: sk };
    }),
  );

const markedKeys = (layout?: OutboxLayout) => namedKeys('published', layout);

const parkedKeys = (layout?: OutboxLayout) => namedKeys('parked', layout);

/** How a same-table receipt names `item`. */
const receiptName = (item: Readonly<Record<string, unknown>>) => JSON.stringify([item.PK, item.SK]);

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

const outboxBatch = (count: number, make: (n: number) => StoredItem = (n) => outboxItem(n)) => {
  const items = Array.from({ length: count }, (_, n) => make(n));
  return { items, event: streamEvent(items.map((item, n) => streamRecord(n, item))) };
};

// The pure steps: plain data in, plain data out, no clients and no mocks.
describe('classify', () => {
  it('keeps outbox INSERTs, by position, and ignores aggregates, MODIFYs and TTL deletions', () => {
    // Prepare
    const records = (mixedStreamEvent as DynamoDBStreamEvent).Records;
    // Act
    const batch = classify(ORDERS_LAYOUT, records);
    // Assess
    expect(batch.ignored).toBe(4);
    expect(batch.malformed).toEqual([]);
    expect(batch.candidates.map((c) => c.position)).toEqual([1]);
    expect(batch.candidates[0]?.value).toEqual(recordOf(outboxItem(1)));
  });

  it("recognises outbox items by the layout's own sort key and prefix only", () => {
    // Prepare
    const records = [
      streamRecord(0, outboxItem(0, {}, OTHER_LAYOUT), { layout: OTHER_LAYOUT }),
      streamRecord(1, outboxItem(1)),
      streamRecord(2, { pk: 'ORDER#1', sk: 'OUTBOX#0000000001' }, { layout: OTHER_LAYOUT }),
    ];
    // Act
    const other = classify(OTHER_LAYOUT, records);
    const orders = classify(ORDERS_LAYOUT, records);
    // Assess
    expect(other.candidates.map((c) => [c.position, c.value.key])).toEqual([
      [0, { pk: 'ORDER#01JORDER000000000000000000', sk: 'EVT#0000000001' }],
    ]);
    expect(other.ignored).toBe(2);
    expect(orders.candidates.map((c) => [c.position, c.value.key])).toEqual([
      [1, { PK: 'ORDER#01JORDER000000000000000001', SK: 'OUTBOX#0000000001' }],
    ]);
    expect(orders.ignored).toBe(2);
  });

  it('reads the envelope and the trace header, and keeps the whole item as stored', () => {
    // Prepare
    const traceHeader = 'Root=1-6740a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1';
    const item = outboxItem(1, { traceHeader, correlationId: 'corr-1' }, OTHER_LAYOUT);
    // Act
    const [candidate] = classify(OTHER_LAYOUT, [streamRecord(0, item, { layout: OTHER_LAYOUT })]).candidates;
    // Assess
    expect(candidate?.value.traceHeader).toBe(traceHeader);
    expect(candidate?.value.envelope).toEqual({
      eventId: item.eventId,
      eventType: 'OrderPlaced',
      aggregateType: 'Order',
      aggregateId: item.aggregateId,
      sequence: 1,
      occurredAt: item.occurredAt,
      schemaVersion: 1,
      correlationId: 'corr-1',
      payload: item.payload,
    });
    expect(candidate?.value.item).toEqual(item);
  });

  it('makes an outbox INSERT that is not a valid item poison, with its key, image and stream position', () => {
    // Prepare
    const { sequence: _dropped, ...broken } = outboxItem(1);
    const record = streamRecord(0, broken);
    // Act
    const batch = classify(ORDERS_LAYOUT, [record]);
    // Assess
    expect(batch.candidates).toEqual([]);
    expect(batch.malformed).toEqual([
      {
        position: 0,
        value: {
          errorCode: MALFORMED_ITEM,
          reason: expect.stringMatching(/^Not a valid outbox item: sequence: /),
          key: keyOf(broken),
          image: record.dynamodb?.NewImage,
          stream: {
            eventID: 'event-0',
            sequenceNumber: sequenceNumber(0),
            eventSourceARN: record.eventSourceARN,
            approximateCreationDateTime: 1795860000,
          },
        },
      },
    ]);
  });

  it('makes an outbox INSERT without a new image poison', () => {
    // Act
    const batch = classify(ORDERS_LAYOUT, [streamRecord(0, undefined, { keys: keyOf(outboxItem(1)) })]);
    // Assess
    expect(batch.malformed.map((m) => [m.position, m.value.reason, m.value.image])).toEqual([
      [0, 'INSERT without NewImage', undefined],
    ]);
  });
});

describe('sortOutcome', () => {
  /** Positions 0 malformed, 1–5 outbox items (candidates 0–4), 6 malformed. */
  const mixedBatch = () => {
    const { eventId: _a, ...brokenFirst } = outboxItem(0);
    const { eventId: _b, ...brokenLast } = outboxItem(6);
    const records: DynamoDBRecord[] = [
      streamRecord(0, brokenFirst),
      ...[1, 2, 3, 4, 5].map((n) => streamRecord(n, outboxItem(n))),
      streamRecord(6, brokenLast),
    ];
    return { records, batch: classify(ORDERS_LAYOUT, records) };
  };

  it('with nothing to retry: every poison record parked, in stream order, and no retry point', () => {
    // Prepare
    const { records, batch } = mixedBatch();
    const result: PublishResult = {
      published: [0, 1, 3, 4],
      retryable: [],
      poison: [{ index: 2, errorCode: 'EntryTooLarge', errorMessage: 'too big' }],
    };
    // Act
    const outcome = sortOutcome(batch, result, records);
    // Assess
    expect(outcome.retryFrom).toBe(Number.POSITIVE_INFINITY);
    expect(outcome.published.map((p) => p.position)).toEqual([1, 2, 4, 5]);
    expect(outcome.toPark.map((p) => [p.position, p.value.errorCode])).toEqual([
      [0, MALFORMED_ITEM],
      [3, 'EntryTooLarge'],
      [6, MALFORMED_ITEM],
    ]);
    expect(outcome.poison).toBe(3);
  });

  it('parks a rejected item with its key, envelope, whole item and stream position', () => {
    // Prepare
    const { records, batch } = mixedBatch();
    const result: PublishResult = {
      published: [],
      retryable: [],
      poison: [{ index: 2, errorCode: 'InvalidArgument', errorMessage: 'bad detail' }],
    };
    // Act
    const parked = sortOutcome(batch, result, records).toPark.find((p) => p.position === 3);
    // Assess
    const item = outboxItem(3);
    expect(parked?.value).toEqual({
      errorCode: 'InvalidArgument',
      reason: 'bad detail',
      key: keyOf(item),
      envelope: recordOf(item).envelope,
      item,
      stream: {
        eventID: 'event-3',
        sequenceNumber: sequenceNumber(3),
        eventSourceARN: records[3]?.eventSourceARN,
        approximateCreationDateTime: 1795860000,
      },
    });
  });

  it('retries from the first retryable record and parks every poison record now, wherever it sits', () => {
    // Prepare
    const { records, batch } = mixedBatch();
    const result: PublishResult = {
      published: [0, 3],
      retryable: [
        { index: 4, errorCode: 'ThrottlingException', errorMessage: 'slow down' },
        { index: 2, errorCode: 'InternalFailure', errorMessage: 'oops' },
      ],
      poison: [{ index: 1, errorCode: 'EntryTooLarge', errorMessage: 'too big' }],
    };
    // Act
    const outcome = sortOutcome(batch, result, records);
    // Assess
    expect(outcome.retryFrom).toBe(3);
    // Published after the retry point too: marked now, republished (a duplicate) on the retry.
    expect(outcome.published.map((p) => p.position)).toEqual([1, 4]);
    // The malformed record at 6 comes after the retry point: parked now all the same, so that an
    // outage that keeps the batch retrying does not hold it back.
    expect(outcome.toPark.map((p) => p.position)).toEqual([0, 2, 6]);
    expect(outcome.poison).toBe(3);
  });
});

describe('skipAccepted', () => {
  const records = [0, 1, 2, 3].map((n) => streamRecord(n, outboxItem(n)));
  const handedBefore = () => true;
  const fresh = () => false;
  /** Delivery tracking that knows `settled` as recorded, and counts what it is asked. */
  const trackerKnowing = (settled: OutboxKey[], unread = 0) => {
    const asked: OutboxKey[][] = [];
    return {
      asked,
      settled: async (items: readonly TrackedItem[]): Promise<SettledLookup> => {
        asked.push(items.map((i) => i.key));
        const ids = new Set(settled.map((k) => describeKey(k)));
        return { settled: items.map((i) => i.key).filter((k) => ids.has(describeKey(k))), unread };
      },
    };
  };
  const deps = (memory: SettledMemory, tracker?: ReturnType<typeof trackerKnowing>) => ({ memory, tracker });
  const positions = (result: Awaited<ReturnType<typeof skipAccepted>>) =>
    result.batch.candidates.map((c) => c.position);

  it('leaves out what this container published or parked, and keeps the rest in stream order', async () => {
    // Prepare
    const memory = new SettledMemory();
    memory.remember([keyOf(outboxItem(1)), keyOf(outboxItem(3))], 'settled');
    // Act
    const result = await skipAccepted(deps(memory), classify(ORDERS_LAYOUT, records), fresh);
    // Assess
    expect(positions(result)).toEqual([0, 2]);
    expect(result.skipped).toBe(2);
    expect(result.lookedUp).toBe(0);
  });

  it('asks delivery tracking nothing about records never handed before', async () => {
    // Prepare
    const tracker = trackerKnowing([keyOf(outboxItem(0))]);
    // Act
    const result = await skipAccepted(
      deps(new SettledMemory(), tracker),
      classify(ORDERS_LAYOUT, records),
      fresh,
    );
    // Assess
    expect(tracker.asked).toEqual([]);
    expect(positions(result)).toEqual([0, 1, 2, 3]);
  });

  it('skips what delivery tracking has recorded among the records that may have been handled before', async () => {
    // Prepare: another container published 0 and 2, then crashed before its checkpoint.
    const tracker = trackerKnowing([keyOf(outboxItem(0)), keyOf(outboxItem(2))]);
    // Act
    const result = await skipAccepted(
      deps(new SettledMemory(), tracker),
      classify(ORDERS_LAYOUT, records),
      handedBefore,
    );
    // Assess
    expect(tracker.asked).toHaveLength(1);
    expect(positions(result)).toEqual([1, 3]);
    expect(result).toMatchObject({ skipped: 2, lookedUp: 4, unread: 0 });
  });

  it('looks up only the records that may have been handled before', async () => {
    // Prepare
    const tracker = trackerKnowing([keyOf(outboxItem(0)), keyOf(outboxItem(3))]);
    // Act: records 2 and 3 were handed back; 0 and 1 are new to this container.
    const result = await skipAccepted(
      deps(new SettledMemory(), tracker),
      classify(ORDERS_LAYOUT, records),
      (position) => position >= 2,
    );
    // Assess
    expect(tracker.asked).toEqual([[keyOf(outboxItem(2)), keyOf(outboxItem(3))]]);
    expect(positions(result)).toEqual([0, 1, 2]);
  });

  it('looks records up once per container, however often the batch is retried', async () => {
    // Prepare
    const tracker = trackerKnowing([keyOf(outboxItem(1))]);
    const memory = new SettledMemory();
    // Act: the same batch three times, as through an outage.
    const results = [];
    for (let i = 0; i < 3; i++)
      results.push(await skipAccepted(deps(memory, tracker), classify(ORDERS_LAYOUT, records), handedBefore));
    // Assess
    expect(tracker.asked).toHaveLength(1);
    for (const result of results) expect(positions(result)).toEqual([0, 2, 3]);
  });

  it('asks again next time about keys delivery tracking could not read', async () => {
    // Prepare
    const tracker = trackerKnowing([], 4);
    const memory = new SettledMemory();
    // Act
    await skipAccepted(deps(memory, tracker), classify(ORDERS_LAYOUT, records), handedBefore);
    const again = await skipAccepted(deps(memory, tracker), classify(ORDERS_LAYOUT, records), handedBefore);
    // Assess: unread counts as unsettled: published (a duplicate at worst), never skipped.
    expect(tracker.asked).toHaveLength(2);
    expect(positions(again)).toEqual([0, 1, 2, 3]);
  });

  it('skips poison that was parked before', async () => {
    // Prepare
    const { eventId: _, ...broken } = outboxItem(1);
    const withPoison = [streamRecord(0, outboxItem(0)), streamRecord(1, broken)];
    const memory = new SettledMemory();
    memory.remember([keyOf(broken)], 'settled');
    // Act
    const result = await skipAccepted(deps(memory), classify(ORDERS_LAYOUT, withPoison), fresh);
    // Assess
    expect(result.batch.malformed).toEqual([]);
    expect(result.skipped).toBe(1);
  });
});

describe('HandedPositions', () => {
  const at = (sequenceNumber: string, eventSourceARN = 'stream-a') => ({
    eventSourceARN,
    dynamodb: { SequenceNumber: sequenceNumber },
  });

  it('takes a record at or below the highest number handed on its stream as handed before, one above as new', () => {
    // Prepare
    const handed = new HandedPositions();
    handed.handed([at('400'), at('999')]);
    // Act, Assess
    expect([at('400'), at('999'), at('1000'), at('1001')].map((r) => handed.mayHaveHandled(r))).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });

  it('compares sequence numbers as numbers, not as text', () => {
    // Prepare
    const handed = new HandedPositions();
    handed.handed([at('999')]);
    // Act, Assess: '1000' sorts before '999' as text.
    expect(handed.mayHaveHandled(at('1000'))).toBe(false);
    expect(handed.mayHaveHandled(at('998'))).toBe(true);
  });

  it('keeps each stream apart, and takes a record without a sequence number as handed before', () => {
    // Prepare
    const handed = new HandedPositions();
    handed.handed([at('999', 'stream-a')]);
    // Act, Assess
    expect(handed.mayHaveHandled(at('5', 'stream-b'))).toBe(false);
    expect(handed.mayHaveHandled({ eventSourceARN: 'stream-a' })).toBe(true);
  });
});

describe('SettledMemory', () => {
  it('forgets the least recently remembered key beyond its capacity', () => {
    // Prepare
    const memory = new SettledMemory(2);
    const [a, b, c] = [0, 1, 2].map((n) => keyOf(outboxItem(n))) as [OutboxKey, OutboxKey, OutboxKey];
    // Act
    memory.remember([a, b], 'settled');
    memory.remember([a], 'settled');
    memory.remember([c], 'unsettled');
    // Assess
    expect(memory.size).toBe(2);
    expect(memory.stateOf(b)).toBeUndefined();
    expect(memory.stateOf(a)).toBe('settled');
    expect(memory.stateOf(c)).toBe('unsettled');
  });
});

describe('checkpoint', () => {
  const records = [0, 1, 2].map((n) => streamRecord(n, outboxItem(n)));

  it('reports no failure when nothing must be retried', () => {
    expect(checkpoint(records, Number.POSITIVE_INFINITY)).toEqual({ batchItemFailures: [] });
  });

  it('names only the record to retry from: Lambda resumes at the lowest sequence number', () => {
    expect(checkpoint(records, 1)).toEqual({ batchItemFailures: [{ itemIdentifier: sequenceNumber(1) }] });
    expect(checkpoint(records, 0)).toEqual({ batchItemFailures: [{ itemIdentifier: sequenceNumber(0) }] });
  });

  it('fails the whole batch when the record to retry has no sequence number', () => {
    // Prepare
    const unnumbered = { ...streamRecord(0, outboxItem(0)), dynamodb: { Keys: {} } };
    // Act + Assess
    expect(() => checkpoint([unnumbered], 0)).toThrow('A record to retry has no sequence number');
  });
});

describe('relay handler', () => {
  beforeEach(() => {
    eventBridgeMock.reset();
    sqsMock.reset();
    docMock.reset();
    docMock.on(UpdateCommand).resolves({});
    docMock.on(PutCommand).resolves({});
    docMock.on(QueryCommand).resolves({ Items: [] });
    sqsAccepts();
  });

  it('publishes 25 records in 3 PutEvents calls, records them in one receipt and reports no failures', async () => {
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
    expect(markedKeys()).toEqual(items.map((i) => keyOf(i)));
    expect(receiptItems()).toHaveLength(1);
    expect(updates()).toEqual([]);
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
    expect(markedKeys()).toEqual([{ PK: 'ORDER#01JORDER000000000000000001', SK: 'OUTBOX#0000000001' }]);
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
    expect(markedKeys()).toEqual(items.filter((_, i) => i !== 4 && i !== 7).map((i) => keyOf(i)));
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
    expect(markedKeys()).toEqual([...items.slice(0, 10), ...items.slice(20)].map((i) => keyOf(i)));
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
      key: keyOf(big),
      stream: { eventID: 'event-1', sequenceNumber: sequenceNumber(1) },
    });
    expect(message?.item).toEqual(JSON.parse(JSON.stringify(big)));
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.attributes)).toEqual([
      {
        eventId: big.eventId,
        outboxKey: `PK=${big.PK}, SK=${big.SK}`,
        errorCode: 'EntryTooLarge',
        reason: message?.reason,
        sequenceNumber: sequenceNumber(1),
      },
    ]);
    // Parked, not retried: a parked receipt lists it and it is never published.
    expect(parkedKeys()).toEqual([keyOf(big)]);
    expect(markedKeys()).toEqual([keyOf(outboxItem(0)), keyOf(outboxItem(2))]);
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
    expect(message?.reason).toMatch(/^Not a valid outbox item: eventId: /);
    expect(message?.key).toEqual(keyOf(broken));
    expect(message?.image).toEqual(event.Records[1]?.dynamodb?.NewImage);
    expect(message?.stream).toMatchObject({ eventID: 'event-1', sequenceNumber: sequenceNumber(1) });
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

  it('parks poison after the retry point at once, and neither parks nor publishes it again on the retry', async () => {
    // Prepare
    const { handler } = setup({ maxEntryBytes: 2048 });
    const records = [
      streamRecord(0, outboxItem(0)),
      streamRecord(1, outboxItem(1)),
      streamRecord(2, outboxItem(2, { payload: { note: 'x'.repeat(3000) } })),
      streamRecord(3, outboxItem(3)),
    ];
    eventBridgeFails([outboxItem(1).eventId]);
    // Act: the first attempt, then Lambda's retry from record 1 once EventBridge takes it.
    const first = await handler(streamEvent(records));
    eventBridgeMock.reset();
    eventBridgeFails();
    const retried = await handler(streamEvent(records.slice(1)));
    // Assess
    expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: sequenceNumber(1) }] });
    expect(retried).toEqual({ batchItemFailures: [] });
    expect(poisonMessages().map((m) => m.eventId)).toEqual([outboxItem(2).eventId]);
    expect(parkedKeys()).toEqual([keyOf(outboxItem(2))]);
    // Record 3 was accepted on the first attempt: the retry sends only record 1.
    expect(publishedEventIds()).toEqual([outboxItem(1).eventId]);
  });

  it("in a container's first batch, does not publish again what a receipt names", async () => {
    // Prepare: a crashed container published items 0–5 and wrote their receipt before Lambda could checkpoint.
    const { items, event } = outboxBatch(10);
    docMock.on(QueryCommand).resolves({
      Items: [
        {
          PK: 'RECEIPT#2026-11-22T10:00',
          SK: 'RECEIPT#x',
          published: new Set(items.slice(0, 6).map(receiptName)),
        },
      ],
    });
    eventBridgeFails();
    const { handler, logger } = setup();
    // Act
    const response = await handler(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(publishedEventIds()).toEqual(items.slice(6).map((i) => i.eventId));
    expect(docMock.commandCalls(QueryCommand).map((c) => c.args[0].input.ExpressionAttributeValues)).toEqual([
      { ':pk': 'RECEIPT#2026-11-22T10:00' },
    ]);
    expect(logger.lines.find((l) => l.message === 'Outbox batch relayed')?.attributes).toMatchObject({
      skipped: 6,
      lookedUp: 10,
      published: 4,
    });
  });

  it('looks nothing up for a later batch it was never handed, however old its records', async () => {
    // Prepare: a backlog a day old, drained batch after batch by one container.
    const { items } = outboxBatch(10);
    const dayOld = (n: number) => {
      const record = streamRecord(n, items[n]);
      return { ...record, dynamodb: { ...record.dynamodb, ApproximateCreationDateTime: 1795773600 } };
    };
    eventBridgeFails();
    const { handler, logger } = setup();
    await handler(streamEvent([0, 1, 2, 3, 4].map(dayOld)));
    docMock.resetHistory();
    // Act
    const response = await handler(streamEvent([5, 6, 7, 8, 9].map(dayOld)));
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(docMock.commandCalls(QueryCommand)).toEqual([]);
    expect(publishedEventIds()).toEqual(items.map((i) => i.eventId));
    expect(
      logger.lines.filter((l) => l.message === 'Outbox batch relayed').map((l) => l.attributes?.lookedUp),
    ).toEqual([5, 0]);
  });

  it('looks up the records of a retried batch it has not settled itself', async () => {
    // Prepare: record 2 fails; a receipt written elsewhere (say, the reconciler) names it meanwhile.
    const { items, event } = outboxBatch(5);
    eventBridgeFails([items[2]?.eventId]);
    const { handler, logger } = setup();
    // A warm container: its first batch (another stream's) is behind it.
    await handler(streamEvent([{ ...streamRecord(9, outboxItem(9)), eventSourceARN: 'another-stream' }]));
    await handler(event);
    docMock.resetHistory();
    docMock
      .on(QueryCommand)
      .resolves({ Items: [{ SK: 'RECEIPT#y', published: new Set([receiptName(items[2] ?? {})]) }] });
    eventBridgeMock.reset();
    eventBridgeFails();
    // Act: Lambda hands back records 2–4.
    const response = await handler(streamEvent(event.Records.slice(2)));
    // Assess: 3 and 4 were published by this container (memory), 2 is looked up and found.
    expect(response).toEqual({ batchItemFailures: [] });
    expect(docMock.commandCalls(QueryCommand)).toHaveLength(1);
    expect(publishedEventIds()).toEqual([]);
    expect(logger.lines.filter((l) => l.message === 'Outbox batch relayed').at(-1)?.attributes).toMatchObject(
      {
        lookedUp: 1,
        skipped: 3,
      },
    );
  });

  it("tells redelivered records apart per stream: another stream's lower numbers are not a retry", async () => {
    // Prepare
    const { items } = outboxBatch(4);
    const onStream = (n: number, arn: string) => ({ ...streamRecord(n, items[n]), eventSourceARN: arn });
    eventBridgeFails();
    const { handler } = setup();
    await handler(streamEvent([onStream(2, 'stream-a'), onStream(3, 'stream-a')]));
    docMock.resetHistory();
    // Act: lower sequence numbers, on another stream.
    await handler(streamEvent([onStream(0, 'stream-b'), onStream(1, 'stream-b')]));
    // Assess
    expect(docMock.commandCalls(QueryCommand)).toEqual([]);
    expect(publishedEventIds()).toEqual([2, 3, 0, 1].map((n) => items[n]?.eventId));
  });

  it('publishes a retried batch without the records EventBridge accepted the first time', async () => {
    // Prepare: 20% of entries fail on the first attempt.
    const { items, event } = outboxBatch(20);
    eventBridgeFails([items[3]?.eventId, items[8]?.eventId, items[12]?.eventId, items[17]?.eventId]);
    const { handler } = setup();
    const first = await handler(event);
    eventBridgeMock.reset();
    eventBridgeFails();
    // Act: Lambda hands back everything from the first failed record.
    const retried = await handler(streamEvent(event.Records.slice(3)));
    // Assess
    expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: sequenceNumber(3) }] });
    expect(retried).toEqual({ batchItemFailures: [] });
    expect(publishedEventIds()).toEqual([3, 8, 12, 17].map((n) => items[n]?.eventId));
  });

  it('keeps parked items past their TTL and names them in a parked receipt, so the reconciler never parks them again', async () => {
    // Prepare
    eventBridgeFails();
    const { handler, logger } = setup({ maxEntryBytes: 2048 });
    const { big, broken, event } = batchWithPoison();
    // Act
    const response = await handler(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(poisonMessages().map((m) => m.key)).toEqual([keyOf(big), keyOf(broken)]);
    expect(parkedKeys()).toEqual([keyOf(big), keyOf(broken)]);
    expect(updates()).toEqual(
      [big, broken].map((item) => ({
        TableName: 'orders',
        Key: keyOf(item),
        UpdateExpression: 'REMOVE #expiresAt',
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: { '#pk': 'PK', '#expiresAt': 'expiresAt' },
      })),
    );
    expect(markedKeys()).toEqual([0, 3].map((n) => keyOf(outboxItem(n))));
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
    // Record 0 was published before the retry point and is marked; the rest comes again.
    expect(markedKeys()).toEqual([0, 3].map((n) => keyOf(outboxItem(n))));
  });

  it('does not fail the batch when keeping a parked item past its TTL fails', async () => {
    // Prepare
    eventBridgeFails();
    docMock
      .on(UpdateCommand, { UpdateExpression: 'REMOVE #expiresAt' })
      .rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    const { handler, logger } = setup({ maxEntryBytes: 2048 });
    const { big, event } = batchWithPoison();
    // Act
    const response = await handler(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(
      logger.lines
        .filter((l) => l.message.startsWith('Could not record a parked event'))
        .map((l) => l.attributes),
    ).toContainEqual({ outboxKey: describeKey(keyOf(big)), errorCode: 'ThrottlingException' });
    expect(logger.lines.find((l) => l.message === 'Outbox batch relayed')?.attributes).toMatchObject({
      parked: 2,
      markedParked: 0,
      markParkedFailures: 2,
    });
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

  it('does not retry a published event because writing its receipt failed', async () => {
    // Prepare
    eventBridgeFails();
    docMock.on(PutCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    const { handler, logger } = setup();
    // Act
    const { items, event } = outboxBatch(2);
    const response = await handler(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(
      logger.lines.filter((l) => l.message.startsWith('Could not mark')).map((l) => l.attributes),
    ).toEqual(items.map((i) => ({ outboxKey: describeKey(keyOf(i)), errorCode: 'ThrottlingException' })));
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

  it('logs one line per batch with counts and lag, and one when publishing starts failing, with count, codes and age', async () => {
    // Prepare
    const { items, event } = outboxBatch(3);
    eventBridgeFails([items[2]?.eventId]);
    const { handler, logger } = setup();
    // Act
    await handler(event);
    // Assess
    expect(logger.lines.map((l) => [l.level, l.message])).toEqual([
      ['warn', 'Publishing failed; the batch is retried until EventBridge accepts it'],
      ['info', 'Outbox batch relayed'],
    ]);
    expect(logger.lines[0]?.attributes).toEqual({
      failedEvents: 1,
      errorCodes: ['ThrottlingException'],
      oldestEventAgeSeconds: (NOW.getTime() - Date.parse(items[2]?.occurredAt ?? '')) / 1000,
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

  it('says an outage once, again when ten times as many events fail, and when it clears: not per event per retry', async () => {
    // Prepare: a fake clock; EventBridge down (every call fails) for 90 s.
    let clock = NOW.getTime();
    const { handler, logger } = setup({ tracking: false, now: () => new Date(clock) });
    eventBridgeMock
      .on(PutEventsCommand)
      .rejects(Object.assign(new Error('connect ECONNREFUSED'), { name: 'Error' }));
    const small = outboxBatch(5).event;
    const large = outboxBatch(50).event;

    // Act: the stuck batch retried 10 times a second, as the poller does; half way the backlog grows tenfold.
    for (let tick = 0; tick < 900; tick++) {
      await handler(tick < 450 ? small : large);
      clock += 100;
    }
    eventBridgeFails();
    await handler(large);

    // Assess: three lines for 900 failed batches and 24,750 failed entries.
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    expect(warnings.map((l) => l.message)).toEqual([
      'Publishing failed; the batch is retried until EventBridge accepts it',
      'Publishing still failing',
      'Publishing recovered after 90 s',
    ]);
    expect(warnings[0]?.attributes).toMatchObject({
      failedEvents: 5,
      errorCodes: ['Error'],
      oldestEventAgeSeconds: 3,
    });
    expect(warnings[1]?.attributes).toMatchObject({ failedEvents: 50, failingForSeconds: 45, attempts: 451 });
    expect(warnings[2]?.attributes).toEqual({ failingForSeconds: 90, attempts: 900 });
  });

  it('answers an empty batch with no failures and no calls', async () => {
    const { handler } = setup();
    expect(await handler({ Records: [] })).toEqual({ batchItemFailures: [] });
    expect(eventBridgeMock.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it('relays a table with other key names: its own keys, prefix, TTL and time index attributes', async () => {
    // Prepare
    eventBridgeFails();
    const { handler } = setup({ layout: OTHER_LAYOUT });
    const items = [0, 1].map((n) => outboxItem(n, {}, OTHER_LAYOUT));
    const aggregate = { pk: 'ORDER#01JORDER000000000000000009', sk: 'PROFILE', name: 'not an event' };
    const ordersLayoutItem = outboxItem(2);
    const event = streamEvent([
      streamRecord(0, items[0], { layout: OTHER_LAYOUT }),
      streamRecord(1, aggregate, { layout: OTHER_LAYOUT }),
      // Under PK/SK and OUTBOX#: an outbox item of another layout, never this table's event.
      streamRecord(2, ordersLayoutItem),
      streamRecord(3, items[1], { layout: OTHER_LAYOUT }),
    ]);
    // Act
    const response = await handler(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(publishedEventIds()).toEqual(items.map((i) => i.eventId));
    expect(markedKeys(OTHER_LAYOUT)).toEqual([
      { pk: 'ORDER#01JORDER000000000000000000', sk: 'EVT#0000000001' },
      { pk: 'ORDER#01JORDER000000000000000001', sk: 'EVT#0000000001' },
    ]);
    expect(receiptItems()).toEqual([
      expect.objectContaining({ pk: 'RECEIPT#2026-11-22T10:00', ttl: NOW.getTime() / 1000 + 7 * 86_400 }),
    ]);
    // The published detail is the envelope alone: none of the layout's attributes.
    const detail = JSON.parse(
      (eventBridgeMock.commandCalls(PutEventsCommand)[0]?.args[0].input as PutEventsCommandInput | undefined)
        ?.Entries?.[0]?.Detail ?? '{}',
    );
    expect(detail).toEqual(recordOf(items[0] ?? {}, OTHER_LAYOUT).envelope);
    expect(detail).not.toHaveProperty('pk');
    expect(detail).not.toHaveProperty('gsi1pk');
  });

  it('parks an invalid item of a table with other key names under its own key', async () => {
    // Prepare
    eventBridgeFails();
    const { handler } = setup({ layout: OTHER_LAYOUT });
    const { occurredAt: _dropped, ...broken } = outboxItem(1, {}, OTHER_LAYOUT);
    // Act
    const response = await handler(streamEvent([streamRecord(0, broken, { layout: OTHER_LAYOUT })]));
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(poisonMessages().map((m) => [m.errorCode, m.key])).toEqual([
      ['MalformedItem', { pk: 'ORDER#01JORDER000000000000000001', sk: 'EVT#0000000001' }],
    ]);
    expect(parkedKeys(OTHER_LAYOUT)).toEqual([
      { pk: 'ORDER#01JORDER000000000000000001', sk: 'EVT#0000000001' },
    ]);
    expect(updates()[0]?.ExpressionAttributeNames).toEqual({ '#pk': 'pk', '#expiresAt': 'ttl' });
  });

  it('relays a dedicated outbox table, and records the batch in one receipt instead of a mark per event', async () => {
    // Prepare
    eventBridgeFails();
    docMock.on(PutCommand).resolves({});
    const { handler } = setup({ layout: TIME_ORDERED_TABLE_LAYOUT });
    const items = [0, 1, 2].map((n) => outboxItem(n, {}, TIME_ORDERED_TABLE_LAYOUT));
    // Act
    const response = await handler(
      streamEvent(items.map((item, n) => streamRecord(n, item, { layout: TIME_ORDERED_TABLE_LAYOUT }))),
    );
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(publishedEventIds()).toEqual(items.map((i) => i.eventId));
    expect(updates()).toEqual([]);
    const receipts = docMock.commandCalls(PutCommand).map((c) => c.args[0].input.Item);
    expect(receipts).toEqual([
      expect.objectContaining({
        pk: 'RECEIPT#2026-11-22T10:00',
        published: new Set(items.map((i) => i.sk)),
      }),
    ]);
  });

  it('parks an outbox INSERT that carries no new image, by its key', async () => {
    // Prepare
    eventBridgeFails();
    const { handler } = setup();
    const item = outboxItem(1);
    // Act
    const response = await handler(streamEvent([streamRecord(0, undefined, { keys: keyOf(item) })]));
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(publishedEventIds()).toEqual([]);
    expect(poisonMessages()).toEqual([
      expect.objectContaining({
        errorCode: 'MalformedItem',
        reason: 'INSERT without NewImage',
        key: keyOf(item),
      }),
    ]);
    expect(poisonMessages()[0]?.image).toBeUndefined();
  });
});
