import { SendMessageBatchCommand, type SendMessageBatchCommandInput, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { PoisonQueue, type PoisonRecord, poisonMessageSchema } from '../../../src/engine/poison-queue';
import { keyOf, OTHER_LAYOUT, outboxItem, recordOf } from '../../support/unit';

const sqsMock = mockClient(SQSClient);
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/relay-poison';
const NOW = new Date('2026-11-22T10:00:05.000Z');

const queue = (maxMessageBytes?: number) =>
  new PoisonQueue({
    sqs: new SQSClient({}),
    queueUrl: QUEUE_URL,
    now: () => NOW,
    ...(maxMessageBytes ? { maxMessageBytes } : {}),
  });

const poisonRecord = (n: number, overrides: Partial<PoisonRecord> = {}): PoisonRecord => {
  const item = outboxItem(n);
  return {
    errorCode: 'EntryTooLarge',
    reason: 'Entry is 300000 bytes; PutEvents allows 262144',
    key: keyOf(item),
    envelope: recordOf(item).envelope,
    item,
    stream: { eventID: `event-${n}`, sequenceNumber: `4${n}` },
    ...overrides,
  };
};

const sentBatches = (): SendMessageBatchCommandInput[] =>
  sqsMock.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input as SendMessageBatchCommandInput);

const acceptAll = () =>
  sqsMock.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => ({
    Successful: (input.Entries ?? []).map((e) => ({
      Id: e.Id,
      MessageId: `msg-${e.Id}`,
      MD5OfMessageBody: 'x',
    })),
    Failed: [],
  }));

describe('PoisonQueue', () => {
  beforeEach(() => {
    sqsMock.reset();
  });

  it('sends a message with the full item, the reason, the error code and the stream position', async () => {
    // Prepare
    acceptAll();
    const record = poisonRecord(1);
    // Act
    const result = await queue().send([record]);
    // Assess
    expect(result).toEqual({ sent: [record], failed: [] });
    const [batch] = sentBatches();
    expect(batch?.QueueUrl).toBe(QUEUE_URL);
    const message = poisonMessageSchema.parse(JSON.parse(batch?.Entries?.[0]?.MessageBody ?? '{}'));
    expect(message).toEqual({
      kind: 'outbox-poison',
      version: 1,
      failedAt: '2026-11-22T10:00:05.000Z',
      errorCode: 'EntryTooLarge',
      reason: record.reason,
      key: record.key,
      eventId: record.envelope?.eventId,
      eventType: 'OrderPlaced',
      aggregateId: record.envelope?.aggregateId,
      stream: { eventID: 'event-1', sequenceNumber: '41' },
      item: JSON.parse(JSON.stringify(record.item)),
    });
  });

  it("keeps the key under the layout's own attribute names, and no event fields for an item that is not one", async () => {
    // Prepare
    acceptAll();
    const key = keyOf(outboxItem(1, {}, OTHER_LAYOUT), OTHER_LAYOUT);
    const image = { pk: { S: key.pk }, sk: { S: key.sk } };
    // Act
    await queue().send([
      { errorCode: 'MalformedItem', reason: 'Not a valid outbox item: eventId: required', key, image },
    ]);
    // Assess
    const message = poisonMessageSchema.parse(
      JSON.parse(sentBatches()[0]?.Entries?.[0]?.MessageBody ?? '{}'),
    );
    expect(message).toEqual({
      kind: 'outbox-poison',
      version: 1,
      failedAt: '2026-11-22T10:00:05.000Z',
      errorCode: 'MalformedItem',
      reason: 'Not a valid outbox item: eventId: required',
      key: { pk: 'ORDER#01JORDER000000000000000001', sk: 'EVT#0000000001' },
      image,
    });
  });

  it('sends at most 10 messages per call', async () => {
    // Prepare
    acceptAll();
    // Act
    const result = await queue().send(Array.from({ length: 23 }, (_, i) => poisonRecord(i)));
    // Assess
    expect(sentBatches().map((b) => b.Entries?.length)).toEqual([10, 10, 3]);
    expect(result.sent).toHaveLength(23);
  });

  it('keeps each call within the size limit', async () => {
    // Prepare
    acceptAll();
    const records = Array.from({ length: 4 }, (_, i) =>
      poisonRecord(i, { item: outboxItem(i, { payload: { pad: 'x'.repeat(1000) } }) }),
    );
    // Act
    await queue(4000).send(records);
    // Assess
    expect(sentBatches().map((b) => b.Entries?.length)).toEqual([2, 2]);
  });

  it('leaves the content out of a message that would be too large, keeping the key to find it', async () => {
    // Prepare
    acceptAll();
    const record = poisonRecord(1, { item: outboxItem(1, { payload: { pad: 'x'.repeat(300 * 1024) } }) });
    // Act
    await queue().send([record]);
    // Assess
    const body = sentBatches()[0]?.Entries?.[0]?.MessageBody ?? '';
    const message = poisonMessageSchema.parse(JSON.parse(body));
    expect(Buffer.byteLength(body)).toBeLessThan(2048);
    expect(message.contentOmitted).toBe(true);
    expect(message.item).toBeUndefined();
    expect(message.key).toEqual(record.key);
    expect(message.eventId).toBe(record.envelope?.eventId);
    expect(message.eventId).toBe(outboxItem(1).eventId);
  });

  it('carries a raw image and values JSON has no form for, in a body SQS accepts', async () => {
    // Prepare
    acceptAll();
    const record = poisonRecord(1, {
      item: outboxItem(1, { payload: { big: 12345678901234567890n, odd: 'a\uFFFFb' } }),
      image: { PK: { S: 'ORDER#1' } },
    });
    // Act
    await queue().send([record]);
    // Assess
    const body = sentBatches()[0]?.Entries?.[0]?.MessageBody ?? '';
    expect(body).not.toMatch(/\uFFFF/);
    const message = JSON.parse(body);
    expect(message.item.payload).toEqual({ big: '12345678901234567890', odd: 'a\uFFFFb' });
    expect(message.image).toEqual({ PK: { S: 'ORDER#1' } });
  });

  it('reports the messages SQS rejected, and all of a call that failed', async () => {
    // Prepare
    sqsMock
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [{ Id: 'm0', MessageId: 'a', MD5OfMessageBody: 'x' }],
        Failed: [{ Id: 'm1', SenderFault: false, Code: 'InternalError', Message: 'try again' }],
      })
      .rejectsOnce(Object.assign(new Error('down'), { name: 'ServiceUnavailable' }));
    const records = Array.from({ length: 12 }, (_, i) => poisonRecord(i));
    // Act
    const result = await queue().send(records);
    // Assess
    expect(result.sent).toEqual(records.slice(0, 1));
    expect(result.failed.map((f) => [f.record, f.errorCode])).toEqual([
      [records[1], 'InternalError'],
      ...records.slice(2, 10).map((r) => [r, 'MissingResultEntry']),
      [records[10], 'ServiceUnavailable'],
      [records[11], 'ServiceUnavailable'],
    ]);
  });
});
