import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandInput,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { putEventsEntrySize } from '../../../lambdas/outbox/entry-size';
import { OutboxPublisher, type OutboxPublisherDeps } from '../../../lambdas/outbox/publisher';
import { type OutboxItem, toEnvelope } from '../../../lambdas/shared/outbox-event';
import { fakeMetrics, outboxItem } from './support';

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

const items = (count: number, from = 0): OutboxItem[] =>
  Array.from({ length: count }, (_, i) => outboxItem(from + i));

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

/** An item whose entry is exactly `bytes` long as EventBridge counts it. */
const itemOfEntrySize = (n: number, bytes: number): OutboxItem => {
  const base = outboxItem(n, { payload: { pad: '' } });
  const baseSize = putEventsEntrySize({
    Source: 'orders',
    DetailType: base.eventType,
    Detail: JSON.stringify(toEnvelope(base)),
  });
  return outboxItem(n, { payload: { pad: 'x'.repeat(bytes - baseSize) } });
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
    expect(calls.flat().map((e) => detailOf(e).eventId)).toEqual(batch.map((i) => i.eventId));
    expect(result.published).toEqual(batch);
    expect(result.retryable).toEqual([]);
    expect(result.poison).toEqual([]);
  });

  it('builds each entry from the item: Source, DetailType, envelope as Detail, bus, trace header', async () => {
    // Prepare
    respondWith();
    const traceHeader = 'Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1';
    const item = outboxItem(1, { traceHeader, correlationId: 'req-1' });
    // Act
    await publisher().publish([item]);
    // Assess
    const [entry] = sentCalls().flat();
    expect(entry).toEqual({
      Source: 'orders',
      DetailType: 'OrderPlaced',
      Detail: JSON.stringify(toEnvelope(item)),
      EventBusName: 'orders-bus',
      TraceHeader: traceHeader,
    });
    // Keys, TTL and tracking attributes stay in the table.
    expect(Object.keys(JSON.parse(entry?.Detail ?? '{}'))).not.toContain('pendingShard');
    expect(Object.keys(JSON.parse(entry?.Detail ?? '{}'))).not.toContain('PK');
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
    expect(result.published).toHaveLength(5);
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
    ).toEqual([atLimit.eventId]);
    expect(result.published).toEqual([atLimit]);
    expect(result.poison).toEqual([
      {
        item: overLimit,
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
    expect(result.published).toEqual([fits]);
    expect(result.poison.map((p) => p.errorCode)).toEqual(['EntryTooLarge']);
  });

  it('maps partial entry failures back to their items: throttling and internal errors retryable, bad detail poison', async () => {
    // Prepare
    const batch = items(10);
    respondWith({
      [batch[3]?.eventId ?? '']: 'ThrottlingException',
      [batch[5]?.eventId ?? '']: 'MalformedDetail',
      [batch[7]?.eventId ?? '']: 'InternalFailure',
    });
    // Act
    const result = await publisher().publish(batch);
    // Assess
    expect(result.published).toEqual(batch.filter((_, i) => ![3, 5, 7].includes(i)));
    expect(result.retryable.map((f) => [f.item, f.errorCode])).toEqual([
      [batch[3], 'ThrottlingException'],
      [batch[7], 'InternalFailure'],
    ]);
    expect(result.poison.map((f) => [f.item, f.errorCode])).toEqual([[batch[5], 'MalformedDetail']]);
  });

  it('retries configuration errors (IAM, bus policy) and unknown codes, and parks invalid arguments', async () => {
    // Prepare
    const batch = items(4);
    respondWith({
      [batch[0]?.eventId ?? '']: 'AccessDeniedException',
      [batch[1]?.eventId ?? '']: 'NotAuthorizedForSourceException',
      [batch[2]?.eventId ?? '']: 'SomeFutureError',
      [batch[3]?.eventId ?? '']: 'InvalidArgument',
    });
    // Act
    const result = await publisher().publish(batch);
    // Assess
    expect(result.retryable.map((f) => f.item)).toEqual(batch.slice(0, 3));
    expect(result.poison.map((f) => f.item)).toEqual([batch[3]]);
  });

  it('makes every item of a failed call retryable and leaves the other calls published', async () => {
    // Prepare
    const batch = items(25);
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    eventBridgeMock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => {
      const entries = input.Entries ?? [];
      if (detailOf(entries[0] ?? {}).eventId === batch[10]?.eventId) throw throttled;
      return { FailedEntryCount: 0, Entries: entries.map((_, i) => ({ EventId: `eb-${i}` })) };
    });
    // Act
    const result = await publisher().publish(batch);
    // Assess
    expect(result.published).toEqual([...batch.slice(0, 10), ...batch.slice(20)]);
    expect(result.retryable.map((f) => f.item)).toEqual(batch.slice(10, 20));
    expect(result.retryable[0]).toMatchObject({
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
    expect(result.published).toEqual([batch[0]]);
    expect(result.retryable.map((f) => [f.item, f.errorCode])).toEqual([
      [batch[1], 'MissingResultEntry'],
      [batch[2], 'MissingResultEntry'],
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
          call === 1 && [batch[1]?.eventId, batch[3]?.eventId].includes(detailOf(entry).eventId);
        return throttled ? { ErrorCode: 'ThrottlingException' } : { EventId: `eb-${i}` };
      });
      return { Entries: entries };
    });
    const metrics = fakeMetrics();
    // Act
    const result = await publisher({ retry: { attempts: 2, baseDelayMs: 1 }, metrics }).publish(batch);
    // Assess
    expect(sentCalls().map((c) => c.map((e) => detailOf(e).eventId))).toEqual([
      batch.map((i) => i.eventId),
      [batch[1]?.eventId, batch[3]?.eventId],
    ]);
    expect(result.published).toEqual(batch);
    expect(metrics.recorded.find((m) => m.name === 'PublishFailures')).toEqual({
      name: 'PublishFailures',
      unit: 'Count',
      value: 2,
    });
  });

  it('stops retrying after the configured attempts', async () => {
    // Prepare
    respondWith({ [outboxItem(0).eventId]: 'ThrottlingException' });
    // Act
    const result = await publisher({ retry: { attempts: 2, baseDelayMs: 0 } }).publish(items(1));
    // Assess
    expect(sentCalls()).toHaveLength(3);
    expect(result.retryable).toHaveLength(1);
  });

  it('rejects before sending what EventBridge would reject: a DetailType over 128 characters', async () => {
    // Prepare
    respondWith();
    const ok = outboxItem(1, { eventType: 'E'.repeat(128) });
    const tooLong = outboxItem(2, { eventType: 'E'.repeat(129) });
    // Act
    const result = await publisher().publish([ok, tooLong]);
    // Assess
    expect(result.published).toEqual([ok]);
    expect(result.poison).toEqual([
      {
        item: tooLong,
        errorCode: 'InvalidDetailType',
        errorMessage: 'eventType has 129 characters; DetailType allows 1 to 128',
      },
    ]);
    expect(sentCalls().flat()).toHaveLength(1);
  });

  it('rejects detail that JSON cannot carry or EventBridge cannot process', async () => {
    // Prepare
    respondWith();
    let deep: unknown = 'leaf';
    for (let i = 0; i < 1000; i++) deep = [deep];
    const bad = [
      outboxItem(1, { payload: { amount: 12n } }),
      outboxItem(2, { payload: { tags: new Set(['a']) } }),
      outboxItem(3, { payload: { huge: 2 ** 64 } }),
      outboxItem(4, { payload: { deep } }),
    ];
    // Act
    const result = await publisher().publish(bad);
    // Assess
    expect(sentCalls()).toHaveLength(0);
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
    const item = outboxItem(1, { traceHeader: `Root=${'1'.repeat(600)}` });
    // Act
    const result = await publisher().publish([item]);
    // Assess
    expect(result.published).toEqual([item]);
    expect(sentCalls().flat()[0]?.TraceHeader).toBeUndefined();
  });

  it('emits EventsPublished, PublishFailures, PoisonEvents and RelayLag with their units', async () => {
    // Prepare
    const batch = [
      outboxItem(1, { occurredAt: '2026-11-22T10:00:00.000Z' }),
      outboxItem(2, { occurredAt: '2026-11-22T10:00:01.000Z' }),
      outboxItem(3),
      outboxItem(4, { eventType: 'E'.repeat(200) }),
    ];
    respondWith({ [batch[2]?.eventId ?? '']: 'ThrottlingException' });
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

  it('publishes nothing and calls nothing for an empty batch', async () => {
    const result = await publisher().publish([]);
    expect(result).toEqual({ published: [], retryable: [], poison: [] });
    expect(sentCalls()).toHaveLength(0);
  });
});
