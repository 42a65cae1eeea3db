import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  classifyResponse,
  InMemoryCheckpointStore,
  type StreamFailureRecord,
  StreamPoller,
  type StreamPollerOptions,
  toLambdaRecord,
} from '../../../src/local/stream-poller';
import { relayFilterPattern } from '../../../src/runtime/layout';
import { ordersOutboxLayout } from '../../support/sample-table';
import { FakeDynamoDbStream, STREAM_ARN } from './fake-dynamodb-stream';

const silent = { warn: () => undefined, error: () => undefined };
const pollers: StreamPoller[] = [];

/** A poller tuned for tests: fast polling and retries, quiet logs, stopped after each test. */
const startPoller = (
  stream: FakeDynamoDbStream,
  handler: (event: DynamoDBStreamEvent) => Promise<unknown>,
  options: Partial<StreamPollerOptions> = {},
): StreamPoller => {
  const poller = new StreamPoller({
    client: stream.client,
    streamArn: STREAM_ARN,
    handler,
    pollIntervalMs: 5,
    retryDelayMs: 2,
    maxRetryDelayMs: 10,
    shardDiscoveryIntervalMs: 10,
    logger: silent,
    ...options,
  });
  pollers.push(poller);
  poller.start();
  return poller;
};

const sequenceNumbers = (event: DynamoDBStreamEvent): string[] =>
  event.Records.map((r) => r.dynamodb?.SequenceNumber ?? '');

/** Records every invocation; `respond` decides each result. */
const recordingHandler = (
  respond: (event: DynamoDBStreamEvent, call: number) => unknown = () => undefined,
) => {
  const calls: string[][] = [];
  const handler = async (event: DynamoDBStreamEvent): Promise<unknown> => {
    calls.push(sequenceNumbers(event));
    return respond(event, calls.length);
  };
  return { calls, handler };
};

const failures = (...ids: string[]): DynamoDBBatchResponse => ({
  batchItemFailures: ids.map((itemIdentifier) => ({ itemIdentifier })),
});

afterEach(async () => {
  await Promise.all(pollers.splice(0).map((p) => p.stop()));
});

describe('stream poller: filter criteria', () => {
  it('invokes only for records matching the deployed relay filter and checkpoints past the rest', async () => {
    // Prepare
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const order = stream.put('shard-1', 'ORDER');
    const [outbox] = stream.putOutbox('shard-1', 1);
    stream.put('shard-1', 'OUTBOX#0000000001', { eventName: 'MODIFY' });
    const last = stream.put('shard-1', 'OUTBOX#0000000001', { eventName: 'REMOVE' });
    const checkpoints = new InMemoryCheckpointStore();
    const { calls, handler } = recordingHandler();
    // Act
    const poller = startPoller(stream, handler, {
      filterPatterns: [relayFilterPattern(ordersOutboxLayout)],
      checkpoints,
    });
    // Assess
    await vi.waitFor(async () =>
      expect((await checkpoints.load(STREAM_ARN))['shard-1']?.sequenceNumber).toBe(last),
    );
    expect(calls).toEqual([[outbox]]);
    expect(calls.flat()).not.toContain(order);
    expect(poller.stats.recordsFilteredOut).toBe(3);
  });
});

describe('stream poller: starting position', () => {
  it('TRIM_HORIZON delivers the records already in the stream', async () => {
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const existing = stream.putOutbox('shard-1', 3);
    const { calls, handler } = recordingHandler();
    startPoller(stream, handler, { startingPosition: 'TRIM_HORIZON' });
    await vi.waitFor(() => expect(calls.flat()).toEqual(existing));
  });

  it('reads on quietly when a new shard answers TrimmedDataAccessException before anything was read', async () => {
    // Prepare: DynamoDB Local answers so on a new stream; nothing can have been skipped yet.
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const existing = stream.putOutbox('shard-1', 2);
    stream.trimmedReads = 1;
    const logger = { warn: vi.fn(), error: vi.fn() };
    const { calls, handler } = recordingHandler();

    // Act
    startPoller(stream, handler, { startingPosition: 'TRIM_HORIZON', logger });

    // Assess
    await vi.waitFor(() => expect(calls.flat()).toEqual(existing));
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('says records were trimmed when they were, past what it had read', async () => {
    // Prepare
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const first = stream.putOutbox('shard-1', 1);
    const logger = { warn: vi.fn(), error: vi.fn() };
    const { calls, handler } = recordingHandler();
    startPoller(stream, handler, { startingPosition: 'TRIM_HORIZON', logger });
    await vi.waitFor(() => expect(calls.flat()).toEqual(first));

    // Act
    stream.trimmedReads = 1;

    // Assess
    await vi.waitFor(() =>
      expect(logger.error).toHaveBeenCalledWith(
        'Stream records were trimmed before they were processed',
        expect.objectContaining({ shardId: 'shard-1', lastRead: first[0] }),
      ),
    );
  });

  it('says a shard it cannot read once, again at 10 and 100 failed reads, and when it recovers', async () => {
    // Prepare: a poller reading, retrying a failed read every 2 ms (100 ms offline).
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const first = stream.putOutbox('shard-1', 1);
    const logger = { warn: vi.fn(), error: vi.fn() };
    const { calls, handler } = recordingHandler();
    startPoller(stream, handler, { logger });
    await vi.waitFor(() => expect(calls.flat()).toEqual(first));

    // Act: DynamoDB down for at least 200 reads, then back.
    stream.unreachable = true;
    const before = stream.getRecordsCalls;
    await vi.waitFor(() => expect(stream.getRecordsCalls - before).toBeGreaterThanOrEqual(200), {
      timeout: 10_000,
    });
    stream.unreachable = false;
    const failedReads = stream.getRecordsCalls - before;
    const second = stream.putOutbox('shard-1', 1);
    await vi.waitFor(() => expect(calls.flat()).toEqual([...first, ...second]));

    // Assess: four lines for some 200 failed reads, not one each.
    const lines = logger.warn.mock.calls as Array<[string, Record<string, unknown>]>;
    expect(lines.map(([message]) => message)).toEqual([
      'Stream poller error; retrying the shard',
      'Stream poller still failing on the shard',
      'Stream poller still failing on the shard',
      expect.stringMatching(/^Shard shard-1 recovered after \d+ s$/),
    ]);
    expect(lines[0]?.[1]).toEqual({
      shardId: 'shard-1',
      error: 'Error: connect ECONNREFUSED 127.0.0.1:8000',
    });
    expect(lines.slice(1, 3).map(([, extra]) => extra.errors)).toEqual([10, 100]);
    expect(lines[3]?.[1]).toMatchObject({ shardId: 'shard-1', errors: failedReads });
  });

  it('LATEST skips what was written before the poller started', async () => {
    // Prepare
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const old = stream.putOutbox('shard-1', 3);
    const { calls, handler } = recordingHandler();
    startPoller(stream, handler, { startingPosition: 'LATEST' });
    await vi.waitFor(() => expect(stream.getRecordsCalls).toBeGreaterThan(0));
    // Act
    const fresh = stream.put('shard-1', 'OUTBOX#0000000009');
    // Assess
    await vi.waitFor(() => expect(calls.flat()).toEqual([fresh]));
    expect(calls.flat()).not.toContain(old[0]);
  });
});

describe('stream poller: batching', () => {
  it('delivers a shard in order, in batches of at most batchSize', async () => {
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const all = stream.putOutbox('shard-1', 25);
    const { calls, handler } = recordingHandler();
    startPoller(stream, handler, { batchSize: 10 });
    await vi.waitFor(() => expect(calls.flat()).toHaveLength(25));
    expect(calls.map((c) => c.length)).toEqual([10, 10, 5]);
    expect(calls.flat()).toEqual(all);
  });

  it('waits up to the batching window to gather records written a moment apart', async () => {
    // Prepare
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const first = stream.putOutbox('shard-1', 2);
    const { calls, handler } = recordingHandler();
    startPoller(stream, handler, { batchSize: 10, maximumBatchingWindowMs: 400 });
    await vi.waitFor(() => expect(stream.getRecordsCalls).toBeGreaterThan(1));
    // Act
    const later = stream.put('shard-1', 'OUTBOX#0000000003');
    // Assess
    await vi.waitFor(() => expect(calls).toHaveLength(1), { timeout: 2000 });
    expect(calls[0]).toEqual([...first, later]);
  });

  it('does not wait for the window once the batch is full', async () => {
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    stream.putOutbox('shard-1', 4);
    const { calls, handler } = recordingHandler();
    const started = Date.now();
    startPoller(stream, handler, { batchSize: 2, maximumBatchingWindowMs: 10_000 });
    await vi.waitFor(() => expect(calls.flat()).toHaveLength(4));
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('processes shards in parallel but a child shard only after its parent is finished', async () => {
    // Prepare: a split, as DynamoDB does when a shard rolls over.
    const stream = new FakeDynamoDbStream().addShard('parent').addShard('child', 'parent');
    const parentRecords = stream.putOutbox('parent', 3);
    stream.closeShard('parent');
    const childRecords = stream.putOutbox('child', 2);
    const checkpoints = new InMemoryCheckpointStore();
    const { calls, handler } = recordingHandler();
    // Act
    startPoller(stream, handler, { checkpoints });
    // Assess
    await vi.waitFor(() => expect(calls.flat()).toHaveLength(5));
    expect(calls.flat()).toEqual([...parentRecords, ...childRecords]);
    expect((await checkpoints.load(STREAM_ARN)).parent).toMatchObject({ completed: true });
  });
});

describe('stream poller: errors', () => {
  it('retries the whole batch from its first record when the handler throws', async () => {
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const all = stream.putOutbox('shard-1', 3);
    const { calls, handler } = recordingHandler((_event, call) => {
      if (call === 1) throw new Error('boom');
    });
    const poller = startPoller(stream, handler);
    await vi.waitFor(() => expect(calls).toHaveLength(2));
    expect(calls).toEqual([all, all]);
    expect(poller.stats.failedInvocations).toBe(1);
  });

  it('bisects a failing batch to isolate a poison record; splitting does not use the retry quota', async () => {
    // Prepare
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const [r0, r1, poison, r3] = stream.putOutbox('shard-1', 4);
    const discarded: StreamFailureRecord[] = [];
    const { calls, handler } = recordingHandler((event) => {
      if (sequenceNumbers(event).includes(poison ?? '')) throw new Error('poison');
    });
    // Act
    startPoller(stream, handler, {
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: 1,
      onFailure: (failure) => {
        discarded.push(failure);
      },
    });
    // Assess
    await vi.waitFor(() => expect(calls.flat()).toContain(r3));
    expect(calls).toEqual([[r0, r1, poison, r3], [r0, r1], [poison, r3], [poison], [poison], [r3]]);
    expect(discarded).toHaveLength(1);
    expect(discarded[0]?.requestContext).toMatchObject({
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 2,
    });
    expect(discarded[0]?.DDBStreamBatchInfo).toMatchObject({
      startSequenceNumber: poison,
      endSequenceNumber: poison,
      batchSize: 1,
    });
  });

  it('retries only from the reported failure (partial batch response)', async () => {
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const [r0, r1, r2, r3, r4] = stream.putOutbox('shard-1', 5);
    const checkpoints = new InMemoryCheckpointStore();
    const { calls, handler } = recordingHandler((_e, call) => (call === 1 ? failures(r3 ?? '') : undefined));
    startPoller(stream, handler, { reportBatchItemFailures: true, checkpoints });
    await vi.waitFor(() => expect(calls).toHaveLength(2));
    expect(calls).toEqual([
      [r0, r1, r2, r3, r4],
      [r3, r4],
    ]);
    await vi.waitFor(async () =>
      expect((await checkpoints.load(STREAM_ARN))['shard-1']?.sequenceNumber).toBe(r4),
    );
  });

  it('uses the lowest failed sequence number as the checkpoint when several are reported', async () => {
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const [r0, r1, r2, r3] = stream.putOutbox('shard-1', 4);
    const { calls, handler } = recordingHandler((_e, call) =>
      call === 1 ? failures(r3 ?? '', r1 ?? '') : undefined,
    );
    startPoller(stream, handler, { reportBatchItemFailures: true });
    await vi.waitFor(() => expect(calls).toHaveLength(2));
    expect(calls[0]).toEqual([r0, r1, r2, r3]);
    expect(calls[1]).toEqual([r1, r2, r3]);
  });

  it.each([
    ['an empty itemIdentifier', (): unknown => failures('')],
    ['an itemIdentifier that is not in the batch', (): unknown => failures('999999')],
    ['a null itemIdentifier', (): unknown => ({ batchItemFailures: [{ itemIdentifier: null }] })],
    ['a misspelt key', (): unknown => ({ batchItemFailures: [{ itemId: 'x' }] })],
  ])('treats %s as a failure of the whole batch', async (_label, response) => {
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const all = stream.putOutbox('shard-1', 3);
    const { calls, handler } = recordingHandler((_e, call) => (call === 1 ? response() : undefined));
    startPoller(stream, handler, { reportBatchItemFailures: true });
    await vi.waitFor(() => expect(calls).toHaveLength(2));
    expect(calls).toEqual([all, all]);
  });

  it('ignores batchItemFailures unless ReportBatchItemFailures is on, as Lambda does', async () => {
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const [r0, r1] = stream.putOutbox('shard-1', 2);
    const checkpoints = new InMemoryCheckpointStore();
    const { calls, handler } = recordingHandler(() => failures(r0 ?? ''));
    startPoller(stream, handler, { reportBatchItemFailures: false, checkpoints });
    await vi.waitFor(async () =>
      expect((await checkpoints.load(STREAM_ARN))['shard-1']?.sequenceNumber).toBe(r1),
    );
    expect(calls).toEqual([[r0, r1]]);
  });

  it('discards after the retry attempts and sends the invocation record to the on-failure destination', async () => {
    // Prepare
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const [r0, r1] = stream.putOutbox('shard-1', 2);
    const destination: Array<{ failure: StreamFailureRecord; records: readonly DynamoDBRecord[] }> = [];
    const { calls, handler } = recordingHandler((event) => {
      if (sequenceNumbers(event).includes(r0 ?? '')) throw new Error('always');
    });
    // Act
    startPoller(stream, handler, {
      batchSize: 2,
      maximumRetryAttempts: 2,
      onFailure: (failure, records) => {
        destination.push({ failure, records });
      },
    });
    stream.put('shard-1', 'OUTBOX#0000000003');
    // Assess
    await vi.waitFor(() => expect(destination).toHaveLength(1));
    await vi.waitFor(() => expect(calls).toHaveLength(4));
    expect(calls.slice(0, 3)).toEqual([
      [r0, r1],
      [r0, r1],
      [r0, r1],
    ]);
    const { failure, records } = destination[0] ?? { failure: undefined, records: [] };
    expect(failure).toMatchObject({
      requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 },
      responseContext: { statusCode: 200, functionError: 'Unhandled' },
      version: '1.0',
      DDBStreamBatchInfo: {
        shardId: 'shard-1',
        startSequenceNumber: r0,
        endSequenceNumber: r1,
        batchSize: 2,
        streamArn: STREAM_ARN,
        approximateArrivalOfFirstRecord: '2026-01-01T00:00:05.000Z',
      },
    });
    expect(records.map((r) => r.dynamodb?.SequenceNumber)).toEqual([r0, r1]);
  });

  it('discards records older than the maximum record age', async () => {
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const [r0] = stream.putOutbox('shard-1', 1);
    const destination: StreamFailureRecord[] = [];
    const { handler } = recordingHandler(() => {
      throw new Error('down');
    });
    startPoller(stream, handler, {
      maximumRecordAgeSeconds: 0.2,
      onFailure: (failure) => {
        destination.push(failure);
      },
    });
    await vi.waitFor(() => expect(destination).toHaveLength(1));
    expect(destination[0]?.requestContext.condition).toBe('RecordAgeExceeded');
    expect(destination[0]?.DDBStreamBatchInfo.startSequenceNumber).toBe(r0);
  });

  it('keeps the records when the on-failure destination fails, until it accepts them', async () => {
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const [r0] = stream.putOutbox('shard-1', 1);
    const checkpoints = new InMemoryCheckpointStore();
    let destinationCalls = 0;
    const { handler } = recordingHandler(() => {
      throw new Error('down');
    });
    startPoller(stream, handler, {
      maximumRetryAttempts: 0,
      checkpoints,
      onFailure: () => {
        destinationCalls++;
        if (destinationCalls < 3) throw new Error('queue unavailable');
      },
    });
    await vi.waitFor(async () =>
      expect((await checkpoints.load(STREAM_ARN))['shard-1']?.sequenceNumber).toBe(r0),
    );
    expect(destinationCalls).toBe(3);
  });
});

describe('stream poller: checkpoints and stop', () => {
  it('resumes after the last checkpoint when restarted with the same store', async () => {
    // Prepare
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const checkpoints = new InMemoryCheckpointStore();
    const first = stream.putOutbox('shard-1', 3);
    const before = recordingHandler();
    const poller = startPoller(stream, before.handler, { checkpoints });
    await vi.waitFor(() => expect(before.calls.flat()).toEqual(first));
    await poller.stop();
    // Act
    const second = [stream.put('shard-1', 'OUTBOX#0000000004'), stream.put('shard-1', 'OUTBOX#0000000005')];
    const after = recordingHandler();
    startPoller(stream, after.handler, { checkpoints });
    // Assess
    await vi.waitFor(() => expect(after.calls.flat()).toEqual(second));
  });

  it('crash() leaves the batch in flight unchecked, so the next poller delivers it again', async () => {
    // Prepare
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const all = stream.putOutbox('shard-1', 2);
    const checkpoints = new InMemoryCheckpointStore();
    let release: () => void = () => undefined;
    const first = recordingHandler(
      () =>
        new Promise<void>((resolve) => {
          release = resolve;
        }),
    );
    const poller = startPoller(stream, first.handler, { checkpoints });
    await vi.waitFor(() => expect(first.calls).toHaveLength(1));
    // Act
    const crashed = poller.crash();
    release();
    await crashed;
    const second = recordingHandler();
    startPoller(stream, second.handler, { checkpoints });
    // Assess
    await vi.waitFor(() => expect(second.calls).toEqual([all]));
    expect(await checkpoints.load(STREAM_ARN)).toEqual({ 'shard-1': { sequenceNumber: all[1] } });
  });

  it('stop() waits for the invocation in flight to finish and be checkpointed', async () => {
    const stream = new FakeDynamoDbStream().addShard('shard-1');
    const [r0] = stream.putOutbox('shard-1', 1);
    const checkpoints = new InMemoryCheckpointStore();
    let release: () => void = () => undefined;
    let entered = false;
    const handler = async (): Promise<void> => {
      entered = true;
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    };
    const poller = startPoller(stream, handler, { checkpoints });
    await vi.waitFor(() => expect(entered).toBe(true));
    const stopped = poller.stop();
    release();
    await stopped;
    expect((await checkpoints.load(STREAM_ARN))['shard-1']?.sequenceNumber).toBe(r0);
  });
});

describe('stream poller: event shape', () => {
  it('hands the function the Lambda DynamoDB record shape', () => {
    const record = toLambdaRecord(
      {
        eventID: 'e1',
        eventName: 'INSERT',
        eventVersion: '1.1',
        eventSource: 'aws:dynamodb',
        awsRegion: 'us-east-1',
        dynamodb: {
          ApproximateCreationDateTime: new Date('2026-01-01T00:00:05.000Z'),
          Keys: { PK: { S: 'ORDER#1' } },
          NewImage: { PK: { S: 'ORDER#1' }, raw: { B: new Uint8Array([1, 2, 3]) }, n: { L: [{ N: '1' }] } },
          SequenceNumber: '1',
          SizeBytes: 10,
          StreamViewType: 'NEW_IMAGE',
        },
      },
      STREAM_ARN,
    );
    expect(record).toEqual({
      eventID: 'e1',
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: STREAM_ARN,
      dynamodb: {
        ApproximateCreationDateTime: 1767225605,
        Keys: { PK: { S: 'ORDER#1' } },
        NewImage: { PK: { S: 'ORDER#1' }, raw: { B: 'AQID' }, n: { L: [{ N: '1' }] } },
        SequenceNumber: '1',
        SizeBytes: 10,
        StreamViewType: 'NEW_IMAGE',
      },
    });
  });

  it('presents a TTL deletion as a REMOVE by the DynamoDB service, as on AWS', () => {
    const record = toLambdaRecord(
      {
        eventName: 'UNKNOWN' as 'REMOVE',
        dynamodb: { Keys: { PK: { S: 'ORDER#1' } }, SequenceNumber: '2' },
      },
      STREAM_ARN,
    );
    expect(record.eventName).toBe('REMOVE');
    expect(record.userIdentity).toEqual({ type: 'Service', principalId: 'dynamodb.amazonaws.com' });
  });
});

describe('classifyResponse', () => {
  const batch = [{ sequenceNumber: '1' }, { sequenceNumber: '2' }];
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['an empty object', {}],
    ['a null list', { batchItemFailures: null }],
    ['an empty list', { batchItemFailures: [] }],
  ])('treats %s as complete success', (_label, response) => {
    expect(classifyResponse(response, batch, true)).toEqual({ kind: 'success' });
  });

  it('reports the index of the lowest failed record', () => {
    expect(classifyResponse(failures('2', '1'), batch, true)).toEqual({ kind: 'partial', failedIndex: 0 });
  });
});
