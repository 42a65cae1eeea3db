import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandInput,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { OutboxPublisher, type OutboxPublisherDeps } from '../../../src/engine/publisher';
import { putEventsEntrySize } from '../../../src/runtime/entry-size';
import { DEFAULT_PUT_EVENTS_LIMITS } from '../../../src/runtime/limits';
import type { OutboxRecord } from '../../../src/runtime/outbox-item';
import { fakeMetrics, outboxRecord } from '../../support/unit';

const eventBridgeMock = mockClient(EventBridgeClient);
const NOW = new Date('2026-11-22T10:00:02.500Z');

const silentLogger = { warn: () => undefined };

const publisher = (overrides: Partial<OutboxPublisherDeps> = {}) =>
  new OutboxPublisher({
    eventBridge: new EventBridgeClient({}),
    eventBusName: 'orders-bus',
    source: 'orders',
    retry: { attempts: 0 },
    metrics: fakeMetrics(),
    logger: silentLogger,
    now: () => NOW,
    ...overrides,
  });

const items = (count: number, from = 0): OutboxRecord[] =>
  Array.from({ length: count }, (_, i) => outboxRecord(from + i));

/** Input positions 0 … count − 1, except `except`. */
const positions = (count: number, except: number[] = []): number[] =>
  Array.from({ length: count }, (_, i) => i).filter((i) => !except.includes(i));

const sentCalls = (): PutEventsRequestEntry[][] =>
  eventBridgeMock
    .commandCalls(PutEventsCommand)
    .map((call) => (call.args[0].input as PutEventsCommandInput).Entries ?? []);

const detailOf = (entry: PutEventsRequestEntry): { eventId: string } => JSON.parse(entry.Detail ?? '{}');

/** Accept every entry, except those whose eventId maps to an error code. */
const respondWith = (failures: Record<string, string> = {}) =>
  eventBridgeMock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => {
    const entries: PutEventsResultEntry[] = (input.Entries ?? []).map((entry, i) => {
      const code = failures[detailOf(entry).eventId];
      return code ? { ErrorCode: code, ErrorMessage: `${code} for entry` } : { EventId: `eb-${i}` };
    });
    return { FailedEntryCount: entries.filter((e) => e.ErrorCode).length, Entries: entries };
  });

/** A record whose entry is exactly `bytes` long as EventBridge counts it. */
const itemOfEntrySize = (n: number, bytes: number): OutboxRecord => {
  const base = outboxRecord(n, { payload: { pad: '' } });
  const baseSize = putEventsEntrySize({
    Source: 'orders',
    DetailType: base.envelope.eventType,
    Detail: JSON.stringify(base.envelope),
  });
  const record = outboxRecord(n, { payload: { pad: 'x'.repeat(bytes - baseSize) } });
  expect(
    putEventsEntrySize({
      Source: 'orders',
      DetailType: record.envelope.eventType,
      Detail: JSON.stringify(record.envelope),
    }),
  ).toBe(bytes);
  return record;
};

describe('OutboxPublisher', () => {
  beforeEach(() => {
    eventBridgeMock.reset();
  });

  it('packs 25 events into 3 calls of 10, 10 and 5, in order', async () => {
    // Prepare
    respondWith();
    const batch = items(25);
    // Act
    const result = await publisher().publish(batch);
    // Assess
    const calls = sentCalls();
    expect(calls.map((c) => c.length)).toEqual([10, 10, 5]);
    expect(calls.flat().map((e) => detailOf(e).eventId)).toEqual(batch.map((r) => r.envelope.eventId));
    expect(result.published).toEqual(positions(25));
    expect(result.retryable).toEqual([]);
    expect(result.poison).toEqual([]);
  });

  it('builds each entry from the record: Source, DetailType, envelope as Detail, bus, trace header', async () => {
    // Prepare
    respondWith();
    const traceHeader = 'Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1';
    const record = outboxRecord(1, { traceHeader, correlationId: 'req-1' });
    // Act
    await publisher().publish([record]);
    // Assess
    const [entry] = sentCalls().flat();
    expect(entry).toEqual({
      Source: 'orders',
      DetailType: 'OrderPlaced',
      Detail: JSON.stringify(record.envelope),
      EventBusName: 'orders-bus',
      TraceHeader: traceHeader,
    });
    // Keys, trace header and tracking attributes stay in the table, though the record holds them.
    expect(record.item).toHaveProperty('outboxMinute');
    expect(Object.keys(JSON.parse(entry?.Detail ?? '{}'))).toEqual([
      'eventId',
      'eventType',
      'aggregateType',
      'aggregateId',
      'sequence',
      'occurredAt',
      'schemaVersion',
      'correlationId',
      'payload',
    ]);
  });

  it('fills a call up to exactly the byte limit and splits one byte beyond it', async () => {
    // Prepare
    respondWith();
    const half = 512 * 1024;
    // Act
    await publisher().publish([itemOfEntrySize(1, half), itemOfEntrySize(2, half)]);
    const exact = sentCalls().map((c) => c.length);
    eventBridgeMock.resetHistory();
    await publisher().publish([itemOfEntrySize(3, half), itemOfEntrySize(4, half + 1)]);
    const over = sentCalls().map((c) => c.length);
    // Assess
    expect(exact).toEqual([2]);
    expect(over).toEqual([1, 1]);
  });

  it('packs greedily by bytes as well as by count', async () => {
    // Prepare
    respondWith();
    const batch = [400, 400, 400, 120, 120].map((kib, i) => itemOfEntrySize(i, kib * 1024));
    // Act
    const result = await publisher().publish(batch);
    // Assess
    expect(sentCalls().map((c) => c.length)).toEqual([2, 3]);
    expect(result.published).toEqual(positions(5));
  });

  it('makes an entry over the default 1 MiB limit poison without sending it, and sends one exactly at it', async () => {
    // Prepare
    respondWith();
    const atLimit = itemOfEntrySize(1, 1024 * 1024);
    const overLimit = itemOfEntrySize(2, 1024 * 1024 + 1);
    // Act
    const result = await publisher().publish([atLimit, overLimit]);
    // Assess
    expect(
      sentCalls()
        .flat()
        .map((e) => detailOf(e).eventId),
    ).toEqual([atLimit.envelope.eventId]);
    expect(result.published).toEqual([0]);
    expect(result.poison).toEqual([
      {
        index: 1,
        errorCode: 'EntryTooLarge',
        errorMessage: 'Entry is 1048577 bytes; PutEvents allows 1048576',
      },
    ]);
  });

  it('honours a lower configured byte limit (e.g. the old 256 KiB)', async () => {
    // Prepare
    respondWith();
    const fits = itemOfEntrySize(1, 256 * 1024);
    const big = itemOfEntrySize(2, 256 * 1024 + 1);
    // Act
    const result = await publisher({
      limits: { maxEntryBytes: 256 * 1024, maxCallBytes: 256 * 1024 },
    }).publish([fits, big]);
    // Assess
    expect(result.published).toEqual([0]);
    expect(
      sentCalls()
        .flat()
        .map((e) => detailOf(e).eventId),
    ).toEqual([fits.envelope.eventId]);
    expect(result.poison).toEqual([
      {
        index: 1,
        errorCode: 'EntryTooLarge',
        errorMessage: 'Entry is 262145 bytes; PutEvents allows 262144',
      },
    ]);
  });

  it('maps partial entry failures back to their items: throttling and internal errors retryable, bad detail poison', async () => {
    // Prepare
    const batch = items(10);
    respondWith({
      [batch[3]?.envelope.eventId ?? '']: 'ThrottlingException',
      [batch[5]?.envelope.eventId ?? '']: 'MalformedDetail',
      [batch[7]?.envelope.eventId ?? '']: 'InternalFailure',
    });
    // Act
    const result = await publisher().publish(batch);
    // Assess
    expect(result.published).toEqual(positions(10, [3, 5, 7]));
    expect(result.retryable).toEqual([
      { index: 3, errorCode: 'ThrottlingException', errorMessage: 'ThrottlingException for entry' },
      { index: 7, errorCode: 'InternalFailure', errorMessage: 'InternalFailure for entry' },
    ]);
    expect(result.poison).toEqual([
      { index: 5, errorCode: 'MalformedDetail', errorMessage: 'MalformedDetail for entry' },
    ]);
  });

  it('retries configuration errors (IAM, bus policy) and unknown codes, and parks invalid arguments', async () => {
    // Prepare
    const batch = items(4);
    respondWith({
      [batch[0]?.envelope.eventId ?? '']: 'AccessDeniedException',
      [batch[1]?.envelope.eventId ?? '']: 'NotAuthorizedForSourceException',
      [batch[2]?.envelope.eventId ?? '']: 'SomeFutureError',
      [batch[3]?.envelope.eventId ?? '']: 'InvalidArgument',
    });
    // Act
    const result = await publisher().publish(batch);
    // Assess
    expect(result.published).toEqual([]);
    expect(result.retryable.map((f) => [f.index, f.errorCode])).toEqual([
      [0, 'AccessDeniedException'],
      [1, 'NotAuthorizedForSourceException'],
      [2, 'SomeFutureError'],
    ]);
    expect(result.poison.map((f) => [f.index, f.errorCode])).toEqual([[3, 'InvalidArgument']]);
  });

  it('makes every item of a failed call retryable and leaves the other calls published', async () => {
    // Prepare
    const batch = items(25);
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    eventBridgeMock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => {
      const entries = input.Entries ?? [];
      if (detailOf(entries[0] ?? {}).eventId === batch[10]?.envelope.eventId) throw throttled;
      return { FailedEntryCount: 0, Entries: entries.map((_, i) => ({ EventId: `eb-${i}` })) };
    });
    // Act
    const result = await publisher().publish(batch);
    // Assess
    expect(result.published).toEqual([...positions(10), ...positions(25).slice(20)]);
    expect(result.retryable.map((f) => f.index)).toEqual(positions(25).slice(10, 20));
    expect(result.retryable[0]).toEqual({
      index: 10,
      errorCode: 'ThrottlingException',
      errorMessage: 'Rate exceeded',
    });
  });

  it('treats an entry missing from the response as retryable', async () => {
    // Prepare
    const batch = items(3);
    eventBridgeMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'eb-0' }] });
    // Act
    const result = await publisher().publish(batch);
    // Assess
    expect(result.published).toEqual([0]);
    expect(result.retryable.map((f) => [f.index, f.errorCode])).toEqual([
      [1, 'MissingResultEntry'],
      [2, 'MissingResultEntry'],
    ]);
  });

  it('retries only the failed entries in-process before handing them back', async () => {
    // Prepare
    const batch = items(5);
    let call = 0;
    eventBridgeMock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => {
      call++;
      const entries = (input.Entries ?? []).map((entry, i): PutEventsResultEntry => {
        const throttled =
          call === 1 &&
          [batch[1]?.envelope.eventId, batch[3]?.envelope.eventId].includes(detailOf(entry).eventId);
        return throttled ? { ErrorCode: 'ThrottlingException' } : { EventId: `eb-${i}` };
      });
      return { Entries: entries };
    });
    const metrics = fakeMetrics();
    // Act
    const result = await publisher({ retry: { attempts: 2, baseDelayMs: 1 }, metrics }).publish(batch);
    // Assess
    expect(sentCalls().map((c) => c.map((e) => detailOf(e).eventId))).toEqual([
      batch.map((r) => r.envelope.eventId),
      [batch[1]?.envelope.eventId, batch[3]?.envelope.eventId],
    ]);
    expect(result.published).toEqual(positions(5));
    expect(result.retryable).toEqual([]);
    expect(metrics.recorded.find((m) => m.name === 'PublishFailures')).toEqual({
      name: 'PublishFailures',
      unit: 'Count',
      value: 2,
    });
  });

  it('stops retrying after the configured attempts', async () => {
    // Prepare
    respondWith({ [outboxRecord(0).envelope.eventId]: 'ThrottlingException' });
    // Act
    const result = await publisher({ retry: { attempts: 2, baseDelayMs: 0 } }).publish(items(1));
    // Assess
    expect(sentCalls()).toHaveLength(3);
    expect(result).toEqual({
      published: [],
      retryable: [
        { index: 0, errorCode: 'ThrottlingException', errorMessage: 'ThrottlingException for entry' },
      ],
      poison: [],
    });
  });

  it('rejects before sending what EventBridge would reject: a DetailType over 128 characters', async () => {
    // Prepare
    respondWith();
    const ok = outboxRecord(1, { eventType: 'E'.repeat(128) });
    const tooLong = outboxRecord(2, { eventType: 'E'.repeat(129) });
    // Act
    const result = await publisher().publish([ok, tooLong]);
    // Assess
    expect(result.published).toEqual([0]);
    expect(result.poison).toEqual([
      {
        index: 1,
        errorCode: 'InvalidDetailType',
        errorMessage: 'eventType has 129 characters; DetailType allows 1 to 128',
      },
    ]);
    expect(sentCalls().flat()).toHaveLength(1);
  });

  it('check() answers what publish() would hold back, without sending anything', async () => {
    // Prepare
    respondWith();
    const records = [
      outboxRecord(1),
      outboxRecord(2, { eventType: 'E'.repeat(129) }),
      itemOfEntrySize(3, DEFAULT_PUT_EVENTS_LIMITS.maxEntryBytes + 1),
    ];
    // Act
    const checked = records.map((r) => publisher().check(r));
    const result = await publisher().publish(records);
    // Assess
    expect(checked.map((c) => c?.errorCode)).toEqual([undefined, 'InvalidDetailType', 'EntryTooLarge']);
    expect(result.poison.map(({ index, ...failure }) => [index, failure])).toEqual([
      [1, checked[1]],
      [2, checked[2]],
    ]);
    expect(eventBridgeMock.commandCalls(PutEventsCommand)).toHaveLength(1);
  });

  it('rejects detail that JSON cannot carry or EventBridge cannot process', async () => {
    // Prepare
    respondWith();
    let deep: unknown = 'leaf';
    for (let i = 0; i < 1000; i++) deep = [deep];
    const bad = [
      outboxRecord(1, { payload: { amount: 12n } }),
      outboxRecord(2, { payload: { tags: new Set(['a']) } }),
      outboxRecord(3, { payload: { huge: 2 ** 64 } }),
      outboxRecord(4, { payload: { deep } }),
    ];
    // Act
    const result = await publisher().publish(bad);
    // Assess
    expect(sentCalls()).toHaveLength(0);
    expect(result.poison.map((f) => [f.index, f.errorCode])).toEqual(
      positions(4).map((i) => [i, 'MalformedDetail']),
    );
    expect(result.poison.map((f) => f.errorMessage)).toEqual([
      'Detail contains a bigint value',
      'Detail contains a Set value',
      'Detail contains an integer outside the int64 range',
      'Detail contains JSON nested deeper than 1000 levels',
    ]);
  });

  it('publishes without a trace header that is too long, rather than losing the event', async () => {
    // Prepare
    respondWith();
    const record = outboxRecord(1, { traceHeader: `Root=${'1'.repeat(600)}` });
    // Act
    const result = await publisher().publish([record]);
    // Assess
    expect(result.published).toEqual([0]);
    expect(sentCalls().flat()[0]?.TraceHeader).toBeUndefined();
  });

  it('emits EventsPublished, PublishFailures, PoisonEvents and RelayLag with their units', async () => {
    // Prepare
    const batch = [
      outboxRecord(1, { occurredAt: '2026-11-22T10:00:00.000Z' }),
      outboxRecord(2, { occurredAt: '2026-11-22T10:00:01.000Z' }),
      outboxRecord(3),
      outboxRecord(4, { eventType: 'E'.repeat(200) }),
    ];
    respondWith({ [batch[2]?.envelope.eventId ?? '']: 'ThrottlingException' });
    const metrics = fakeMetrics();
    // Act
    await publisher({ metrics }).publish(batch);
    // Assess
    expect(metrics.recorded).toEqual([
      { name: 'RelayLag', unit: 'Milliseconds', value: 2500 },
      { name: 'RelayLag', unit: 'Milliseconds', value: 1500 },
      { name: 'EventsPublished', unit: 'Count', value: 2 },
      { name: 'PublishFailures', unit: 'Count', value: 1 },
      { name: 'PoisonEvents', unit: 'Count', value: 1 },
    ]);
  });

  it('refuses a source EventBridge reserves or cannot take', () => {
    expect(() => publisher({ source: 'aws.orders' })).toThrow(/aws\./);
    expect(() => publisher({ source: '' })).toThrow(/1 to 256/);
    expect(() => publisher({ source: 's'.repeat(257) })).toThrow(/1 to 256/);
  });

  it('reports input positions, not positions in the calls, when poison is held back before sending', async () => {
    // Prepare
    const batch = [
      outboxRecord(0, { eventType: 'E'.repeat(129) }),
      outboxRecord(1),
      outboxRecord(2),
      outboxRecord(3, { payload: { amount: 1n } }),
      outboxRecord(4),
    ];
    respondWith({ [batch[2]?.envelope.eventId ?? '']: 'ThrottlingException' });
    // Act
    const result = await publisher().publish(batch);
    // Assess
    expect(sentCalls().map((c) => c.map((e) => detailOf(e).eventId))).toEqual([
      [1, 2, 4].map((i) => batch[i]?.envelope.eventId),
    ]);
    expect(result.published).toEqual([1, 4]);
    expect(result.retryable.map((f) => f.index)).toEqual([2]);
    expect(result.poison.map((f) => [f.index, f.errorCode])).toEqual([
      [0, 'InvalidDetailType'],
      [3, 'MalformedDetail'],
    ]);
  });

  it('publishes nothing and calls nothing for an empty batch', async () => {
    const result = await publisher().publish([]);
    expect(result).toEqual({ published: [], retryable: [], poison: [] });
    expect(sentCalls()).toHaveLength(0);
  });
});
